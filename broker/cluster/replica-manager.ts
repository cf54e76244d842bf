/**
 * The partition replicas of a cluster broker. From the cluster metadata (the controller's store)
 * it opens a Raft replica for every partition assigned here, closes and discards those moved away
 * or deleted, and reopens those whose topic configuration changed or that failed. It owns the
 * broker's one Raft clock (every group registered on the transport ticks from it, the
 * controller's replica too), drives reassignments of the partitions it leads, and hands the
 * partitions it does not prefer to lead back to their preferred replicas.
 *
 * Directory layout: `<dir>/<topic>-<partition>-<groupId>/` per replica (segments + raft-state);
 * removed replicas are renamed into `<trashDir>/` and deleted from there in the background.
 */
import { stat } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import { CONTROLLER_GROUP, type ClusterPartition, type ClusterTopic, type LeaderUpdate } from '../controller/controller-types.js';
import { Replica } from '../partition/replica.js';
import type { FileHandleCache } from '../storage/file-handle-cache.js';
import type { FileWriter } from '../storage/file-writer.js';
import type { Clock } from '../storage/partition-log.js';
import { topicLogConfig } from '../topics/topic-config.js';
import type { GroupIdRegistry } from '../transport/group-id-registry.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { Role, type NodeId, type RaftConfig } from '../../raft/types.js';
import { LeaderBalancer } from './leader-balancer.js';
import { PeerLiveness } from './peer-liveness.js';
import { RaftTicker } from './raft-ticker.js';
import { ReassignmentDriver } from './reassignment.js';
import { ReplicatedPartition } from './replicated-partition.js';
import { ByteRateLimiter } from '../storage/byte-rate-limiter.js';

/** Replicas opened (or closed) at once by one reconcile: each open recovers a log and reads its state. */
export const REPLICA_OPEN_PARALLELISM = 16;
/** After a replica failed to open, the next reconcile attempt comes this much later at the earliest. */
export const REPLICA_REOPEN_RETRY_MS = 1_000;
/**
 * Ticks without a frame from a peer broker after which it counts as silent and the quiesced groups
 * led here wake: half an election timeout, so that a quiesced leader cut off from its quorum wakes
 * in time to step down (by check-quorum) about one election timeout after it last heard from it.
 * The followers of a silent leader wake after a whole election timeout, with their election timers
 * counted from its last frame, so they campaign when they would have without quiescence.
 */
export function peerSilentTicksMax(electionTicks: number): number {
  return Math.max(2, Math.floor(electionTicks / 2));
}
/** Reassignment steps run every this many ticks (a step costs a status() per reassigning partition led here). */
export const REASSIGNMENT_STEP_TICKS = 2;

export interface ReplicaManagerOptions {
  readonly nodeId: NodeId;
  /** `<data.dir>/replicas`: one directory per replica. */
  readonly dir: string;
  /** `<data.dir>/trash`: removed replicas wait here for their background deletion. */
  readonly trashDir: string;
  /** Every Raft group of the broker by its transport number (the controller registers its own). */
  readonly groups: GroupIdRegistry<Replica>;
  readonly transport: Pick<PeerTransport, 'send' | 'flushTick' | 'keepAlive' | 'framesReceivedFrom'>;
  readonly raftConfig: Omit<RaftConfig, 'id' | 'applied'>;
  readonly tickMs: number;
  readonly leaderBalanceIntervalMs: number;
  /** Topic defaults (topicLogConfig) and retention.check.interval.ms. */
  readonly config: BrokerConfig;
  readonly clock: Clock;
  readonly files: FileHandleCache;
  readonly logger: Logger;
  /** The cluster metadata's topics (the controller's store); read on every reconcile. */
  readonly topics: () => readonly ClusterTopic[];
  /** Whether the metadata considers a broker live (registered and not fenced). */
  readonly brokerLive: (id: number) => boolean;
  /** A broker's client address (host:port) for leader hints; undefined when unknown. */
  readonly brokerAddress: (id: number) => string | undefined;
  /** Tells the metadata that a reassignment led here finished (replicas := `replicas`). */
  readonly reassignmentDone: (groupId: number, replicas: readonly number[]) => Promise<void>;
  /** Called (at most once per tick) after this broker's leaderships changed. */
  readonly onLeadershipChange: () => void;
  /** Where the replicas' logs and state files write; tests wrap it to inject disk failures. */
  readonly writer?: FileWriter;
  /**
   * Whether idle partition groups quiesce (raft/README.md, "Quiescence"; broker/cluster/README.md):
   * no heartbeats and no election timers until something happens. Default true.
   */
  readonly quiesceIdleGroups?: boolean;
}

