/**
 * A few Replicas of one partition in one process, over real PartitionLogs in temporary
 * directories, connected by an in-memory network that copies every message's bytes (as a wire
 * would) and can drop traffic between chosen nodes. Ticks come from a real timer.
 */
import { mkdtemp, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Replica, type ReplicaOptions } from '../../broker/partition/replica.js';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { nodeFileWriter, type FileWriter, type WritableFile } from '../../broker/storage/file-writer.js';
import { CLEAN_SHUTDOWN_FILE } from '../../broker/storage/partition-log.js';
import { resolveLogConfig, type LogConfig } from '../../broker/storage/log-config.js';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { encodeBatch, iterateRecords } from '../../record/record-batch.js';
import { Role, type Message, type NodeId, type RaftConfig } from '../../raft/types.js';
import { seededUniformRandom } from '../fixtures/test-random.js';

export const TICK_MS = 10;

/**
 * Raft settings for tests: ticks of TICK_MS, an election timeout of 300-600 ms, long enough that a
 * slow fdatasync on a loaded machine (which delays a leader's heartbeats until its Ready is
 * written) does not depose a healthy leader mid-test.
 */
export function raftSettings(seed: number): Omit<RaftConfig, 'id'> {
  return {
    electionTicks: 30,
    heartbeatTicks: 3,
    preVote: true,
    checkQuorum: true,
    maxMessageBytes: 256 * 1024,
    maxEntriesPerMessage: 64,
    maxInflightMessages: 16,
    maxInflightBytes: 8 * 1024 * 1024,
    maxUncommittedBytes: 64 * 1024 * 1024,
    random: seededUniformRandom(seed),
  };
}

/** A batch of `count` records whose values are `${tag}-${i}`. */
export function makeBatch(tag: string, count = 3, valueBytes = 0): Buffer {
  const records = [];
  for (let i = 0; i < count; i++) {
    const text = `${tag}-${i}`;
    records.push({ key: null, value: valueBytes > 0 ? Buffer.concat([Buffer.from(text), Buffer.alloc(valueBytes)]) : Buffer.from(text) });
  }
  return encodeBatch(records, { nowMs: 1_700_000_000_000 });
}

/** The record values (as text, up to the first zero byte) of the data batches in `bytes`; control batches skipped. */
export function valuesOf(bytes: Buffer): string[] {
  const values: string[] = [];
  for (const record of iterateRecords(bytes)) {
    if (record.value === null) continue;
    const zero = record.value.indexOf(0);
    values.push(record.value.subarray(0, zero < 0 ? record.value.length : zero).toString());
  }
  return values;
}

export class ReplicaCluster {
  readonly replicas = new Map<NodeId, Replica>();
  private readonly blocked = new Set<string>();
  /** Nodes whose incoming entries get one byte flipped (damage on the way). */
  readonly corruptTo = new Set<NodeId>();
  private readonly files = new FileHandleCache(256);
  private timer: NodeJS.Timeout | undefined;
  messagesDelivered = 0;
  /**
   * Every high watermark a node published, with the term of the offset just below it: committed
   * data never changes, so the final log must hold the same term there (same index and term means
   * the same entry). See checkCommittedNeverChanged.
   */
  readonly committedSamples: Array<{ id: NodeId; offset: number; term: number }> = [];
  /** fdatasyncs of segment files (.log), per node, counted below the storage API. */
  readonly logSyncs = new Map<NodeId, number>();
  /** While a node has an entry here, each of its segment fdatasyncs first waits for what it returns (a slow disk). */
  readonly syncHolds = new Map<NodeId, () => Promise<void>>();

  /** Every node ever opened (isolate cuts them all off). */
  private readonly known = new Set<NodeId>();

  private constructor(
    readonly root: string,
    private readonly raftOverrides: Partial<Omit<RaftConfig, 'id' | 'random'>>,
    /** The group's first voters: every node, including ones that join later, bootstraps from them. */
    readonly initialVoters: readonly NodeId[],
    readonly logConfig: LogConfig,
  ) {}

