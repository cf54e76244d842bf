/**
 * One replica of one partition: a Raft group member (raft/raft-node.ts) driving the partition's
 * log (broker/storage/partition-log.ts). See README.md for the mapping between entries and record
 * batches, what is durable when, and what callers (the peer transport, the group manager, the API)
 * must do.
 *
 * Threading model: everything runs on the event loop. Inputs (tick, receive, append, ...) step the
 * Raft node at once; one Ready at a time is processed asynchronously (persist, send, apply,
 * advance), and inputs that arrive while a Ready's fsync runs are gathered into the next one, so
 * many appends share one write and one fdatasync (group commit). A leader does not hold its
 * replication traffic or its commits back for that fsync, though: what it may send before its
 * own write is durable leaves meanwhile, and what a majority holds is acknowledged as soon as its
 * log has written it (README.md, "The Ready loop and what is durable when").
 */
import assert, { AssertionError } from 'node:assert/strict';
import { RaftNode } from '../../raft/raft-node.js';
import { entryEnd } from '../../raft/raft-log.js';
import { sendableBeforePersist } from '../../raft/sendable-before-persist.js';
import {
  EntryType,
  MessageType,
  NO_NODE,
  Role,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type Ready,
  type Snapshot,
} from '../../raft/types.js';
import { stampLogAppendTime, batchSizeAt } from '../../record/batch-header.js';
import type { FileHandleCache } from '../storage/file-handle-cache.js';
import { nodeFileWriter, type FileWriter } from '../storage/file-writer.js';
import type { LogConfig } from '../storage/log-config.js';
import { PartitionLog, type Clock } from '../storage/partition-log.js';
import { BatchTooLargeError, CorruptLogError } from '../storage/storage-errors.js';
import { checkBatches, entryProblem, entryToBatches, stampBatches } from './replica-entries.js';
import { MembershipChangeError, NotLeaderError, ReplicaBusyError, ReplicaClosedError, ReplicaStateError } from './replica-errors.js';
import { ReplicaLogStorage } from './replica-log-storage.js';
import { ReplicaState } from './replica-state.js';

/**
 * When an append is acknowledged. 'all': once committed (a majority of voters has it on disk, per
 * the flush policy). 'leader': once the leader's own log has it; such an append is lost if the
 * leader fails before a majority copied it, and a new leader then reuses its offsets.
 */
export type Acks = 'all' | 'leader';

