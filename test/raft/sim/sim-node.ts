import { ConfChangeType, EntryType, MessageType, Role, type ConfChange, type ConfState, type Entry, type Message, type ReadState, type Ready, type Snapshot } from '../../../raft/types.js';
import { sendableBeforePersist } from '../../../raft/sendable-before-persist.js';
import { EventKind, type EventQueue } from './event-queue.js';
import { InvariantViolation, entryFingerprint, type InvariantChecker } from './invariant-checker.js';
import type { Prng } from './prng.js';
import type { RaftCore } from './raft-core.js';
import type { SimDisk } from './sim-disk.js';
import { LINK_DOWN, type SimNetwork } from './sim-network.js';
import { REJECT_FLAG, TraceKind, type TraceRing } from './trace-ring.js';

/** Which of a Ready's messages have left already. */
const enum Sent {
  None,
  Early,
  All,
}

const enum Pick {
  All,
  Early,
  Late,
}

/** Known driver mistakes the simulator can switch on, one at a time, to show that it catches them. */
export interface DriverBugs {
  /** Write the hard state without the vote. */
  forgetVote?: boolean;
  /** Send a Ready's messages before its writes are durable. */
  sendBeforePersist?: boolean;
  /** Apply entries as soon as they are written, before they are known committed. */
  applyBeforeCommit?: boolean;
  /** Serve a linearizable read from the node's own state at once, without asking the core (readIndex). */
  localRead?: boolean;
}

/** What a node's driver needs from the simulation around it. */
export interface SimContext {
  readonly queue: EventQueue;
  readonly network: SimNetwork;
  readonly checker: InvariantChecker;
  readonly trace: TraceRing;
  readonly prng: Prng;
  readonly driverBugs: DriverBugs;
  readonly nowMs: number;
  readonly diskLatencyMaxMs: number;
  /** Entries applied since the last snapshot before the driver compacts its log. */
  readonly compactEveryEntries: number;
  readonly stepDuringSync: boolean;
  /** Whether a leader's own traffic (sendableBeforePersist) leaves before its Ready is durable. */
  readonly leaderSendsEarly: boolean;
  decodeConfChange(data: Uint8Array): ConfChange;
  proposalResolved(proposal: Proposal, outcome: ProposalOutcome): void;
  confApplied(node: number, index: number, conf: ConfState): void;
  snapshotInstalled(node: number): void;
  /** A linearizable read the node asked for (readIndex) may be served at `state.index`. */
  readAnswered(node: SimNode, state: ReadState): void;
  /** The node just did something whose durability matters (granted a vote, replicated entries). */
  criticalMoment(node: SimNode): void;
  /** Before each tick the node takes: the driver's chance to wake a quiesced group (SimOptions.quiesce). */
  beforeTick(raft: RaftCore): void;
}

/** A client proposal that a leader accepted at (index, term) and whose fate is not yet known. */
export interface Proposal {
  value: number;
  count: number;
  index: number;
  term: number;
  node: number;
  proposedAtMs: number;
}

export enum ProposalOutcome {
  /** The proposal's entry was applied at its index: the client is told it committed. */
  Committed = 'committed',
  /** Another entry was applied at its index: the client is told it failed. */
  Failed = 'failed',
  /** The node crashed or skipped the index through a snapshot: the client is told "unknown" (a timeout). */
  Unknown = 'unknown',
}

/** A value's id in the first four bytes of a Normal entry's data. */
export function valueOf(entry: Entry): number {
  if (entry.type !== EntryType.Normal || entry.data.length < 4) return 0;
  const d = entry.data;
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}

/** Snapshot data of the simulated state machine: its digest and the index it covers. */
export function encodeMachineState(digest: number, index: number): Uint8Array {
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  view.setUint32(0, digest);
  view.setUint32(4, index);
  return data;
}