  static async start(
    ids: readonly NodeId[],
    logOverrides: Partial<LogConfig> = {},
    raftOverrides: Partial<Omit<RaftConfig, 'id' | 'random'>> = {},
  ): Promise<ReplicaCluster> {
    const root = await mkdtemp(join(tmpdir(), 'brook-replica-'));
    const cluster = new ReplicaCluster(root, raftOverrides, ids, resolveLogConfig(logOverrides));
    for (const id of ids) await cluster.open(id);
    cluster.timer = setInterval(() => {
      for (const replica of cluster.replicas.values()) replica.tick();
    }, TICK_MS);
    return cluster;
  }

  dir(id: NodeId): string {
    return join(this.root, `node-${id}`);
  }

  get(id: NodeId): Replica {
    const replica = this.replicas.get(id);
    if (replica === undefined) throw new Error(`node ${id} is down`);
    return replica;
  }

  async open(id: NodeId): Promise<Replica> {
    const options: ReplicaOptions = {
      dir: this.dir(id),
      groupId: 'topic-0',
      nodeId: id,
      initialConf: { voters: [...this.initialVoters], learners: [] },
      logConfig: this.logConfig,
      raftConfig: { ...raftSettings(id * 7919), ...this.raftOverrides },
      clock: { nowMs: () => Date.now() },
      files: this.files,
      writer: this.countingWriter(id),
      send: (message) => this.deliver(message),
    };
    const replica = await Replica.open(options);
    let sampled = replica.highWatermark;
    replica.onChange(() => {
      const highWatermark = replica.highWatermark;
      if (highWatermark === sampled) return;
      sampled = highWatermark;
      const term = replica.log.epochAt(highWatermark - 1);
      if (term !== undefined) this.committedSamples.push({ id, offset: highWatermark - 1, term });
    });
    this.known.add(id);
    this.replicas.set(id, replica);
    return replica;
  }

  /** Messages between `a` and `b` are dropped, both ways. */
  cut(a: NodeId, b: NodeId): void {
    this.blocked.add(`${a}>${b}`);
    this.blocked.add(`${b}>${a}`);
  }

  /** `id` can reach nobody and nobody can reach it. */
  isolate(id: NodeId): void {
    for (const other of this.known) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.blocked.clear();
  }

  /**
   * Power loss of `id`: from now on its messages are dropped, and its segment files are cut to the
   * lengths known fdatasynced at this moment (what a power loss keeps); the state file is written
   * atomically with a sync, so it is kept as the last completed write left it.
   */
  async crash(id: NodeId): Promise<void> {
    const replica = this.get(id);
    this.replicas.delete(id);
    const synced = replica.log.fsyncedLengths();
    await replica.close({ flushState: false });
    for (const [name, length] of synced) await truncate(join(this.dir(id), name), length);
    await unlink(join(this.dir(id), CLEAN_SHUTDOWN_FILE)).catch(() => undefined);
  }

  /** A clean stop: state and log flushed. */
  async stop(id: NodeId): Promise<void> {
    const replica = this.get(id);
    this.replicas.delete(id);
    await replica.close();
  }

  /** The single leader among live nodes that every live node agrees on, if any. */
  leader(): Replica | undefined {
    const leaders = [...this.replicas.values()].filter((replica) => replica.role === Role.Leader);
    if (leaders.length !== 1) return undefined;
    const leader = leaders[0];
    for (const replica of this.replicas.values()) if (replica.leader !== leader.nodeId) return undefined;
    return leader;
  }

  async waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  waitForLeader(timeoutMs = 10_000): Promise<Replica> {
    return this.waitFor('a leader', () => this.leader(), timeoutMs);
  }

  /** Waits until every live node's high watermark reached the leader's log end (all committed, all known). */
  async waitForConvergence(timeoutMs = 10_000): Promise<number> {
    return this.waitFor('convergence', () => {
      const leader = this.leader();
      if (leader === undefined) return undefined;
      const end = leader.logEndOffset;
      for (const replica of this.replicas.values()) if (replica.highWatermark !== end || replica.logEndOffset !== end) return undefined;
      return end;
    }, timeoutMs);
  }