/** A replica open on this broker. */
interface HostedReplica {
  readonly groupId: number;
  readonly topic: string;
  readonly index: number;
  readonly dirName: string;
  /** The topic configs the replica was opened with (a change reopens it). */
  readonly configsKey: string;
  readonly replica: Replica;
  readonly partition: ReplicatedPartition;
  /** The partition's metadata as of the last reconcile. */
  assignment: ClusterPartition;
  lastRole: Role;
  lastLeader: NodeId;
  failureReported: boolean;
}

/** A replica the metadata assigns to this broker. */
interface WantedReplica {
  readonly topic: ClusterTopic;
  readonly partition: ClusterPartition;
  readonly dirName: string;
  readonly configsKey: string;
}

export class ReplicaManager {
  private readonly hosted = new Map<number, HostedReplica>();
  private readonly byPartition = new Map<string, HostedReplica>();
  /** Hosted replicas whose partition has a reassignment target. */
  private readonly reassigning = new Set<HostedReplica>();
  /** Hosted replicas whose partition prefers this broker as leader (they campaign first at a cold start). */
  private readonly preferredHere = new Set<Replica>();
  private readonly ticker: RaftTicker;
  /** Which peer brokers still answer: quiesced groups rely on it instead of their own heartbeats. */
  private readonly liveness: PeerLiveness;
  /** ticker.ticks when liveness last ticked (afterTick also runs for ticks deferred for the disk). */
  private livenessTicks = 0;
  private readonly partitionRaftConfig: Omit<RaftConfig, 'id' | 'applied'>;
  private readonly reassignments: ReassignmentDriver;
  private readonly balancer: LeaderBalancer;
  private balanceTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private reconcileWanted = false;
  private firstReconcileDone = false;
  /** Bumped when `hosted` changes (ClusterTopics caches views of the partitions held here). */
  private hostedVersion = 0;
  private retentionRunning = false;
  private closed = false;
  private readonly deletions = new Set<Promise<void>>();
  /** Shared by the background log checks of every replica after an unclean shutdown. */
  private readonly scrubLimiter: ByteRateLimiter;

  constructor(private readonly options: ReplicaManagerOptions) {
    this.scrubLimiter = new ByteRateLimiter(options.config.scrubBytesPerSecond);
    this.partitionRaftConfig = { ...options.raftConfig, quiesceWhenIdle: options.quiesceIdleGroups ?? true };
    this.liveness = new PeerLiveness({
      silentTicksMax: peerSilentTicksMax(options.raftConfig.electionTicks),
      framesReceivedFrom: (peer) => options.transport.framesReceivedFrom(peer),
      onSilent: (peer, ticksSinceHeard, streamLost) => this.wakeGroupsOf(peer, ticksSinceHeard, streamLost),
    });
    this.ticker = new RaftTicker({
      groups: options.groups,
      transport: options.transport,
      tickMs: options.tickMs,
      priorityGroupIds: [CONTROLLER_GROUP],
      preferred: (group) => this.preferredHere.has(group as Replica),
      // The callback form: no promise per tick.
      ioProbe: (done) => stat(options.dir, () => done()),
      afterTick: () => this.afterTick(),
    });
    this.reassignments = new ReassignmentDriver({ nodeId: options.nodeId, clock: options.clock, logger: options.logger, reassignmentDone: options.reassignmentDone });
    this.balancer = new LeaderBalancer({ nodeId: options.nodeId, brokerLive: options.brokerLive });
  }

  /**
   * Starts the broker's Raft clock (every tickMs: tick every group in `groups`, then flush the
   * transport's heartbeats), leader balancing and retention. Timers do not keep the process alive.
   */
  start(): void {
    if (this.closed) return;
    this.ticker.start();
    if (this.balanceTimer === undefined) {
      this.balanceTimer = setInterval(() => this.balanceLeaders(), this.options.leaderBalanceIntervalMs);
      this.balanceTimer.unref();
    }
    if (this.retentionTimer === undefined) {
      this.retentionTimer = setInterval(() => this.applyRetention(), this.options.config.retentionCheckIntervalMs);
      this.retentionTimer.unref();
    }
  }

