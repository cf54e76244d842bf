import assert from 'node:assert/strict';
import { decodeConfChange, encodeConfChange } from './conf-change-codec.js';
import { Membership } from './membership.js';
import { Progress } from './progress.js';
import { RaftLog, entryEnd } from './raft-log.js';
import { sendableBeforePersist } from './sendable-before-persist.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NO_NODE,
  Role,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type LogStorage,
  type Message,
  type NodeId,
  type PeerProgress,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
} from './types.js';

/** Marks a Vote that a leadership transfer asked for, so that voters ignore their leader lease. */
const TRANSFER_CONTEXT = Uint8Array.of(0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72);
/**
 * Marks the Heartbeat with which an idle leader quiesces its group (see raft/README.md,
 * "Quiescence"). Carried in the context, which the transport already forwards unchanged.
 */
export const QUIESCE_CONTEXT = Uint8Array.of(0x71, 0x75, 0x69, 0x65, 0x73, 0x63, 0x65);
/**
 * A quiesced leader repeats its quiescing heartbeat every this many election timeouts, so that a
 * follower that missed it, or a replica that reopened knowing no leader (one repairing lost entries
 * does not campaign, so it would not wake the group itself), hears from the leader after a while.
 */
export const QUIESCED_HEARTBEAT_ELECTION_TIMEOUTS = 10;
/** Bytes of committed entry data handed out in one Ready, so one Ready cannot hold a whole log. */
export const COMMITTED_BYTES_PER_READY_MAX = 64 * 1024 * 1024;
/** Read requests a leader queues (waiting for its first commit or for a quorum); more are dropped. */
export const PENDING_READS_MAX = 4096;

/** Each role reacts to time and to messages in its own way. */
interface RoleBehavior {
  role: Role;
  tick(): void;
  step(m: Message): void;
}

/** The only role changes Raft allows; anything else is a bug and throws. */
const ALLOWED_TRANSITIONS: Record<Role, readonly Role[]> = {
  [Role.Follower]: [Role.Follower, Role.PreCandidate, Role.Candidate],
  [Role.PreCandidate]: [Role.Follower, Role.PreCandidate, Role.Candidate],
  [Role.Candidate]: [Role.Follower, Role.PreCandidate, Role.Candidate, Role.Leader],
  [Role.Leader]: [Role.Follower],
};

interface ReadRequest {
  /** Commit index when the leader received the request; the read may be served once applied. */
  index: number;
  from: NodeId;
  context: Uint8Array;
  key: string;
  acks: Set<NodeId>;
}