  /** Every committed byte of a node's log, from its log start to its high watermark. */
  async committedBytes(id: NodeId, from?: number): Promise<Buffer> {
    const replica = this.get(id);
    const parts: Buffer[] = [];
    let offset = from ?? replica.logStartOffset;
    while (offset < replica.highWatermark) {
      const bytes = await replica.read(offset, 1024 * 1024);
      if (bytes.length === 0) break;
      parts.push(bytes);
      offset = lastOffsetAfter(bytes);
    }
    return Buffer.concat(parts);
  }

  /** Asserts that every committed offset ever published still has the same term in `id`'s log. */
  checkCommittedNeverChanged(id: NodeId): number {
    const log = this.get(id).log;
    let checked = 0;
    for (const sample of this.committedSamples) {
      if (sample.offset < log.logStartOffset || sample.offset >= log.highWatermark) continue;
      const term = log.epochAt(sample.offset);
      if (term !== sample.term) throw new Error(`node ${sample.id} published offset ${sample.offset} of term ${sample.term} as committed; node ${id} has term ${term} there`);
      checked++;
    }
    return checked;
  }

  /** The base offset of the first batch of a node's log that starts at or after `offset`. */
  async batchStartAtOrAfter(id: NodeId, offset: number): Promise<number> {
    const replica = this.get(id);
    let at = Math.max(offset, replica.logStartOffset);
    while (at < replica.highWatermark) {
      const bytes = await replica.read(at, 1);
      if (bytes.length === 0) break;
      const base = baseOffsetNumberAt(bytes, 0);
      if (base >= offset) return base;
      at = base + lastOffsetDeltaAt(bytes, 0) + 1;
    }
    return at;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const id of [...this.replicas.keys()]) await this.stop(id);
    await rm(this.root, { recursive: true, force: true });
  }

  private countingWriter(id: NodeId): FileWriter {
    const count = (): void => {
      this.logSyncs.set(id, (this.logSyncs.get(id) ?? 0) + 1);
    };
    const holds = this.syncHolds;
    return {
      async open(path: string): Promise<WritableFile> {
        const file = await nodeFileWriter.open(path);
        if (!path.endsWith('.log')) return file;
        return {
          path: file.path,
          writeAll: (buffers, positionBytes) => file.writeAll(buffers, positionBytes),
          datasync: async () => {
            await holds.get(id)?.();
            count();
            await file.datasync();
          },
          truncate: (lengthBytes) => file.truncate(lengthBytes),
          sizeBytes: () => file.sizeBytes(),
          close: () => file.close(),
        };
      },
      syncDirectory: (dir) => nodeFileWriter.syncDirectory(dir),
    };
  }

  /** Like the peer transport: false when the message was dropped at once (link cut, peer down). */
  private deliver(message: Message): boolean {
    if (this.blocked.has(`${message.from}>${message.to}`)) return false;
    if (!this.replicas.has(message.from) || !this.replicas.has(message.to)) return false;
    const copy: Message = { ...message, entries: message.entries.map((entry) => ({ ...entry, data: Buffer.from(entry.data) })) };
    if (this.corruptTo.has(message.to)) {
      for (const entry of copy.entries) if (entry.data.length > 0) entry.data[entry.data.length - 1] ^= 0xff;
    }
    setImmediate(() => {
      if (this.blocked.has(`${message.from}>${message.to}`)) return;
      const target = this.replicas.get(message.to);
      if (target === undefined) return;
      this.messagesDelivered += 1;
      target.receive(copy);
    });
    return true;
  }
}

function lastOffsetAfter(bytes: Buffer): number {
  let next = 0;
  for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
    next = baseOffsetNumberAt(bytes, position) + lastOffsetDeltaAt(bytes, position) + 1;
  }
  return next;
}