  /**
   * Brings the open replicas in line with the metadata: opens those assigned here (in replicas or
   * targetReplicas), closes and discards the rest, reopens those whose topic configs changed or
   * that failed. Serialized: calls during a pass are served by one more pass after it, and the
   * returned promise settles once a pass that started after the call has finished.
   */
  reconcile(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.reconcileWanted = true;
    this.reconciling ??= this.reconcileLoop().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  /** The replica of partition `index` of `topic` held here, or undefined. */
  /** Changes whenever a replica is opened or closed here. */
  get version(): number {
    return this.hostedVersion;
  }

  partition(topic: string, index: number): ReplicatedPartition | undefined {
    return this.byPartition.get(partitionKey(topic, index))?.partition;
  }

  /** Every replica held here. */
  partitions(): ReplicatedPartition[] {
    return [...this.hosted.values()].map((hosted) => hosted.partition);
  }

  /** The groups this broker leads, with their term (the leader epoch). */
  leaderships(): LeaderUpdate[] {
    const updates: LeaderUpdate[] = [];
    for (const hosted of this.hosted.values()) {
      if (hosted.replica.role !== Role.Leader) continue;
      updates.push({ groupId: hosted.groupId, leaderId: this.options.nodeId, leaderEpoch: hosted.replica.status().term });
    }
    return updates;
  }

  /** The Raft clock's counters: ticks done, ticks deferred for the disk, leaderless groups waiting for a tick. */
  clockStats(): { readonly ticks: number; readonly ticksDeferred: number; readonly leaderlessWaiting: number } {
    return { ticks: this.ticker.ticks, ticksDeferred: this.ticker.ticksDeferred, leaderlessWaiting: this.ticker.leaderlessWaiting };
  }

  /**
   * The stream to `peer` came up or went away. Lost: the groups led here stop streaming to it, and
   * the quiesced groups that depend on it wake. Up again (the peer may have restarted, its replicas
   * knowing no leader): the quiesced groups led here wake and heartbeat, so that it learns of them.
   */
  onPeerState(peer: number, connected: boolean): void {
    if (connected) {
      this.liveness.connected(peer);
      this.wakeGroupsOf(peer, 0, false);
      return;
    }
    for (const replica of this.options.groups.handlers()) if (replica.role === Role.Leader) replica.reportUnreachable(peer);
    this.liveness.disconnected(peer);
  }

  /**
   * Wakes the quiesced groups held here that depend on `peer` (see README.md, "Quiescence"): the
   * groups led here that it is a member of at once (check-quorum must run again), and those that
   * follow it once its stream was lost or it was silent for an election timeout. A follower waits
   * that long because its leader lease lasts that long: a leader's broker that stalls for less must
   * not find its followers counting toward an election that its quiesced groups will not interrupt.
   * Called on every tick while the peer is silent, so a group that quiesced meanwhile wakes too.
   */
  private wakeGroupsOf(peer: number, ticksSinceHeard: number, streamLost: boolean): void {
    const followersToo = streamLost || ticksSinceHeard >= this.options.raftConfig.electionTicks;
    for (const replica of this.options.groups.handlers()) {
      if (!replica.quiesced) continue;
      if (replica.isLeader ? replica.isMember(peer) : followersToo && replica.leader === peer) replica.wake(ticksSinceHeard);
    }
  }

  /** Stops the clock and the timers, waits for a reconcile in progress, and closes every replica. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker.stop();
    for (const timer of [this.balanceTimer, this.retentionTimer, this.retryTimer]) if (timer !== undefined) clearInterval(timer);
    while (this.reconciling !== undefined) await this.reconciling.catch(() => undefined);
    await forEachBounded([...this.hosted.values()], REPLICA_OPEN_PARALLELISM, (hosted) => this.closeHosted(hosted, false));
    await Promise.allSettled([...this.deletions]);
  }

  // ---------------------------------------------------------------- the clock

  private afterTick(): void {
    // Even while Raft time waits for the disk, peers must hear that this broker is alive.
    this.options.transport.keepAlive();
    if (this.ticker.ticks !== this.livenessTicks) {
      this.livenessTicks = this.ticker.ticks;
      this.liveness.tick();
    }
    let changed = false;
    let failed = false;
    for (const hosted of this.hosted.values()) {
      const replica = hosted.replica;
      if (replica.role !== hosted.lastRole || replica.leader !== hosted.lastLeader) {
        changed = true;
        hosted.lastRole = replica.role;
        hosted.lastLeader = replica.leader;
      }
      if (replica.failed !== undefined && !hosted.failureReported) {
        hosted.failureReported = true;
        failed = true;
        this.options.logger.error({ err: replica.failed, group: replica.groupId }, 'replica failed; reopening it');
      }
    }
    if (failed) void this.reconcile();
    if (this.ticker.ticks % REASSIGNMENT_STEP_TICKS === 0) this.stepReassignments();
    if (changed) this.notifyLeadershipChange();
  }

  private notifyLeadershipChange(): void {
    try {
      this.options.onLeadershipChange();
    } catch (error) {
      // The listener's failure must not stop the clock of every group.
      this.options.logger.error({ err: error }, 'onLeadershipChange failed');
    }
  }

  private stepReassignments(): void {
    for (const hosted of this.reassigning) {
      const target = hosted.assignment.targetReplicas;
      if (target === null || hosted.replica.role !== Role.Leader) continue;
      this.reassignments.step(hosted.groupId, hosted.replica, target);
    }
  }

  private balanceLeaders(): void {
    const started = this.balancer.round(
      [...this.hosted.values()].map((hosted) => ({ replica: hosted.replica, replicas: hosted.assignment.replicas, reassigning: hosted.assignment.targetReplicas !== null })),
    );
    if (started.length > 0) this.options.logger.info({ transfers: started }, 'leader balancing: handing leaderships to preferred replicas');
  }

  private applyRetention(): void {
    if (this.retentionRunning) return;
    this.retentionRunning = true;
    const nowMs = this.options.clock.nowMs();
    void Promise.allSettled([...this.hosted.values()].map((hosted) => hosted.replica.log.applyRetention(nowMs))).finally(() => {
      this.retentionRunning = false;
    });
  }

  // ---------------------------------------------------------------- reconcile

  private async reconcileLoop(): Promise<void> {
    while (this.reconcileWanted && !this.closed) {
      this.reconcileWanted = false;
      try {
        await this.reconcileOnce();
      } catch (error) {
        this.options.logger.error({ err: error }, 'reconciling replicas failed');
        this.retryReconcileLater();
      }
    }
  }

  private async reconcileOnce(): Promise<void> {
    if (!this.firstReconcileDone) {
      await mkdir(this.options.dir, { recursive: true });
      await mkdir(this.options.trashDir, { recursive: true });
    }
    const wanted = this.wantedReplicas();
    const toClose: Array<{ hosted: HostedReplica; discard: boolean }> = [];
    for (const hosted of this.hosted.values()) {
      const want = wanted.get(hosted.groupId);
      if (want === undefined) toClose.push({ hosted, discard: true });
      else if (want.configsKey !== hosted.configsKey || hosted.replica.failed !== undefined) toClose.push({ hosted, discard: false });
      else hosted.assignment = want.partition;
    }
    await forEachBounded(toClose, REPLICA_OPEN_PARALLELISM, ({ hosted, discard }) => this.closeHosted(hosted, discard));
    const toOpen = [...wanted.values()].filter((want) => !this.hosted.has(want.partition.groupId));
    let openFailures = 0;
    await forEachBounded(toOpen, REPLICA_OPEN_PARALLELISM, async (want) => {
      if (!(await this.open(want))) openFailures += 1;
    });
    if (!this.firstReconcileDone) {
      await this.discardStrayDirectories(wanted);
      this.firstReconcileDone = true;
    }
    this.reassigning.clear();
    this.preferredHere.clear();
    for (const hosted of this.hosted.values()) {
      if (hosted.assignment.replicas[0] === this.options.nodeId) this.preferredHere.add(hosted.replica);
      if (hosted.assignment.targetReplicas !== null) this.reassigning.add(hosted);
      else this.reassignments.forget(hosted.groupId);
    }
    if (openFailures > 0) this.retryReconcileLater();
  }

  private wantedReplicas(): Map<number, WantedReplica> {
    const self = this.options.nodeId;
    const wanted = new Map<number, WantedReplica>();
    for (const topic of this.options.topics()) {
      const configsKey = configKey(topic.configs);
      for (const partition of topic.partitions) {
        if (!partition.replicas.includes(self) && !(partition.targetReplicas?.includes(self) ?? false)) continue;
        wanted.set(partition.groupId, { topic, partition, configsKey, dirName: `${topic.name}-${partition.partition}-${partition.groupId}` });
      }
    }
    return wanted;
  }

  /** Opens one replica and registers it; false when it could not be opened (logged). */
  private async open(want: WantedReplica): Promise<boolean> {
    const { topic, partition } = want;
    const groupId = partition.groupId;
    const name = `${topic.name}-${partition.partition}`;
    let replica: Replica;
    try {
      const logConfig = topicLogConfig(topic.configs, this.options.config);
      const transport = this.options.transport;
      replica = await Replica.open({
        dir: join(this.options.dir, want.dirName),
        groupId: name,
        nodeId: this.options.nodeId,
        initialConf: { voters: [...partition.initialReplicas], learners: [] },
        logConfig,
        raftConfig: this.partitionRaftConfig,
        clock: this.options.clock,
        files: this.options.files,
        writer: this.options.writer,
        // A false return (peer away, queue full) makes the replica report the peer unreachable.
        send: (message) => transport.send(message.to, groupId, message),
        scrubThrottle: (bytes) => this.scrubLimiter.take(bytes),
      });
      if (this.closed) {
        await replica.close();
        return true;
      }
      const served = new ReplicatedPartition({
        topic: topic.name,
        index: partition.partition,
        groupId,
        replica,
        logAppendTime: logConfig.timestampType === 'log-append',
        brokerAddress: this.options.brokerAddress,
        brokerLive: this.options.brokerLive,
      });
      const hosted: HostedReplica = {
        groupId,
        topic: topic.name,
        index: partition.partition,
        dirName: want.dirName,
        configsKey: want.configsKey,
        replica,
        partition: served,
        assignment: partition,
        lastRole: replica.role,
        lastLeader: replica.leader,
        failureReported: false,
      };
      this.options.groups.register(groupId, name, replica);
      this.hosted.set(groupId, hosted);
      this.hostedVersion += 1;
      this.byPartition.set(partitionKey(topic.name, partition.partition), hosted);
      return true;
    } catch (error) {
      this.options.logger.error({ err: error, group: name, groupId }, 'opening a replica failed');
      return false;
    }
  }

  /** Unregisters and closes a replica; `discard` then moves its directory to the trash. */
  private async closeHosted(hosted: HostedReplica, discard: boolean): Promise<void> {
    this.options.groups.unregister(hosted.groupId);
    this.hosted.delete(hosted.groupId);
    this.hostedVersion += 1;
    this.reassigning.delete(hosted);
    this.preferredHere.delete(hosted.replica);
    this.reassignments.forget(hosted.groupId);
    const key = partitionKey(hosted.topic, hosted.index);
    if (this.byPartition.get(key) === hosted) this.byPartition.delete(key);
    try {
      await hosted.replica.close();
    } catch (error) {
      this.options.logger.warn({ err: error, group: hosted.replica.groupId }, 'closing a replica failed');
    }
    if (discard) await this.discard(hosted.dirName);
  }

  /** Renames a replica directory into the trash (atomic) and deletes it from there in the background. */
  private async discard(dirName: string): Promise<void> {
    const trashed = join(this.options.trashDir, `${dirName}.${this.options.clock.nowMs()}`);
    try {
      await rename(join(this.options.dir, dirName), trashed);
    } catch (error) {
      this.options.logger.warn({ err: error, dir: dirName }, 'moving a replica to the trash failed');
      return;
    }
    this.options.logger.info({ dir: dirName }, 'replica removed');
    const deletion = rm(trashed, { recursive: true, force: true })
      .catch((error: unknown) => this.options.logger.warn({ err: error, dir: trashed }, 'deleting a trashed replica failed'))
      .finally(() => this.deletions.delete(deletion));
    this.deletions.add(deletion);
  }

  /**
   * At the first reconcile: replica directories the metadata no longer assigns here (a topic
   * deleted or a replica moved away while this broker was down, a crash before a move to the
   * trash finished) go to the trash, and what an earlier run left in the trash is deleted.
   */
  private async discardStrayDirectories(wanted: ReadonlyMap<number, WantedReplica>): Promise<void> {
    const keep = new Set([...wanted.values()].map((want) => want.dirName));
    for (const entry of await readdir(this.options.dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !keep.has(entry.name) && /-\d+-\d+$/.test(entry.name)) await this.discard(entry.name);
    }
    for (const name of await readdir(this.options.trashDir)) {
      const path = join(this.options.trashDir, name);
      if (this.deletions.size > REPLICA_OPEN_PARALLELISM) await Promise.race([...this.deletions]);
      const deletion = rm(path, { recursive: true, force: true })
        .catch((error: unknown) => this.options.logger.warn({ err: error, dir: path }, 'deleting a trashed replica failed'))
        .finally(() => this.deletions.delete(deletion));
      this.deletions.add(deletion);
    }
  }

  private retryReconcileLater(): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile();
    }, REPLICA_REOPEN_RETRY_MS);
    this.retryTimer.unref();
  }
}

function partitionKey(topic: string, index: number): string {
  return `${topic}\u0000${index}`;
}

/** The topic's configs in a canonical form: equal keys mean equal configurations. */
function configKey(configs: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(configs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Runs `task` over `items` with at most `parallelism` running at once; rejects with the first failure after all settled. */
async function forEachBounded<T>(items: readonly T[], parallelism: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}