export function decodeMachineDigest(data: Uint8Array): number {
  return data.length < 8 ? 0 : new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/**
 * One simulated server: a Raft core, its disk, its state machine and the driver loop that ties them
 * together as raft/README.md prescribes (persist, then send, then apply, then advance). The disk is
 * slow: a Ready whose writes must be durable waits for a DiskSync event before its messages leave,
 * and the core keeps stepping messages and ticks meanwhile.
 */
export class SimNode {
  raft: RaftCore | null = null;
  incarnation = 0;
  /** The Ready handed out and not yet advanced (its writes wait for the disk). */
  private inflight: Ready | null = null;
  private inflightSent = Sent.None;
  /** Messages and ticks held back while a Ready waits for the disk (when not stepping during sync). */
  private inbox: Message[] = [];
  private deferredTicks = 0;
  role: Role = Role.Follower;
  term = 0;
  leader = 0;
  // The state machine: a digest of everything applied, and the configuration.
  applied = 0;
  digest = 0;
  conf: ConfState = { voters: [], learners: [] };
  pending: Proposal[] = [];
  /** Set when the node was removed from the configuration and has been shut down for good. */
  retired = false;
  /** Until this virtual time the node's process is frozen (events wait for it). */
  pausedUntilMs = 0;
  /** When a committed configuration without this node was first seen (-1: never). */
  removedAtMs = -1;

  constructor(
    readonly id: number,
    readonly disk: SimDisk,
    private readonly context: SimContext,
  ) {}

  get running(): boolean {
    return this.raft !== null;
  }

  /** Starts (or restarts) the node from what its disk holds. */
  start(raft: RaftCore): void {
    const snapshot = this.disk.snapshot();
    this.raft = raft;
    this.incarnation++;
    this.inflight = null;
    this.role = Role.Follower;
    this.leader = 0;
    const hardState = this.disk.initialState().hardState;
    this.term = hardState.term;
    this.loadSnapshot(snapshot);
    this.context.checker.restarted(this.id, hardState.commit);
  }

  /** Power loss: the core and the state machine vanish; the disk keeps what was durable. */
  crash(): { survivedWrites: number; torn: boolean } {
    this.raft = null;
    this.inflight = null;
    this.pausedUntilMs = 0;
    this.inbox = [];
    this.deferredTicks = 0;
    for (const proposal of this.pending) this.context.proposalResolved(proposal, ProposalOutcome.Unknown);
    this.pending = [];
    return this.disk.crash(this.context.prng);
  }

  receive(message: Message): void {
    if (this.inflight !== null && !this.context.stepDuringSync) {
      this.inbox.push(message);
      return;
    }
    this.raft!.step(message);
    this.pump();
  }

  tick(): void {
    if (this.inflight !== null && !this.context.stepDuringSync) {
      this.deferredTicks++;
      return;
    }
    this.context.beforeTick(this.raft!);
    this.raft!.tick();
    this.pump();
  }

  /** Hands every pending Ready to the disk, and finishes those that need no sync. */
  pump(): void {
    const raft = this.raft;
    if (raft === null) return;
    while (this.inflight === null && raft.hasReady()) {
      const ready = raft.ready();
      const needsSync = this.persist(ready);
      if (!needsSync) {
        this.finish(ready);
        continue;
      }
      const latencyMs = this.context.prng.int(this.context.diskLatencyMaxMs + 1);
      if (latencyMs === 0) {
        this.disk.sync();
        this.finish(ready);
        continue;
      }
      this.inflight = ready;
      this.inflightSent = Sent.None;
      if (this.context.driverBugs.sendBeforePersist) {
        this.send(ready.messages, Pick.All);
        this.inflightSent = Sent.All;
      } else if (this.context.leaderSendsEarly) {
        this.send(ready.messages, Pick.Early);
        this.inflightSent = Sent.Early;
      }
      this.context.queue.push(this.context.nowMs + latencyMs, EventKind.DiskSync, this.id, this.incarnation);
    }
  }

  /** The disk's fsync for the in-flight Ready returned. */
  synced(): void {
    const ready = this.inflight;
    if (ready === null) return;
    this.disk.sync();
    this.inflight = null;
    this.finish(ready);
    const raft = this.raft!;
    for (; this.deferredTicks > 0; this.deferredTicks--) raft.tick();
    if (this.inbox.length > 0) {
      const inbox = this.inbox;
      this.inbox = [];
      for (const message of inbox) raft.step(message);
    }
    this.pump();
  }

  /** Step 1: write snapshot, entries and hard state. Returns whether the messages must wait for a sync. */
  private persist(ready: Ready): boolean {
    const { checker, trace, nowMs } = this.context;
    if (ready.softState !== undefined) {
      this.role = ready.softState.role;
      this.leader = ready.softState.leader;
    }
    if (ready.hardState !== undefined) this.term = ready.hardState.term;
    if (ready.softState !== undefined) trace.add(nowMs, TraceKind.Role, this.id, this.term, this.leader, 0, 0, this.role);
    let wrote = false;
    if (ready.snapshot !== undefined) {
      checker.snapshotWritten(this.id, this.term, ready.snapshot);
      this.disk.writeSnapshot(ready.snapshot);
      wrote = true;
    }
    if (ready.entries.length > 0) {
      // raft/README.md lets the driver compact up to its applied index between Readys; the core
      // must then never hand out entries at or below that point.
      const snapshotIndex = this.disk.snapshot().index;
      if (ready.entries[0].index <= snapshotIndex && ready.snapshot === undefined) {
        throw new InvariantViolation('Storage contract', `n${this.id}'s Ready holds entries from index ${ready.entries[0].index}, at or below its compacted index ${snapshotIndex}`);
      }
      checker.entriesWritten(this.id, this.term, this.disk, ready.entries);
      this.disk.writeEntries(ready.entries);
      wrote = true;
      if (this.pending.length > 0) this.failOverwritten(ready.entries[0].index);
      if (this.context.driverBugs.applyBeforeCommit) for (const entry of ready.entries) if (entry.index === this.applied + 1) this.apply(entry);
    }
    if (ready.hardState !== undefined) {
      const hardState = ready.hardState;
      checker.commitAdvanced(this.id, this.term, hardState.commit, this.disk);
      this.disk.writeHardState(this.context.driverBugs.forgetVote ? { term: hardState.term, vote: 0, commit: hardState.commit } : hardState);
      wrote = true;
    }
    for (const message of ready.messages) {
      const type = message.type;
      if (type === MessageType.Append || type === MessageType.Heartbeat || type === MessageType.Snapshot) checker.leaderActed(this.id, message.term);
    }
    if (this.role === Role.Leader) {
      checker.leaderActed(this.id, this.term);
      checker.leaderLogReady(this.id, this.term, this.disk);
    }
    if (wrote) trace.add(nowMs, TraceKind.Persist, this.id, this.term, ready.hardState?.vote ?? -1, ready.hardState?.commit ?? -1, this.disk.lastIndex());
    return wrote && ready.mustSync;
  }

  /** Steps 2-4: send, apply, advance. */
  private finish(ready: Ready): void {
    if (this.inflightSent !== Sent.All) this.send(ready.messages, this.inflightSent === Sent.Early ? Pick.Late : Pick.All);
    this.inflightSent = Sent.None;
    if (ready.snapshot !== undefined) {
      this.loadSnapshot(ready.snapshot);
      this.context.checker.snapshotApplied(this.id, ready.snapshot, this.digest);
      this.context.trace.add(this.context.nowMs, TraceKind.Snapshot, this.id, ready.snapshot.index, ready.snapshot.term);
      this.context.snapshotInstalled(this.id);
    }
    for (const entry of ready.committedEntries) {
      if (this.context.driverBugs.applyBeforeCommit && entry.index <= this.applied) continue;
      if (entry.index !== this.applied + 1) throw new InvariantViolation('Apply order', `n${this.id} is handed index ${entry.index} to apply after ${this.applied}`);
      this.apply(entry);
    }
    for (const state of ready.readStates) this.context.readAnswered(this, state);
    this.raft!.advance(ready);
    this.maybeCompact();
  }

  /** Sends all `messages`, only the leader's own traffic (Pick.Early), or all but that (Pick.Late). */
  private send(messages: Message[], pick: Pick): void {
    const { network, trace, nowMs, queue } = this.context;
    for (const message of messages) {
      if (pick !== Pick.All && sendableBeforePersist(message) !== (pick === Pick.Early)) continue;
      const copies = network.send(message, nowMs);
      // A cut link breaks the connection, which the transport reports; plain loss goes unnoticed.
      if (copies === LINK_DOWN && message.type === MessageType.Append) this.raft!.reportUnreachable(message.to);
      trace.add(nowMs, copies <= 0 ? TraceKind.Drop : TraceKind.Send, this.id, message.type + (message.reject ? REJECT_FLAG : 0), message.to, message.term, message.index);
      const type = message.type;
      if ((type === MessageType.VoteResponse || type === MessageType.AppendResponse) && !message.reject) this.context.criticalMoment(this);
      else if (type === MessageType.Append && message.entries.length > 0) this.context.criticalMoment(this);
      if (message.type === MessageType.Snapshot) {
        queue.push(nowMs + network.faults.delayMaxMs, EventKind.SnapshotStatus, this.id, this.incarnation, null, message.to, copies > 0);
      }
    }
  }

  private apply(entry: Entry): void {
    const fingerprint = entryFingerprint(entry);
    this.digest = Math.imul(this.digest ^ fingerprint, 0x9e3779b1) >>> 0;
    this.digest = (this.digest ^ (this.digest >>> 15)) >>> 0;
    this.applied = entry.index + entry.count - 1;
    const value = valueOf(entry);
    this.context.trace.add(this.context.nowMs, TraceKind.Apply, this.id, entry.index, entry.count, entry.term, value);
    this.context.checker.applied(this.id, entry, this.digest);
    if (entry.type === EntryType.ConfChange) {
      this.conf = applyConfChange(this.conf, this.context.decodeConfChange(entry.data));
      this.context.confApplied(this.id, this.applied, this.conf);
    }
    if (this.pending.length > 0) this.resolvePending(entry, value);
  }

  private resolvePending(entry: Entry, value: number): void {
    let kept = 0;
    for (const proposal of this.pending) {
      if (proposal.index > this.applied) {
        this.pending[kept++] = proposal;
      } else if (proposal.index === entry.index && proposal.term === entry.term) {
        if (value !== proposal.value || entry.count !== proposal.count) {
          throw new InvariantViolation('Proposal identity', `n${this.id} applies value ${value} at (${entry.index}, ${entry.term}) where it accepted value ${proposal.value}`);
        }
        this.context.checker.acknowledged(value, entry.index, entry.term);
        this.context.proposalResolved(proposal, ProposalOutcome.Committed);
      } else {
        this.context.proposalResolved(proposal, ProposalOutcome.Failed);
      }
    }
    this.pending.length = kept;
  }

  /** Proposals whose entries a new leader's entries replaced have failed; the client hears so now. */
  private failOverwritten(from: number): void {
    let kept = 0;
    for (const proposal of this.pending) {
      if (proposal.index < from || this.disk.holds(proposal.index, proposal.term)) this.pending[kept++] = proposal;
      else this.context.proposalResolved(proposal, ProposalOutcome.Failed);
    }
    this.pending.length = kept;
  }

  private loadSnapshot(snapshot: Snapshot): void {
    this.applied = snapshot.index;
    this.digest = decodeMachineDigest(snapshot.data);
    this.conf = { voters: snapshot.conf.voters.slice(), learners: snapshot.conf.learners.slice() };
    let kept = 0;
    for (const proposal of this.pending) {
      if (proposal.index > snapshot.index) this.pending[kept++] = proposal;
      else this.context.proposalResolved(proposal, ProposalOutcome.Unknown);
    }
    this.pending.length = kept;
  }

  private maybeCompact(): void {
    const disk = this.disk;
    if (disk.hasUnsynced || this.applied - disk.firstIndex() + 1 < this.context.compactEveryEntries) return;
    if (this.applied > disk.lastIndex()) return;
    const snapshot: Snapshot = {
      index: this.applied,
      term: disk.term(this.applied),
      conf: { voters: this.conf.voters.slice(), learners: this.conf.learners.slice() },
      data: encodeMachineState(this.digest, this.applied),
    };
    disk.compact(snapshot);
    this.context.trace.add(this.context.nowMs, TraceKind.Compact, this.id, snapshot.index, snapshot.term);
  }
}

/** The membership a committed ConfChange leaves behind. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== change.nodeId);
  const learners = conf.learners.filter((id) => id !== change.nodeId);
  if (change.type === ConfChangeType.AddVoter) voters.push(change.nodeId);
  else if (change.type === ConfChangeType.AddLearner) {
    if (conf.voters.includes(change.nodeId)) voters.push(change.nodeId);
    else learners.push(change.nodeId);
  }
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  return { voters, learners };
}