export interface AppendOutcome {
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** Bytes one append call may carry (its batches are written as one entry, never across segments). */
export const APPEND_BYTES_MAX = 16 * 1024 * 1024;

export interface ReplicaOptions {
  /** The partition's directory: its segments and the replica's `raft-state` file. */
  readonly dir: string;
  /** Names the group in errors and logs, e.g. "orders-3". */
  readonly groupId: string;
  readonly nodeId: NodeId;
  /** The group's first configuration; read only when the directory holds no replica yet. */
  readonly initialConf: ConfState;
  readonly logConfig: LogConfig;
  /** Raft settings except the id (which is nodeId) and `applied` (the recorded commit). */
  readonly raftConfig: Omit<RaftConfig, 'id' | 'applied'>;
  readonly clock: Clock;
  readonly files: FileHandleCache;
  /** Where the log and the state file write; tests wrap it. */
  readonly writer?: FileWriter;
  /**
   * Hands a message to the peer transport, which delivers it to the peer broker's replica of this
   * group with its entries' bytes intact (loss, duplication and reordering are safe). Returning
   * false (or throwing) means it was dropped, e.g. the peer is unreachable or its queue full: the
   * replica then tells Raft, whose leader stops streaming to that peer and probes instead.
   */
  readonly send: (message: Message) => boolean | void;
  /**
   * After an unclean shutdown every batch of the log is read back and CRC-checked in the
   * background (README.md, "Damaged storage"); this is awaited with the bytes of each chunk before
   * it is read: the broker's rate limit, shared by all its replicas. Default: no limit.
   */
  readonly scrubThrottle?: (bytes: number) => Promise<void>;
}

interface PendingAppend {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly term: number;
  readonly resolve: (outcome: AppendOutcome) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingChange {
  readonly index: number;
  readonly term: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class Replica {
  private readonly node: RaftNode;
  private readonly writer: FileWriter;
  private roleNow: Role = Role.Follower;
  private leaderNow: NodeId = NO_NODE;
  /** Appends waiting for the leader's own write (acks 'leader') and for commit (acks 'all'), in offset order. */
  private waitingForWrite: PendingAppend[] = [];
  private waitingForCommit: PendingAppend[] = [];
  private waitingChanges: PendingChange[] = [];
  /** Peer messages refused because their batches could not be written (damaged on the way). */
  droppedMessages = 0;
  /** Readies handled, and the longest one (ms): no message of this group leaves while one is written. */
  readyCount = 0;
  readyMsMax = 0;
  private loopScheduled = false;
  private loopRunning: Promise<void> | undefined;
  /** A leader's replication messages are to be sent while the Ready loop is writing (see kick). */
  private earlySendScheduled = false;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private failure: unknown = undefined;
  /** The Raft term as of the last Ready (appends proposed in an older term have an unknown outcome). */
  private termNow: number;
  /** The background check of the whole log after an unclean shutdown, while it runs. */
  private scrubbing: Promise<void> | undefined;

  private constructor(
    private readonly options: ReplicaOptions,
    readonly log: PartitionLog,
    private readonly state: ReplicaState,
    private readonly storage: ReplicaLogStorage,
  ) {
    this.writer = options.writer ?? nodeFileWriter;
    this.termNow = state.term;
    // Applying a partition's committed entries only moves the high watermark, which open sets from
    // the recorded commit itself: the node starts with them applied and never reads them back.
    this.node = new RaftNode({ ...options.raftConfig, id: options.nodeId, applied: storage.committedIndex() }, storage);
    if (state.repair !== undefined) this.node.suspendVoting(state.repair.through, state.repair.term);
    // A leader's commit can run ahead of its own log (the followers answered before its Ready
    // reached the disk): what the log writes then is acknowledged once written, not a sync later.
    log.onChange(() => this.publishLeaderCommit());
  }

  /**
   * Opens the partition's log (recovering it) and the replica's state, or creates both for a new
   * replica (whose log then starts at offset 1: Raft's index 0 is the empty log's sentinel).
   */
  static async open(options: ReplicaOptions): Promise<Replica> {
    const writer = options.writer ?? nodeFileWriter;
    const log = await PartitionLog.open(options.dir, options.logConfig, { clock: options.clock, files: options.files, writer });
    try {
      let state = await ReplicaState.load(options.dir);
      if (state === undefined) {
        if (log.logEndOffset > 0) throw new ReplicaStateError(ReplicaState.path(options.dir), 'the log holds data but the replica has no state');
        state = ReplicaState.bootstrap(options.initialConf);
        await state.save(writer, options.dir);
      }
      // Recovery cut written batches that had gone bad: they may have been acknowledged.
      // An interrupted snapshot install is finished first: the state already names its index.
      if (state.snapshotIndex > log.logStartOffset - 1) await log.truncateFullyAndStartAt(state.snapshotIndex + 1);
      // A lone voter has nobody to wait for: it goes on with what recovery kept.
      const others = state.confAt(Math.max(state.baseIndex, log.logEndOffset)).voters.some((id) => id !== options.nodeId);
      if (log.damageOnOpen !== undefined && others) state.markDamaged(undefined, log.damageOnOpen.throughOffset, state.term);
      // Under flushPolicy 'always' the recorded commit was durable in this log when it was written
      // (see persist); a log that now ends below it lost entries it had synced and may have
      // acknowledged — damage that looked like a torn tail (a bad last batch).
      const recordedCommitLost = state.repair === undefined && options.logConfig.flushPolicy === 'always' && state.commit > log.logEndOffset - 1;
      if (recordedCommitLost && others) state.markDamaged(undefined, state.commit, state.term);
      await cutDamaged(state, log);
      await reconcile(state, log, writer, options.dir);
      const replica = new Replica(options, log, state, new ReplicaLogStorage(log, state));
      const commit = replica.node.status().commit;
      if (commit + 1 > log.highWatermark) log.setHighWatermark(commit + 1);
      // Recovery checked only the end of the log; bytes anywhere may have gone bad meanwhile.
      if (!log.openedClean) replica.startScrub();
      return replica;
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
  }

  // ---------------------------------------------------------------- state

  get groupId(): string {
    return this.options.groupId;
  }

  get nodeId(): NodeId {
    return this.options.nodeId;
  }

  get role(): Role {
    return this.roleNow;
  }

  /** The leader this replica knows of, NO_NODE (0) when none. */
  get leader(): NodeId {
    return this.leaderNow;
  }

  get isLeader(): boolean {
    return this.roleNow === Role.Leader;
  }

  /** Consumers read below it: one past the last committed offset this replica knows of. */
  get highWatermark(): number {
    return this.log.highWatermark;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  /** Raft's view: term, commit, configuration, and on the leader every peer's progress. */
  status(): RaftStatus {
    return this.node.status();
  }

  /**
   * Why the replica stopped on its own (an I/O failure while persisting), or undefined. A failed
   * replica refuses everything; the group manager closes it and reopens it (recovery runs then).
   */
  get failed(): unknown {
    return this.failure;
  }

  /** Whether the log lost entries it had made durable and the replica neither votes nor campaigns until it holds them again. */
  get repairing(): boolean {
    return this.state.repair !== undefined;
  }

  /** Whether the background check of the log after an unclean shutdown is still running. */
  get scrubRunning(): boolean {
    return this.scrubbing !== undefined;
  }

  /** Reads of the segment files that the tail cache could not serve (a follower far behind). */
  get coldReads(): number {
    return this.storage.coldReads;
  }

  /** Calls `listener` after the log end, log start or high watermark moved. Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.log.onChange(listener);
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of Raft time; the caller calls it every tick interval (e.g. 100 ms). */
  tick(): void {
    if (this.stopped) return;
    // A quiesced group (raft/README.md, "Quiescence") has next to nothing to count: no closure, no
    // hasReady() for it on every tick.
    if (this.node.isQuiesced()) {
      if (this.node.tickQuiesced()) this.kick();
      return;
    }
    // Most ticks of an idle follower change nothing: asking costs less than a Ready loop turn,
    // which a thousand idle replicas would otherwise pay twenty times a second each.
    if (this.drive(() => this.node.tick()) && this.node.hasReady()) this.kick();
  }

  /**
   * A message from a peer's replica of this group. An Append whose batches are damaged or do not
   * match their entries is dropped (counted in droppedMessages): the leader sends them again.
   */
  receive(message: Message): void {
    if (this.stopped) return;
    if (message.type === MessageType.Append && !this.entriesWritable(message.entries)) {
      this.droppedMessages += 1;
      return;
    }
    if (!this.drive(() => this.node.step(message))) return;
    // An answer may have moved the commit: acknowledge it now rather than in the next Ready.
    if (message.type === MessageType.AppendResponse) this.publishLeaderCommit();
    this.kick();
  }

  /** Whether broker `id` holds a voter or learner of this group in the configuration in force. */
  isMember(id: NodeId): boolean {
    return this.node.isMember(id);
  }

  /** Whether the group is quiesced here: idle, no heartbeats, no election timer (raft/README.md, "Quiescence"). */
  get quiesced(): boolean {
    return this.node.isQuiesced();
  }

  /**
   * Ends quiescence because a peer broker stopped answering (`ticksSinceHeard` ticks ago) or came
   * back: a follower's election timer resumes as if its leader was last heard then; a leader
   * heartbeats and must hear from a quorum again (RaftNode.wake). No-op when awake.
   */
  wake(ticksSinceHeard: number): void {
    if (this.stopped || !this.node.isQuiesced()) return;
    if (this.drive(() => this.node.wake(ticksSinceHeard)) && this.node.hasReady()) this.kick();
  }

  /** The transport could not deliver to `peer`: the leader stops streaming to it and probes. */
  reportUnreachable(peer: NodeId): void {
    if (this.stopped) return;
    this.node.reportUnreachable(peer);
  }

  /**
   * Leader only: appends one or more concatenated record batches. Their offsets are assigned here
   * and stamped in place, with this leader's term as partitionLeaderEpoch; the buffer is owned by
   * the replica from now on. Resolves per `acks` with the offsets given. Rejects with
   * NotLeaderError (with the leader hint) on a follower, or when leadership is lost before the
   * append was acknowledged (its outcome is then unknown); with ReplicaBusyError when the leader
   * holds too many uncommitted bytes; with CorruptBatchError or BatchTooLargeError for bad input.
   */
  append(batches: Buffer, acks: Acks): Promise<AppendOutcome> {
    try {
      this.checkOpen();
      const limit = Math.min(APPEND_BYTES_MAX, this.options.logConfig.segmentBytes);
      if (batches.length > limit) throw new BatchTooLargeError(batches.length, limit, 'segmentBytes');
      const offsets = checkBatches(batches, this.options.logConfig.maxBatchBytes);
      if (this.options.logConfig.timestampType === 'log-append') stampAppendTime(batches, this.options.clock.nowMs());
      const proposed = this.proposeGuarded(() => this.node.propose(batches, offsets));
      if (!proposed.ok) throw this.refusal(proposed);
      stampBatches(batches, proposed.index, proposed.term);
      this.kick();
      return new Promise<AppendOutcome>((resolve, reject) => {
        const pending = { baseOffset: proposed.index, lastOffset: proposed.index + offsets - 1, term: proposed.term, resolve, reject };
        (acks === 'all' ? this.waitingForCommit : this.waitingForWrite).push(pending);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Committed whole batches from the one holding `offset`, up to about maxBytes (at least one
   * batch when any is committed there). Throws OffsetOutOfRangeError outside the log.
   */
  async read(offset: number, maxBytes: number): Promise<Buffer> {
    try {
      return await this.log.read(offset, maxBytes, this.log.highWatermark);
    } catch (error) {
      // Never serve it. With other voters the replica stops and reopens to fetch the batches again
      // from them; a lone voter has no copy to repair from, so the damaged batch stays unreadable.
      if (!(error instanceof CorruptLogError) || !this.hasOtherVoters()) throw error;
      this.fail(error);
      throw new ReplicaClosedError(this.groupId, { cause: error });
    }
  }

  /** Leader only (ignored elsewhere): hands leadership to voter `to` once it has caught up. */
  transferLeadership(to: NodeId): void {
    if (this.stopped) return;
    if (this.drive(() => this.node.transferLeadership(to))) this.kick();
  }

  /**
   * Leader only: one membership change (add a learner, promote it, remove a node). Resolves once
   * the change is committed; rejects with MembershipChangeError when refused (one at a time; a
   * learner is promoted only once caught up) and NotLeaderError elsewhere.
   */
  changeMembership(change: ConfChange): Promise<void> {
    try {
      this.checkOpen();
      const proposed = this.proposeGuarded(() => this.node.proposeConfChange(change));
      if (!proposed.ok) throw this.refusal(proposed);
      this.kick();
      return new Promise<void>((resolve, reject) => this.waitingChanges.push({ index: proposed.index, term: proposed.term, resolve, reject }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stops the replica: finishes the Ready in progress, fails waiting appends with
   * ReplicaClosedError, writes the state (the commit index, unless `flushState` is false, which
   * is what a crash would leave) and closes the log.
   */
  close(options: { flushState?: boolean } = {}): Promise<void> {
    this.closing ??= this.closeOnce(options.flushState !== false);
    return this.closing;
  }

  private async closeOnce(flushState: boolean): Promise<void> {
    this.stopped = true;
    while (this.loopRunning !== undefined) await this.loopRunning;
    await this.scrubbing;
    this.rejectAll(new ReplicaClosedError(this.groupId, { cause: this.failure }));
    try {
      if (this.failure instanceof CorruptLogError) {
        // Cut at the damaged batch when the replica opens again, and vote for no one until it holds
        // again everything it may have acknowledged (up to the log end).
        this.state.markDamaged(this.failure.offset, Math.max(this.log.logEndOffset - 1, this.failure.offset), this.termNow);
        await this.state.save(this.writer, this.options.dir);
      } else if (flushState && this.failure === undefined) {
        // Raft may know a commit beyond what the log holds (entries stepped in, not yet written).
        this.state.commit = Math.min(this.node.status().commit, this.log.logEndOffset - 1);
        this.state.prune(this.log.logStartOffset);
        await this.state.save(this.writer, this.options.dir);
      }
    } finally {
      await this.log.close();
    }
  }

  // ---------------------------------------------------------------- the Ready loop

  private kick(): void {
    if (this.stopped) return;
    if (this.loopRunning !== undefined) {
      this.scheduleEarlySend();
      return;
    }
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    // setImmediate rather than a microtask: appends arriving in the same I/O phase join this Ready.
    setImmediate(() => {
      this.loopScheduled = false;
      if (this.loopRunning !== undefined || this.stopped) return;
      const running: Promise<void> = this.runReadyLoop().finally(() => {
        this.loopRunning = undefined;
        // advance() may have produced work (a leader's commit) after hasReady() was last asked.
        if (!this.stopped && this.node.hasReady()) this.kick();
      });
      this.loopRunning = running;
    });
  }

  /**
   * While a Ready is being written (a leader's fdatasync), the Appends for entries proposed
   * meanwhile, the commit index that answers moved, and heartbeats leave at once instead of
   * waiting for the write and the next Ready: the followers' writes then overlap the leader's,
   * and an append's acknowledgement waits for one disk write fewer. Safe for the reason all of a
   * leader's replication traffic may leave before its Ready is durable (sendableBeforePersist): the
   * leader counts itself toward a commit only after advance(). Runs on setImmediate, so the
   * appends of one I/O phase still share one Append per follower.
   */
  private scheduleEarlySend(): void {
    if (this.earlySendScheduled || this.roleNow !== Role.Leader) return;
    this.earlySendScheduled = true;
    setImmediate(() => {
      this.earlySendScheduled = false;
      // With the loop idle, its next Ready sends them (and already has, or is scheduled).
      if (this.stopped || this.loopRunning === undefined) return;
      // Building Appends may read old entries from disk (a follower far behind): guarded as any input.
      let messages: Message[] = [];
      if (!this.drive(() => (messages = this.node.takeSendableMessages()))) return;
      for (const message of messages) this.send(message);
    });
  }

  private async runReadyLoop(): Promise<void> {
    try {
      while (!this.stopped && this.node.hasReady()) {
        const ready = this.node.ready();
        const startedMs = this.options.clock.nowMs();
        await this.handleReady(ready);
        this.node.advance(ready);
        this.readyCount += 1;
        this.readyMsMax = Math.max(this.readyMsMax, this.options.clock.nowMs() - startedMs);
      }
    } catch (error) {
      this.fail(error);
      // A broken invariant crashes (an unhandled rejection), as assertions do everywhere.
      if (error instanceof AssertionError) throw error;
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    const termBefore = this.termNow;
    if (ready.softState !== undefined) {
      this.roleNow = ready.softState.role;
      this.leaderNow = ready.softState.leader;
    }
    if (ready.hardState !== undefined) this.termNow = ready.hardState.term;
    // Waiting requests were made by a leader in termNow; only a change of role or term ends them.
    if (ready.softState !== undefined || this.termNow !== termBefore) this.rejectStaleAppends();
    for (const message of ready.messages) if (sendableBeforePersist(message)) this.send(message);
    // Committed means a majority holds the entries durably, whether or not this replica's own
    // write of them has finished: what its log already holds is published (and acknowledged) now,
    // which saves the client this Ready's fdatasync; the rest once this Ready is written. Only
    // below this Ready's entries, though (a follower may be about to overwrite a stale suffix),
    // and nothing when a snapshot is about to replace the whole log.
    if (ready.committedEntries.length > 0 && ready.snapshot === undefined) {
      this.publishCommitted(ready.committedEntries, ready.entries.length > 0 ? ready.entries[0].index : Number.MAX_SAFE_INTEGER);
    }
    if (ready.snapshot !== undefined) await this.installSnapshot(ready.snapshot);
    await this.persist(ready.entries, ready.hardState);
    if (this.state.repair !== undefined && !this.node.votingSuspended()) {
      // It holds again everything it may have acknowledged: it may vote from now on.
      this.state.repair = undefined;
      await this.state.save(this.writer, this.options.dir);
    }
    if (ready.entries.length > 0) this.acknowledgeWritten(entryEnd(ready.entries[ready.entries.length - 1]));
    for (const message of ready.messages) if (!sendableBeforePersist(message)) this.send(message);
    if (ready.committedEntries.length > 0) this.publishCommitted(ready.committedEntries, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Entries, then the hard state, durably before the messages that depend on them. A divergent
   * suffix is cut first; the state file (new terms, configuration entries, term and vote) is
   * written before the entries it describes; the entries go to the log as one group (one writev
   * and, under flushPolicy 'always', one fdatasync for all of them).
   */
  private async persist(entries: readonly Entry[], hardState: HardState | undefined): Promise<void> {
    let stateDirty = false;
    if (hardState !== undefined) {
      stateDirty = hardState.term !== this.state.term || hardState.vote !== this.state.vote;
      this.state.term = hardState.term;
      this.state.vote = hardState.vote;
    }
    if (entries.length > 0) {
      const first = entries[0].index;
      if (first < this.log.logEndOffset) {
        await this.log.truncateTo(first);
        stateDirty = this.state.truncateFrom(first) || stateDirty;
      }
      stateDirty = this.state.recordEntries(entries) || stateDirty;
    }
    if (hardState !== undefined) {
      // The commit index is written lazily, with the next state write: it is re-learned from the
      // leader. It never names more than the log already holds durably (earlier Readies' entries,
      // after this one's truncation: this one's are written after the state), so on open a log
      // ending below it lost durable entries (see open). Clamped before the truncation, it could
      // name the end of a stale suffix, which is no entry boundary once rewritten.
      this.state.commit = Math.min(hardState.commit, this.log.logEndOffset - 1);
    }
    if (stateDirty) {
      this.state.prune(this.log.logStartOffset);
      await this.state.save(this.writer, this.options.dir);
    }
    if (entries.length === 0) return;
    const writes = entries.map((entry) => this.log.appendReplicated(entryToBatches(entry)));
    const results = await Promise.allSettled(writes);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  /** The leader sent us past its log start: our log restarts after the snapshot's index. */
  private async installSnapshot(snapshot: Snapshot): Promise<void> {
    // The state goes first: if we crash before the log is replaced, open finishes the job.
    this.state.installSnapshot(snapshot);
    await this.state.save(this.writer, this.options.dir);
    await this.log.truncateFullyAndStartAt(snapshot.index + 1);
  }

  /**
   * Moves the high watermark to the commit index, as far as this replica's log holds the entries
   * (consumers must be able to read what it covers), and acknowledges the appends and membership
   * changes it now covers: an acknowledged append is always readable on the leader. Nothing at or
   * beyond `rewrittenFrom` (entries being written now, possibly replacing a stale suffix) is shown.
   */
  private publishCommitted(entries: readonly Entry[], rewrittenFrom: number): void {
    const committed = entryEnd(entries[entries.length - 1]);
    this.raiseHighWatermark(Math.min(committed + 1, this.log.logEndOffset, rewrittenFrom));
    if (this.waitingChanges.length > 0 && entries.some((entry) => entry.type === EntryType.ConfChange)) {
      this.waitingChanges = this.waitingChanges.filter((pending) => {
        if (pending.index > committed) return true;
        pending.resolve();
        return false;
      });
    }
  }

  /**
   * Leader: publishes the commit index as soon as an answer moved it or the log wrote more, as far
   * as the log holds the entries (written; a majority has them durably), without waiting for the
   * next Ready, which may be behind this leader's own fdatasync. Only when the Ready being written
   * was taken as leader too: a leader's Readies never cut its log, so nothing below its log end is
   * about to change. Configuration changes are still acknowledged by the Ready path.
   */
  private publishLeaderCommit(): void {
    if (this.stopped || this.roleNow !== Role.Leader) return;
    const commit = this.node.leaderCommitIndex();
    if (commit !== undefined) this.raiseHighWatermark(Math.min(commit + 1, this.log.logEndOffset));
  }

  /** Moves the high watermark up to `visible` and acknowledges the appends it now covers. */
  private raiseHighWatermark(visible: number): void {
    if (visible > this.log.highWatermark) this.log.setHighWatermark(visible);
    const highWatermark = this.log.highWatermark;
    while (this.waitingForCommit.length > 0 && this.waitingForCommit[0].lastOffset < highWatermark) {
      const pending = this.waitingForCommit.shift() as PendingAppend;
      pending.resolve({ baseOffset: pending.baseOffset, lastOffset: pending.lastOffset });
    }
  }

  private acknowledgeWritten(lastWritten: number): void {
    while (this.waitingForWrite.length > 0 && this.waitingForWrite[0].lastOffset <= lastWritten) {
      const pending = this.waitingForWrite.shift() as PendingAppend;
      pending.resolve({ baseOffset: pending.baseOffset, lastOffset: pending.lastOffset });
    }
  }

  /** Appends proposed in an earlier term, or by a leader that is one no more, have an unknown outcome. */
  private rejectStaleAppends(): void {
    const leading = this.roleNow === Role.Leader;
    const stale = (pending: { term: number }): boolean => !leading || pending.term !== this.termNow;
    const all = [...this.waitingForWrite, ...this.waitingForCommit, ...this.waitingChanges];
    if (!all.some(stale)) return;
    const error = new NotLeaderError(this.groupId, this.leaderNow, 'leadership was lost before the request was acknowledged; its outcome is unknown');
    for (const pending of all) if (stale(pending)) pending.reject(error);
    this.waitingForWrite = this.waitingForWrite.filter((pending) => !stale(pending));
    this.waitingForCommit = this.waitingForCommit.filter((pending) => !stale(pending));
    this.waitingChanges = this.waitingChanges.filter((pending) => !stale(pending));
  }

  /**
   * Runs one Raft input. Raft may read the log while it runs (a cold read for a lagging follower);
   * an I/O error there leaves the node half-stepped, so the replica stops (`failed`) and the
   * group manager must reopen it. A broken invariant still throws. Returns whether it ran.
   */
  private drive(input: () => void): boolean {
    try {
      input();
      return true;
    } catch (error) {
      this.fail(error);
      if (error instanceof AssertionError) throw error;
      return false;
    }
  }

  private proposeGuarded(propose: () => ProposeResult): ProposeResult {
    let result: ProposeResult | undefined;
    if (!this.drive(() => (result = propose())) || result === undefined) throw new ReplicaClosedError(this.groupId, { cause: this.failure });
    return result;
  }

  private entriesWritable(entries: readonly Entry[]): boolean {
    for (const entry of entries) if (entryProblem(entry, this.options.logConfig.maxBatchBytes) !== undefined) return false;
    return true;
  }

  private send(message: Message): void {
    let delivered: boolean | void;
    try {
      delivered = this.options.send(message);
    } catch {
      delivered = false;
    }
    if (delivered === false) {
      this.node.reportUnreachable(message.to);
      return;
    }
    // A partition's snapshot carries no data: once handed over, the follower's answer (or the
    // next heartbeat round) tells the leader where it stands.
    if (message.type === MessageType.Snapshot) this.node.reportSnapshot(message.to, true);
  }

  private refusal(result: Extract<ProposeResult, { ok: false }>): Error {
    switch (result.reason) {
      case 'not-leader':
        return new NotLeaderError(this.groupId, result.leader);
      case 'transferring':
        return new NotLeaderError(this.groupId, NO_NODE, 'leadership is being transferred');
      case 'uncommitted-bytes-limit':
        return new ReplicaBusyError(this.groupId, 'too many uncommitted bytes; retry after commits');
      default:
        return new MembershipChangeError(this.groupId, result.reason);
    }
  }

  private checkOpen(): void {
    if (this.stopped) throw new ReplicaClosedError(this.groupId, { cause: this.failure });
  }

  /** Reads the whole log back in the background; damage found stops the replica (it reopens to repair). */
  private startScrub(): void {
    const throttle = this.options.scrubThrottle ?? (() => Promise.resolve());
    this.scrubbing = this.log
      .scrub(throttle, () => this.stopped)
      .then(
        (damage) => {
          if (damage !== undefined && !this.stopped && this.hasOtherVoters()) this.fail(damage);
        },
        (error: unknown) => {
          if (!this.stopped) this.fail(error);
        },
      )
      .finally(() => {
        this.scrubbing = undefined;
      });
  }

  /** Whether another voter may hold a sound copy of what this log lost. */
  private hasOtherVoters(): boolean {
    return this.node.status().conf.voters.some((id) => id !== this.nodeId);
  }

  /** An I/O failure while persisting: nothing more may be promised; the replica stops. */
  private fail(error: unknown): void {
    if (this.failure === undefined) this.failure = error;
    this.stopped = true;
    this.rejectAll(new ReplicaClosedError(this.groupId, { cause: error }));
  }

  private rejectAll(error: Error): void {
    for (const pending of [...this.waitingForWrite, ...this.waitingForCommit, ...this.waitingChanges]) pending.reject(error);
    this.waitingForWrite = [];
    this.waitingForCommit = [];
    this.waitingChanges = [];
  }
}

/** LogAppendTime topics: the leader stamps its clock into every batch (and recomputes the CRC). */
function stampAppendTime(batches: Buffer, nowMs: number): void {
  for (let position = 0; position < batches.length; position += batchSizeAt(batches, position)) stampLogAppendTime(batches, position, nowMs);
}

/**
 * Cuts the log at a damaged batch noted in the state (the replica stopped when it found it), so
 * that the batches from there on are fetched again from the group. The state is saved by
 * reconcile; a crash before that cuts again at the same place, harmlessly.
 */
async function cutDamaged(state: ReplicaState, log: PartitionLog): Promise<void> {
  const cutFrom = state.repair?.cutFrom;
  if (state.repair === undefined || cutFrom === undefined) return;
  if (cutFrom <= log.logStartOffset) await log.truncateFullyAndStartAt(log.logStartOffset);
  else if (cutFrom < log.logEndOffset) await log.truncateTo(cutFrom);
  state.repair.cutFrom = undefined;
}

/**
 * Makes the state file and the log agree after a crash: forgets terms and configuration changes
 * the log does not hold, and takes the log's own epochs as the truth for the offsets it holds.
 */
async function reconcile(state: ReplicaState, log: PartitionLog, writer: FileWriter, dir: string): Promise<void> {
  assert.ok(state.snapshotIndex <= log.logStartOffset - 1, 'an interrupted snapshot install is finished before reconcile');
  const start = log.logStartOffset;
  const end = log.logEndOffset;
  state.truncateFrom(end);
  state.changes = state.changes.filter((recorded) => recorded.index < start || log.epochAt(recorded.index) === recorded.term);
  const before = state.terms.filter((entry) => entry.start < start);
  for (const [epoch, epochStart] of log.epochEntries()) {
    const latest = before[before.length - 1];
    if (latest !== undefined && epoch === latest.term) continue;
    if (latest !== undefined && epoch < latest.term) throw new ReplicaStateError(ReplicaState.path(dir), `log epoch ${epoch} at ${epochStart} is below the recorded term ${latest.term}`);
    before.push({ term: epoch, start: epochStart });
  }
  state.terms = before;
  if (state.terms.length === 0 || state.termAt(start - 1) === undefined) {
    throw new ReplicaStateError(ReplicaState.path(dir), `no recorded term for offset ${start - 1}, before the log start`);
  }
  state.commit = Math.min(Math.max(state.commit, start - 1), end - 1);
  state.prune(start);
  await state.save(writer, dir);
}