/**
 * One member of a Raft group, as a pure state machine: no I/O, no timers, no clock, no global
 * randomness. See raft/README.md for the driver's obligations.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly log: RaftLog;

  private term = 0;
  private vote: NodeId = NO_NODE;
  private lead: NodeId = NO_NODE;
  private readonly membership: Membership;

  private behavior: RoleBehavior;
  private readonly behaviors: Record<Role, RoleBehavior>;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  /** Leader only: one Progress per voter and learner, including this node. */
  private progress = new Map<NodeId, Progress>();
  /** Candidates: granted (true) or refused (false) votes of this campaign. */
  private votes = new Map<NodeId, boolean>();
  private leadTransferee: NodeId = NO_NODE;
  /** Leader: no new configuration change until entries through this index are applied. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private readRequests: ReadRequest[] = [];
  /** Leader: read requests that arrived before it committed an entry of its term. */
  private readsAwaitingCommit: { from: NodeId; context: Uint8Array }[] = [];

  /**
   * Leader: entries were appended, or the commit index moved, since Appends were last built. The
   * Appends are built once per Ready (flushAppends), so a batch of proposals and the commit
   * advances of one cycle cost one Append per follower, not one each.
   */
  private appendsPending = false;
  private commitPending = false;
  /** Leader: peers that were paused and answered; they get an Append even with nothing new. */
  private readonly appendOwedTo = new Set<NodeId>();
  /**
   * Set while this node's log may lack entries it once acknowledged (its storage found them
   * damaged and cut them): it neither votes nor campaigns until it holds them again. See
   * suspendVoting.
   */
  private repair: { through: number; term: number } | undefined;
  /**
   * The group is idle and this node counts no time for it: a leader sends no heartbeats, a
   * follower's election timer stands still. Any input that may need time to pass ends it (see
   * raft/README.md, "Quiescence").
   */
  private quiesced = false;
  /** Quiesced leader: ticks since its quiescing heartbeat last went out. */
  private quiescedElapsed = 0;
  /** Leader: peers that answered since the last heartbeat went out (only they may be quiesced with). */
  private readonly answeredSinceHeartbeat = new Set<NodeId>();

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private previousHardState: HardState;
  private previousSoftState: SoftState;
  private readyOutstanding = false;

  constructor(config: RaftConfig, storage: LogStorage) {
    validateConfig(config);
    this.id = config.id;
    this.config = config;
    const { hardState, conf } = storage.initialState();
    this.log = new RaftLog(storage, hardState.commit, config.applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.membership = new Membership(conf, this.log.firstIndex() - 1);
    this.replayConfChanges(storage);
    this.previousHardState = { ...hardState };
    this.previousSoftState = { leader: NO_NODE, role: Role.Follower };
    this.behaviors = {
      [Role.Follower]: { role: Role.Follower, tick: () => this.tickElection(), step: (m) => this.stepFollower(m) },
      [Role.PreCandidate]: { role: Role.PreCandidate, tick: () => this.tickElection(), step: (m) => this.stepCandidate(m) },
      [Role.Candidate]: { role: Role.Candidate, tick: () => this.tickElection(), step: (m) => this.stepCandidate(m) },
      [Role.Leader]: { role: Role.Leader, tick: () => this.tickLeader(), step: (m) => this.stepLeader(m) },
    };
    this.behavior = this.behaviors[Role.Follower];
    this.becomeFollower(this.term, NO_NODE);
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. Elections and heartbeats are counted in ticks. */
  tick(): void {
    if (this.quiesced) {
      this.tickQuiesced();
      return;
    }
    this.behavior.tick();
    this.maybeStepDownAfterRemoval();
  }

  /**
   * tick() of a quiesced node, for drivers that tick many groups and want to skip the rest: a
   * quiesced follower counts nothing; a quiesced leader repeats its quiescing heartbeat every
   * QUIESCED_HEARTBEAT_ELECTION_TIMEOUTS election timeouts. Returns whether messages are waiting
   * (hasReady). Only while isQuiesced().
   */
  tickQuiesced(): boolean {
    assert.ok(this.quiesced, 'tickQuiesced() on a node that is not quiesced');
    if (this.behavior.role !== Role.Leader) return false;
    this.quiescedElapsed += 1;
    if (this.quiescedElapsed < QUIESCED_HEARTBEAT_ELECTION_TIMEOUTS * this.config.electionTicks) return false;
    this.quiesce();
    return this.hasReady();
  }

  /**
   * The log lost entries it had made durable (storage found them damaged and cut them): entries
   * up to `through` may have been acknowledged, and this node may have helped commit some of them
   * in terms up to `term`. Until it holds them again it must not campaign, and it votes only for
   * a candidate at least as up to date as its log was before the loss: a last entry of a term
   * above `term`, or of `term` at an index >= `through`. Such a log holds every entry committed at
   * or below `through` in a term <= `term` (the leader of its last term held them all, by leader
   * completeness, and its log matches that leader's up to its last index, which lies past them).
   * A vote for a shorter log could elect a leader that lacks a committed entry. Normal
   * voting resumes once the commit index it learned from a leader reaches `through`, or once a
   * leader of a later term has committed an entry of its own term that this log holds (every
   * entry committed before that term precedes it).
   */
  suspendVoting(through: number, term: number): void {
    assert.ok(Number.isSafeInteger(through) && through >= 0 && term >= 0, `suspendVoting(${through}, ${term})`);
    if (this.repair === undefined || through > this.repair.through || term > this.repair.term) {
      this.repair = { through: Math.max(through, this.repair?.through ?? 0), term: Math.max(term, this.repair?.term ?? 0) };
    }
    if (this.behavior.role !== Role.Follower) this.becomeFollower(this.term, this.behavior.role === Role.Leader ? NO_NODE : this.lead);
  }

  /** Whether the node still waits to hold again entries its storage lost (see suspendVoting). */
  votingSuspended(): boolean {
    const repair = this.repair;
    if (repair === undefined) return false;
    const committed = this.log.committed;
    const caughtUp = committed >= repair.through;
    const laterLeaderCommitted = this.term > repair.term && this.lead !== NO_NODE && committed > 0 && this.log.term(committed) === this.term;
    if (caughtUp || laterLeaderCommitted) this.repair = undefined;
    return this.repair !== undefined;
  }

  /**
   * Whether the group is quiesced on this node: tick() does next to nothing (tickQuiesced) until an
   * input ends it (a message that needs an answer, a proposal, wake()).
   */
  isQuiesced(): boolean {
    return this.quiesced;
  }

  /**
   * Ends quiescence; the driver calls it when the broker of a peer stopped answering, or came back
   * (see raft/README.md, "Quiescence"). A follower's election timer resumes as if its leader was
   * last heard `ticksSinceLeaderHeard` ticks ago, so a dead leader is replaced as soon as it would
   * have been without quiescence. A leader heartbeats at once and starts a check-quorum window in
   * which every peer must answer again; the window is counted as begun `ticksSinceHeard` ticks ago
   * (the silence of the peer that woke it), leaving at least two heartbeat rounds, so a leader cut
   * off from its quorum steps down about an election timeout after it last heard from it. No-op
   * when not quiesced.
   */
  wake(ticksSinceHeard: number): void {
    assert.ok(Number.isInteger(ticksSinceHeard) && ticksSinceHeard >= 0, `wake(${ticksSinceHeard})`);
    if (!this.quiesced) return;
    this.quiesced = false;
    if (this.behavior.role !== Role.Leader) {
      this.electionElapsed = ticksSinceHeard;
      return;
    }
    // Answers heard before the group went quiet say nothing about the peers now.
    for (const [id, peer] of this.progress) if (id !== this.id) peer.recentActive = false;
    this.electionElapsed = Math.min(ticksSinceHeard, Math.max(0, this.config.electionTicks - 2 * this.config.heartbeatTicks));
    this.heartbeatElapsed = 0;
    this.broadcastHeartbeat(undefined);
  }

  /** Whether a candidate (m: its last index and term) holds what this node's storage lost (see suspendVoting). */
  private repairAllowsVoteFor(m: Message): boolean {
    if (!this.votingSuspended()) return true;
    const repair = this.repair as { through: number; term: number };
    return m.logTerm > repair.term || (m.logTerm === repair.term && m.index >= repair.through);
  }

  /** Whether `id` is a voter or learner of the configuration in force (cheap; no allocation). */
  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  /** A message from a peer. Stale, duplicated and reordered messages are safe. */
  step(m: Message): void {
    assert.equal(m.to, this.id, `message for ${m.to} stepped into ${this.id}`);
    if (m.type === MessageType.Hup) {
      this.wake(0);
      this.hup(false);
      return;
    }
    if (this.quiesced && m.term >= this.term && this.wakesOn(m)) this.wake(0);
    if (m.term > this.term) {
      if (!this.acceptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.answerLowerTerm(m);
      return;
    }
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    this.behavior.step(m);
    this.maybeStepDownAfterRemoval();
  }

  /**
   * Appends one Normal entry covering `count` indices (a record batch of `count` records).
   * Leader only. The entry's first index is returned; it is committed when Ready says so.
   */
  propose(data: Uint8Array, count: number): ProposeResult {
    assert.ok(Number.isInteger(count) && count >= 1, `entry count ${count}`);
    const refusal = this.refuseProposal(data.length);
    if (refusal !== undefined) return refusal;
    this.wake(0);
    return this.appendOwn(EntryType.Normal, data, count);
  }

  /**
   * Proposes one membership change. It takes effect when appended; at most one may be uncommitted,
   * and a new leader accepts none before an entry of its own term has committed.
   */
  proposeConfChange(change: ConfChange): ProposeResult {
    const data = encodeConfChange(change);
    const refusal = this.refuseProposal(data.length) ?? this.refuseConfChange(change);
    if (refusal !== undefined) return refusal;
    this.wake(0);
    const result = this.appendOwn(EntryType.ConfChange, data, 1, change);
    assert.ok(result.ok);
    this.pendingConfIndex = result.index;
    return result;
  }

  /** Leader only: hand leadership to voter `to` once its log has caught up (within one election timeout). */
  transferLeadership(to: NodeId): void {
    if (this.behavior.role !== Role.Leader || to === this.id || !this.voters.has(to)) return;
    if (this.leadTransferee === to) return;
    this.wake(0);
    this.leadTransferee = to;
    // The transfer must finish within an election timeout or it is abandoned.
    this.electionElapsed = 0;
    const peer = this.peer(to);
    if (peer.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  /**
   * Asks for a linearizable read point. The answer arrives as a ReadState carrying the same
   * context (which must be unique per request); it is dropped when no leader is known, so callers
   * retry on their own timeout.
   */
  readIndex(requestContext: Uint8Array): void {
    this.wake(0);
    if (this.behavior.role === Role.Leader) this.handleReadIndexRequest(this.id, requestContext);
    else if (this.lead !== NO_NODE) this.send({ type: MessageType.ReadIndex, to: this.lead, context: requestContext });
  }

  /** The transport could not reach `id`: stop streaming to it and probe instead. */
  reportUnreachable(id: NodeId): void {
    const peer = this.behavior.role === Role.Leader ? this.progress.get(id) : undefined;
    if (peer !== undefined && peer.state === 'replicate' && id !== this.id) peer.becomeProbe();
  }

  /** The driver finished (ok) or gave up on (!ok) sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const peer = this.behavior.role === Role.Leader ? this.progress.get(id) : undefined;
    if (peer === undefined || peer.state !== 'snapshot') return;
    if (!ok) peer.pendingSnapshot = 0;
    peer.becomeProbe();
    // Wait for the peer's answer (or a heartbeat response) before probing again.
    peer.probeSent = true;
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    return (
      this.appendsPending ||
      this.commitPending ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstableEntries() ||
      this.log.pendingSnapshot() !== undefined ||
      this.log.committed > this.log.applying ||
      this.hardStateChanged() ||
      this.softStateChanged()
    );
  }

  /** Everything the driver must do next (see raft/README.md). Call advance(ready) before the next ready(). */
  ready(): Ready {
    assert.ok(!this.readyOutstanding, 'ready() called again before advance()');
    assert.ok(this.log.applying <= this.log.committed && this.log.committed <= this.log.lastIndex(), 'applying <= commit <= last index');
    this.flushAppends();
    const committedEntries = this.takeCommittedEntries();
    const snapshot = this.log.pendingSnapshot();
    const entries = this.log.unstableEntries();
    const hardState = this.hardStateChanged() ? this.currentHardState() : undefined;
    const softState = this.softStateChanged() ? this.currentSoftState() : undefined;
    const mustSync =
      entries.length > 0 ||
      snapshot !== undefined ||
      (hardState !== undefined && (hardState.term !== this.previousHardState.term || hardState.vote !== this.previousHardState.vote));
    if (hardState !== undefined) this.previousHardState = hardState;
    if (softState !== undefined) this.previousSoftState = softState;
    const ready: Ready = { entries, committedEntries, messages: this.messages, readStates: this.readStates, mustSync };
    if (hardState !== undefined) ready.hardState = hardState;
    if (softState !== undefined) ready.softState = softState;
    if (snapshot !== undefined) ready.snapshot = snapshot;
    this.messages = [];
    this.readStates = [];
    this.readyOutstanding = true;
    return ready;
  }

  /** The driver persisted, sent and applied `ready`. Its entries are now durable. */
  advance(ready: Ready): void {
    assert.ok(this.readyOutstanding, 'advance() without ready()');
    this.readyOutstanding = false;
    if (ready.snapshot !== undefined) {
      this.log.stableSnapshotTo(ready.snapshot.index);
      this.log.appliedTo(ready.snapshot.index);
    }
    this.log.stableTo(ready.entries);
    if (ready.committedEntries.length > 0) this.log.appliedTo(entryEnd(ready.committedEntries[ready.committedEntries.length - 1]));
    if (this.behavior.role === Role.Leader) {
      // The leader counts itself toward a quorum only for entries it knows are on its disk.
      const self = this.peer(this.id);
      self.match = Math.max(self.match, this.log.stableLastIndex());
      self.next = this.log.lastIndex() + 1;
      if (this.maybeCommit()) this.commitPending = true;
      this.maybeStepDownAfterRemoval();
    }
  }

  /**
   * Leader: builds the Appends that the next ready() would build and hands over, in order, the
   * queued messages that may leave before anything is persisted (sendableBeforePersist: Appends,
   * Heartbeats, Snapshots, TimeoutNow); the others stay for the next Ready. A driver calls it while
   * a Ready is still being written, so that entries proposed meanwhile, and the commit index that
   * answers moved meanwhile, reach the followers without waiting for that write. Allowed with a
   * Ready outstanding; returns nothing on other roles.
   */
  takeSendableMessages(): Message[] {
    if (this.behavior.role !== Role.Leader) return [];
    this.flushAppends();
    const sendable: Message[] = [];
    const rest: Message[] = [];
    for (const message of this.messages) (sendableBeforePersist(message) ? sendable : rest).push(message);
    this.messages = rest;
    return sendable;
  }

  /**
   * Leader: the commit index, which may have moved (answers stepped in) since the last ready().
   * Undefined on other roles: a follower's commit may name entries its storage is still about to
   * overwrite, so only the Ready path publishes it there.
   */
  leaderCommitIndex(): number | undefined {
    return this.behavior.role === Role.Leader ? this.log.committed : undefined;
  }

  status(): RaftStatus {
    const status: RaftStatus = {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      role: this.behavior.role,
      leader: this.lead,
      conf: this.membership.current(),
    };
    if (this.behavior.role === Role.Leader) {
      const progress = new Map<NodeId, PeerProgress>();
      for (const [id, peer] of this.progress) progress.set(id, { match: peer.match, next: peer.next, state: peer.state });
      status.progress = progress;
      if (this.leadTransferee !== NO_NODE) status.transferee = this.leadTransferee;
    }
    return status;
  }

  /**
   * The configuration in force at `index`, for a driver that compacts its log there (the
   * snapshot's conf). Valid for indices from the last snapshot on.
   */
  confStateAt(index: number): ConfState {
    return this.membership.at(index);
  }

  /** Read-only access to the log's bounds, for drivers and tests. */
  lastIndex(): number {
    return this.log.lastIndex();
  }

  // ---------------------------------------------------------------- roles

  private transition(to: Role): void {
    const from = this.behavior.role;
    if (!ALLOWED_TRANSITIONS[from].includes(to)) throw new Error(`raft ${this.id}: impossible transition ${from} -> ${to}`);
    this.behavior = this.behaviors[to];
  }

  private reset(term: number): void {
    if (term !== this.term) {
      assert.ok(term > this.term, `term ${this.term} -> ${term} goes backwards`);
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.quiesced = false;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTicks + Math.floor(this.config.random() * this.config.electionTicks);
    this.leadTransferee = NO_NODE;
    this.votes = new Map();
    this.progress = new Map();
    this.uncommittedBytes = 0;
    this.pendingConfIndex = 0;
    this.readRequests = [];
    this.readsAwaitingCommit = [];
    this.appendsPending = false;
    this.commitPending = false;
    this.appendOwedTo.clear();
    this.answeredSinceHeartbeat.clear();
  }

  private becomeFollower(term: number, lead: NodeId): void {
    // A leader stepping down within its term still tells its peers what it appended and committed.
    if (this.behavior.role === Role.Leader && term === this.term) this.flushAppends();
    this.transition(Role.Follower);
    this.reset(term);
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // A pre-candidate neither bumps its term nor votes: a campaign that cannot win disturbs nobody.
    this.transition(Role.PreCandidate);
    this.votes = new Map();
    this.lead = NO_NODE;
  }

  private becomeCandidate(): void {
    this.transition(Role.Candidate);
    this.reset(this.term + 1);
    this.vote = this.id;
  }

  private becomeLeader(): void {
    assert.equal(this.vote, this.id, 'a leader voted for itself in its term');
    this.transition(Role.Leader);
    this.reset(this.term);
    this.lead = this.id;
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.voters, ...this.learners]) {
      this.progress.set(id, new Progress(next, this.learners.has(id), this.config.maxInflightMessages, this.config.maxInflightBytes));
    }
    const self = this.peer(this.id);
    self.match = this.log.stableLastIndex();
    self.becomeReplicate();
    self.recentActive = true;
    // The no-op commits this term; until it is applied, no configuration change may be proposed
    // (a new leader must not append a change before committing an entry of its own term).
    const noOp = this.appendOwn(EntryType.NoOp, new Uint8Array(0), 1);
    assert.ok(noOp.ok);
    this.pendingConfIndex = noOp.index;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumRecentlyActive()) {
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      this.leadTransferee = NO_NODE;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      if (this.config.quiesceWhenIdle === true && this.idle()) this.quiesce();
      else this.broadcastHeartbeat(undefined);
    }
  }

  /**
   * Leader: nothing is left to do until something new happens. Everything is committed, applied
   * and on every member's disk (each member's match is the last index); every peer answered since
   * the last heartbeat went out (one that died earlier than that keeps the group awake); no
   * transfer, read or membership change is under way.
   */
  private idle(): boolean {
    const last = this.log.lastIndex();
    if (this.log.committed !== last || this.log.applied !== last || this.log.hasUnstableEntries()) return false;
    if (this.leadTransferee !== NO_NODE || this.readRequests.length > 0 || this.readsAwaitingCommit.length > 0) return false;
    if (this.appendsPending || this.commitPending || this.readyOutstanding) return false;
    for (const [id, peer] of this.progress) {
      if (peer.match !== last) return false;
      if (id !== this.id && (!this.answeredSinceHeartbeat.has(id) || peer.state !== 'replicate' || peer.inflightCount() > 0)) return false;
    }
    return true;
  }

  /**
   * Leader: stops heartbeating this group and tells every peer, with the commit index, that it may
   * stop its election timer too. A peer that misses this keeps its timer running and, when it runs
   * out, campaigns: its pre-vote wakes the group (which costs an election timeout, nothing more).
   */
  private quiesce(): void {
    this.quiesced = true;
    this.quiescedElapsed = 0;
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      this.send({ type: MessageType.Heartbeat, to: id, commit: this.log.committed, context: QUIESCE_CONTEXT });
    }
  }

  /**
   * Whether a message of the current term (or a later one) ends quiescence. A leader stays quiet
   * for the answers to its quiescing heartbeat and for acknowledgements of what peers already
   * hold; everything else, on a follower anything at all, may need time to pass.
   */
  private wakesOn(m: Message): boolean {
    if (this.behavior.role !== Role.Leader || m.term !== this.term || m.reject) return true;
    if (m.type === MessageType.HeartbeatResponse) return false;
    return !(m.type === MessageType.AppendResponse && m.index <= (this.progress.get(m.from)?.match ?? -1));
  }

  /** Starts a campaign: a pre-vote first unless a leadership transfer asked for this one. */
  private hup(transfer: boolean): void {
    if (this.behavior.role === Role.Leader || !this.promotable()) return;
    this.campaign(this.config.preVote && !transfer ? Role.PreCandidate : Role.Candidate, transfer);
  }

  private campaign(role: Role.PreCandidate | Role.Candidate, transfer: boolean): void {
    let voteTerm: number;
    if (role === Role.PreCandidate) {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (role === Role.PreCandidate) this.campaign(Role.Candidate, transfer);
      else this.becomeLeader();
      return;
    }
    const type = role === Role.PreCandidate ? MessageType.PreVote : MessageType.Vote;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.sortedVoters()) {
      if (id === this.id) continue;
      const m: Partial<Message> & { type: MessageType; to: NodeId } = { type, to: id, term: voteTerm, index: lastIndex, logTerm: lastTerm };
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.send(m);
    }
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const id of this.voters) {
      const vote = this.votes.get(id);
      if (vote === true) yes++;
      else if (vote === false) no++;
    }
    const quorum = this.quorum();
    if (yes >= quorum) return 'won';
    if (no > this.voters.size - quorum) return 'lost';
    return 'pending';
  }

  // ---------------------------------------------------------------- terms and votes

  /** Returns false when the message must be dropped. */
  private acceptHigherTerm(m: Message): boolean {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      const forced = m.context !== undefined && sameBytes(m.context, TRANSFER_CONTEXT);
      // Leader lease: while we hear from a leader, a candidate that cannot reach it must not
      // depose it (check-quorum guarantees that a leader we heard from recently is alive).
      const inLease = this.config.checkQuorum && this.lead !== NO_NODE && this.electionElapsed < this.config.electionTicks;
      if (inLease && !forced) return false;
    }
    if (m.type === MessageType.PreVote) return true;
    if (m.type === MessageType.PreVoteResponse && !m.reject) return true;
    const fromLeader = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
    this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
    return true;
  }

  private answerLowerTerm(m: Message): void {
    if (m.type === MessageType.Append || m.type === MessageType.Heartbeat) {
      // A leader of an older term learns our term and steps down. Without this a node whose term
      // ran ahead (say, campaigning against an outdated membership) could never be reached again.
      this.send({ type: MessageType.AppendResponse, to: m.from });
    } else if (m.type === MessageType.PreVote) {
      this.send({ type: MessageType.PreVoteResponse, to: m.from, reject: true });
    }
  }

  private handleVoteRequest(m: Message): void {
    const isPreVote = m.type === MessageType.PreVote;
    const responseType = isPreVote ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    const canVote = this.vote === m.from || (this.vote === NO_NODE && this.lead === NO_NODE) || (isPreVote && m.term > this.term);
    const upToDate = this.config.testOnlyBugs?.voteWithoutLogCheck === true || this.log.isUpToDate(m.index, m.logTerm);
    if (canVote && upToDate && this.repairAllowsVoteFor(m)) {
      // A pre-vote answer carries the term it grants, so the pre-candidate can match it up.
      this.send({ type: responseType, to: m.from, term: m.term });
      if (!isPreVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: responseType, to: m.from, reject: true });
    }
  }

  // ---------------------------------------------------------------- follower and candidates

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        this.hup(true);
        return;
      case MessageType.ReadIndexResponse:
        this.readStates.push({ index: m.index, requestContext: m.context ?? new Uint8Array(0) });
        return;
      default:
        // Responses addressed to an earlier role of this node, and requests only a leader serves.
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        // A leader of our term exists: we lost the election.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case MessageType.PreVoteResponse:
      case MessageType.VoteResponse: {
        const expected = this.behavior.role === Role.PreCandidate ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        if (m.type !== expected) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.behavior.role === Role.PreCandidate) this.campaign(Role.Candidate, false);
          else this.becomeLeader();
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NO_NODE);
        }
        return;
      }
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: MessageType.AppendResponse, to: m.from, index: this.log.committed });
      return;
    }
    const appended = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (appended !== undefined) {
      if (appended.written.length > 0) this.membershipWritten(appended.written);
      this.send({ type: MessageType.AppendResponse, to: m.from, index: appended.lastNew });
      return;
    }
    const hint = this.rejectHint(m.index, m.logTerm);
    const hintTerm = this.log.term(hint);
    assert.ok(hintTerm !== undefined);
    this.send({ type: MessageType.AppendResponse, to: m.from, index: m.index, reject: true, rejectHint: hint, rejectHintTerm: hintTerm });
  }

  /**
   * Where the leader should probe next after our log did not hold (prevIndex, prevTerm): an entry
   * end in our log, below prevIndex, whose term is at most prevTerm (the leader's log cannot match
   * ours anywhere our term is higher than its). Never below our commit index, which matches.
   */
  private rejectHint(prevIndex: number, prevTerm: number): number {
    const last = this.log.lastIndex();
    if (prevIndex > last) return last;
    const ourTerm = this.log.term(prevIndex);
    assert.ok(ourTerm !== undefined && ourTerm !== prevTerm);
    return this.log.lastIndexWithTermBelow(this.log.committed + 1, prevIndex, Math.min(ourTerm, prevTerm + 1));
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    const response: Partial<Message> & { type: MessageType; to: NodeId } = { type: MessageType.HeartbeatResponse, to: m.from };
    if (m.commit > this.log.lastIndex()) {
      // The leader sends min(our match, its commit): it believes we hold entries we no longer do
      // (our storage lost them). Committed entries are never cut otherwise, so this is no stale
      // view; tell it where our log really ends.
      response.reject = true;
      response.rejectHint = this.log.lastIndex();
    }
    if (m.context !== undefined) response.context = m.context;
    this.send(response);
    // The leader went quiet with everything committed that this log holds: stop the election
    // timer (electionElapsed is 0 now, so the leader lease holds until the group wakes).
    if (m.context !== undefined && response.reject !== true && sameBytes(m.context, QUIESCE_CONTEXT)) this.quiesced = true;
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    assert.ok(snapshot !== undefined, 'Snapshot message without a snapshot');
    if (snapshot.index > this.log.committed) {
      if (this.log.matchTerm(snapshot.index, snapshot.term)) {
        // Our log already holds the snapshot's last entry: just learn that it is committed.
        this.log.commitTo(snapshot.index);
      } else {
        this.log.restore(snapshot);
        this.membership.reset(snapshot.conf, snapshot.index);
      }
    }
    this.send({ type: MessageType.AppendResponse, to: m.from, index: this.log.committed });
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        assert.fail(`raft ${this.id}: two leaders in term ${this.term} (${this.id} and ${m.from})`);
        return;
      case MessageType.AppendResponse:
        this.handleAppendResponse(m);
        return;
      case MessageType.HeartbeatResponse:
        this.handleHeartbeatResponse(m);
        return;
      case MessageType.ReadIndex:
        this.handleReadIndexRequest(m.from, m.context ?? new Uint8Array(0));
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message): void {
    const peer = this.progress.get(m.from);
    if (peer === undefined) return;
    peer.recentActive = true;
    if (m.reject) {
      if (peer.maybeDecrease(m.index, this.backOff(m.rejectHint, m.rejectHintTerm))) this.sendAppend(m.from, true);
      return;
    }
    const wasPaused = peer.isPaused();
    if (peer.maybeUpdate(m.index)) {
      if (peer.state === 'probe') {
        peer.becomeReplicate();
      } else if (peer.state === 'snapshot' && peer.match >= peer.pendingSnapshot) {
        peer.becomeProbe();
        peer.becomeReplicate();
      }
      // The window this acknowledgement freed is filled when the Ready is built, together with
      // whatever else arrives in the meantime.
      if (this.maybeCommit()) this.commitPending = true;
      else if (wasPaused) this.appendOwedTo.add(m.from);
      if (wasPaused || peer.next <= this.log.lastIndex()) this.appendsPending = true;
      if (m.from === this.leadTransferee && peer.match === this.log.lastIndex()) {
        this.sendTimeoutNow(m.from);
      }
    }
  }

  /**
   * The leader's half of the fast back-off: given that the follower's log has term `hintTerm` at
   * `hint` (an entry end there), return an index of our log, below the rejected one, where the
   * two logs may match and which is an entry end in ours.
   */
  private backOff(hint: number, hintTerm: number): number {
    const h = Math.min(hint, this.log.lastIndex());
    const ourTerm = this.log.term(h);
    // Compacted here: the probe below the first index turns into a snapshot.
    if (ourTerm === undefined) return h;
    if (ourTerm === hintTerm) return h;
    return this.log.lastIndexWithTermBelow(this.log.firstIndex() - 1, h, Math.min(ourTerm, hintTerm + 1));
  }

  private handleHeartbeatResponse(m: Message): void {
    const peer = this.progress.get(m.from);
    if (peer === undefined) return;
    peer.recentActive = true;
    this.answeredSinceHeartbeat.add(m.from);
    peer.probeSent = false;
    // Appends may have been lost; free one slot so replication cannot stall on a full window.
    if (peer.state === 'replicate' && peer.inflightFull()) peer.freeOldestInflight();
    if (m.reject && m.rejectHint < peer.match) peer.lostEntriesAfter(m.rejectHint);
    // Even with nothing new to send, an (empty) Append makes a peer whose Appends were lost
    // reject, which puts it back into probing.
    if (peer.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context !== undefined && m.context.length > 0) this.ackRead(m.from, m.context);
  }

  /** Sends `to` the entries it lacks (or a snapshot); returns whether a message left. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const peer = this.peer(to);
    if (peer.isPaused()) return false;
    const prevIndex = peer.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, peer);
    const last = this.log.lastIndex();
    const entries = peer.next <= last ? this.log.slice(peer.next, last + 1, this.config.maxMessageBytes, this.config.maxEntriesPerMessage) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: MessageType.Append, to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    if (entries.length > 0) {
      let bytes = 0;
      for (const entry of entries) bytes += entry.data.length;
      peer.sentEntries(entryEnd(entries[entries.length - 1]), bytes);
    } else if (peer.state === 'probe') {
      peer.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, peer: Progress): boolean {
    // Snapshots are expensive: send one only to a peer that has answered recently.
    if (!peer.recentActive) return false;
    const snapshot = this.storageSnapshot();
    this.send({ type: MessageType.Snapshot, to, snapshot, commit: this.log.committed });
    peer.becomeSnapshot(snapshot.index);
    return true;
  }

  private storageSnapshot(): Snapshot {
    // A node elected while the driver was still installing a snapshot it received sends that one.
    const snapshot = this.log.pendingSnapshot() ?? this.log.storageSnapshot();
    assert.ok(snapshot.index >= this.log.firstIndex() - 1, `storage snapshot ${snapshot.index} older than first index ${this.log.firstIndex()}`);
    return snapshot;
  }

  /**
   * Leader, when a Ready is built: sends each peer the entries it lacks, filling its in-flight
   * window (one Append when they fit in one message). A peer with nothing new still gets an empty
   * Append when the commit index moved since Appends were last built, when it is probing (a peer
   * just added learns where its log stands), or when it was paused and has answered.
   */
  private flushAppends(): void {
    const commitMoved = this.commitPending;
    const anything = this.appendsPending || commitMoved;
    this.appendsPending = false;
    this.commitPending = false;
    if (anything && this.behavior.role === Role.Leader) {
      for (const [id, peer] of this.progress) {
        if (id === this.id) continue;
        if (!this.sendAppend(id, commitMoved || this.appendOwedTo.has(id) || peer.state === 'probe')) continue;
        while (this.sendAppend(id, false)) {
          // Fill the in-flight window.
        }
      }
    }
    this.appendOwedTo.clear();
  }

  /** The target campaigns on receipt: the Appends built so far (with the latest commit) go first. */
  private sendTimeoutNow(to: NodeId): void {
    this.flushAppends();
    this.send({ type: MessageType.TimeoutNow, to });
  }

  private broadcastHeartbeat(context: Uint8Array | undefined): void {
    if (context === undefined) this.answeredSinceHeartbeat.clear();
    for (const [id, peer] of this.progress) {
      if (id === this.id) continue;
      const m: Partial<Message> & { type: MessageType; to: NodeId } = {
        type: MessageType.Heartbeat,
        to: id,
        // Never tell a peer a commit index beyond what it is known to hold.
        commit: Math.min(peer.match, this.log.committed),
      };
      if (context !== undefined) m.context = context;
      this.send(m);
    }
  }

  /** Advances the commit index to what a quorum of voters holds, if that entry is of this term. */
  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    const quorumIndex = matches[this.quorum() - 1];
    if (quorumIndex <= this.log.committed) return false;
    const byCounting = this.config.testOnlyBugs?.commitPreviousTermByCounting === true;
    // Figure 8 of the Raft paper: counting replicas of an older term's entry does not make it safe.
    if (this.log.term(quorumIndex) !== this.term && !byCounting) return false;
    this.log.commitTo(quorumIndex);
    this.releaseReadsAwaitingCommit();
    return true;
  }

  private quorumRecentlyActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      const peer = this.progress.get(id);
      if (peer === undefined) continue;
      if (id === this.id || peer.recentActive) active++;
    }
    for (const [id, peer] of this.progress) if (id !== this.id) peer.recentActive = false;
    return active >= this.quorum();
  }

  private refuseProposal(bytes: number): ProposeResult | undefined {
    if (this.behavior.role !== Role.Leader) return { ok: false, reason: 'not-leader', leader: this.lead };
    if (this.leadTransferee !== NO_NODE) return { ok: false, reason: 'transferring', leader: this.lead };
    // One entry is always accepted when nothing is pending, so an entry larger than the limit
    // cannot wedge the group.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedBytes) {
      return { ok: false, reason: 'uncommitted-bytes-limit', leader: this.lead };
    }
    return undefined;
  }

  private refuseConfChange(change: ConfChange): ProposeResult | undefined {
    const refuse = (reason: 'conf-change-pending' | 'conf-change-invalid' | 'learner-behind'): ProposeResult => ({ ok: false, reason, leader: this.lead });
    if (this.pendingConfIndex > this.log.committed) return refuse('conf-change-pending');
    const id = change.nodeId;
    switch (change.type) {
      case ConfChangeType.AddLearner:
        return this.voters.has(id) || this.learners.has(id) || id === NO_NODE ? refuse('conf-change-invalid') : undefined;
      case ConfChangeType.AddVoter:
        if (this.voters.has(id) || id === NO_NODE) return refuse('conf-change-invalid');
        if (this.learners.has(id) && this.peer(id).match < this.log.committed) return refuse('learner-behind');
        return undefined;
      case ConfChangeType.RemoveNode:
        if (!this.voters.has(id) && !this.learners.has(id)) return refuse('conf-change-invalid');
        return this.voters.has(id) && this.voters.size === 1 ? refuse('conf-change-invalid') : undefined;
    }
  }

  private appendOwn(type: EntryType, data: Uint8Array, count: number, change?: ConfChange): ProposeResult {
    const entry: Entry = { index: this.log.lastIndex() + 1, count, term: this.term, type, data };
    this.log.append([entry]);
    this.uncommittedBytes += data.length;
    if (change !== undefined) {
      // The new configuration is in force from this moment: it decides the quorum for this very
      // entry and who receives it.
      this.membership.append(entry.index, change);
      this.syncProgress();
    }
    this.appendsPending = true;
    return { ok: true, index: entry.index, term: entry.term };
  }

  // ---------------------------------------------------------------- reads

  private handleReadIndexRequest(from: NodeId, context: Uint8Array): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Our commit index may lag the true one until an entry of our term commits.
      if (this.readsAwaitingCommit.length < PENDING_READS_MAX) this.readsAwaitingCommit.push({ from, context });
      return;
    }
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.answerRead(from, this.log.committed, context);
      return;
    }
    if (this.readRequests.length >= PENDING_READS_MAX) return;
    const key = bytesKey(context);
    this.readRequests.push({ index: this.log.committed, from, context, key, acks: new Set([this.id]) });
    this.broadcastHeartbeat(context);
  }

  private releaseReadsAwaitingCommit(): void {
    if (this.readsAwaitingCommit.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const waiting = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const read of waiting) this.handleReadIndexRequest(read.from, read.context);
  }

  /** A heartbeat answer confirms we were still leader when every earlier read request arrived. */
  private ackRead(from: NodeId, context: Uint8Array): void {
    const key = bytesKey(context);
    const position = this.readRequests.findIndex((request) => request.key === key);
    if (position < 0) return;
    const request = this.readRequests[position];
    if (this.voters.has(from)) request.acks.add(from);
    let acked = 0;
    for (const id of request.acks) if (this.voters.has(id)) acked++;
    if (acked < this.quorum()) return;
    const released = this.readRequests.splice(0, position + 1);
    for (const read of released) this.answerRead(read.from, read.index, read.context);
  }

  private answerRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, requestContext: context });
    else this.send({ type: MessageType.ReadIndexResponse, to: from, index, context });
  }

  // ---------------------------------------------------------------- configuration

  private takeCommittedEntries(): Entry[] {
    if (this.log.committed <= this.log.applying) return [];
    const entries = this.log.slice(this.log.applying + 1, this.log.committed + 1, COMMITTED_BYTES_PER_READY_MAX, Number.MAX_SAFE_INTEGER);
    this.log.applying = entryEnd(entries[entries.length - 1]);
    if (this.behavior.role === Role.Leader) {
      for (const entry of entries) this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entry.data.length);
    }
    return entries;
  }

  /** A follower wrote `entries` (after dropping everything from entries[0].index on). */
  private membershipWritten(entries: Entry[]): void {
    this.membership.truncateFrom(entries[0].index);
    for (const entry of entries) {
      if (entry.type === EntryType.ConfChange) this.membership.append(entry.index, decodeConfChange(entry.data));
    }
  }

  /** Rebuilds the configurations carried by the log after the snapshot (on start). */
  private replayConfChanges(storage: LogStorage): void {
    const hi = this.log.lastIndex() + 1;
    if (storage.confChanges !== undefined) {
      const lo = this.log.firstIndex();
      for (const entry of storage.confChanges(lo, hi)) {
        assert.ok(entry.type === EntryType.ConfChange && entry.index >= lo && entry.index < hi, `confChanges(${lo}, ${hi}) returned ${entry.type} at ${entry.index}`);
        this.membership.append(entry.index, decodeConfChange(entry.data));
      }
      return;
    }
    let lo = this.log.firstIndex();
    while (lo < hi) {
      const entries = this.log.slice(lo, hi, COMMITTED_BYTES_PER_READY_MAX, Number.MAX_SAFE_INTEGER);
      for (const entry of entries) {
        if (entry.type === EntryType.ConfChange) this.membership.append(entry.index, decodeConfChange(entry.data));
      }
      lo = entryEnd(entries[entries.length - 1]) + 1;
    }
  }

  /** Leader: one Progress per member (and always one for itself, even once it is removed). */
  private syncProgress(): void {
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.voters, ...this.learners]) {
      const existing = this.progress.get(id);
      if (existing !== undefined) existing.isLearner = this.learners.has(id);
      else this.progress.set(id, new Progress(next, this.learners.has(id), this.config.maxInflightMessages, this.config.maxInflightBytes));
    }
    for (const id of [...this.progress.keys()]) {
      if (id !== this.id && !this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    if (!this.voters.has(this.leadTransferee)) this.leadTransferee = NO_NODE;
  }

  /**
   * A leader whose removal has committed hands over to its most caught-up voter and steps down.
   * Until then it leads a configuration it is not part of: it replicates, but does not count
   * itself toward any quorum.
   */
  private maybeStepDownAfterRemoval(): void {
    if (this.behavior.role !== Role.Leader || this.voters.has(this.id)) return;
    if (this.log.committed < this.membership.latestIndex()) return;
    let best: NodeId = NO_NODE;
    let bestMatch = -1;
    for (const id of this.sortedVoters()) {
      const match = this.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== NO_NODE && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, NO_NODE);
  }

  // ---------------------------------------------------------------- small helpers

  private get voters(): ReadonlySet<NodeId> {
    return this.membership.voters;
  }

  private get learners(): ReadonlySet<NodeId> {
    return this.membership.learners;
  }

  private promotable(): boolean {
    return this.voters.has(this.id) && !this.votingSuspended();
  }

  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  private sortedVoters(): NodeId[] {
    return [...this.voters].sort((a, b) => a - b);
  }

  private peer(id: NodeId): Progress {
    const peer = this.progress.get(id);
    assert.ok(peer !== undefined, `no progress for ${id}`);
    return peer;
  }

  private currentHardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private currentSoftState(): SoftState {
    return { leader: this.lead, role: this.behavior.role };
  }

  private hardStateChanged(): boolean {
    const previous = this.previousHardState;
    return previous.term !== this.term || previous.vote !== this.vote || previous.commit !== this.log.committed;
  }

  private softStateChanged(): boolean {
    return this.previousSoftState.leader !== this.lead || this.previousSoftState.role !== this.behavior.role;
  }

  private send(fields: Partial<Message> & { type: MessageType; to: NodeId }): void {
    assert.ok(fields.to !== this.id, `raft ${this.id} sending to itself`);
    this.messages.push({
      from: this.id,
      term: this.term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      rejectHintTerm: 0,
      ...fields,
    });
  }
}

function validateConfig(config: RaftConfig): void {
  assert.ok(config.id >= 1, 'node id must be >= 1');
  assert.ok(config.heartbeatTicks >= 1 && config.electionTicks > config.heartbeatTicks, 'need 1 <= heartbeatTicks < electionTicks');
  for (const name of ['maxMessageBytes', 'maxEntriesPerMessage', 'maxInflightMessages', 'maxInflightBytes', 'maxUncommittedBytes'] as const) {
    assert.ok(Number.isFinite(config[name]) && config[name] >= 1, `${name} must be a positive limit`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bytesKey(bytes: Uint8Array): string {
  let key = '';
  for (const byte of bytes) key += byte.toString(16).padStart(2, '0');
  return key;
}
