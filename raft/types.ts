/**
 * The values that cross the boundary between the Raft state machine (raft/raft-node.ts) and its
 * driver (the broker's partition replica, the controller, or the simulator in test/raft/).
 *
 * Indices: an Entry covers the indices `index .. index + count - 1` (count >= 1), because in
 * Brook an entry is a record batch and a batch covers a range of offsets. "The last index of an
 * entry" is `index + count - 1`; the next entry starts at the index after it. Every index inside
 * an entry has that entry's term. Indices start at 1; index 0 with term 0 is the empty log's
 * sentinel. Terms start at 1 (term 0 means "none").
 */

export type NodeId = number;
/** 0 means "no node" (no vote, no known leader). Real node ids are >= 1. */
export const NO_NODE: NodeId = 0;

export enum EntryType {
  /** An application proposal (a record batch). */
  Normal = 0,
  /** The empty entry a new leader appends to commit its term (a leader marker control batch). */
  NoOp = 1,
  /** A configuration change; `data` is encodeConfChange(...) of a ConfChange. */
  ConfChange = 2,
}

export interface Entry {
  index: number;
  /** How many indices this entry covers (>= 1). */
  count: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export enum ConfChangeType {
  AddLearner = 0,
  /** Promote a learner (or add a node) as a voter. */
  AddVoter = 1,
  RemoveNode = 2,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
}

/**
 * A snapshot: the log now starts after `index` (term `term`). `data` is empty for a partition (its
 * meaning is "the log starts at index + 1"; the replica fetches nothing more) and holds the state
 * machine's serialized state for the controller.
 */
export interface Snapshot {
  index: number;
  term: number;
  conf: ConfState;
  data: Uint8Array;
}

export enum MessageType {
  /** Local: election timeout elapsed (the driver never sends this; tick() produces it). */
  Hup = 0,
  PreVote = 1,
  PreVoteResponse = 2,
  Vote = 3,
  VoteResponse = 4,
  Append = 5,
  AppendResponse = 6,
  Heartbeat = 7,
  HeartbeatResponse = 8,
  Snapshot = 9,
  /** The leader asks the target to campaign now (leadership transfer). */
  TimeoutNow = 10,
  /** A follower forwards a ReadIndex request to the leader. */
  ReadIndex = 11,
  ReadIndexResponse = 12,
}

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** Append: term of the entry ending at `index` (the previous entry). Vote: candidate's last term. */
  logTerm: number;
  /** Append: last index of the entry before `entries`. Vote: candidate's last index. Response: see raft-node. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** On a rejected append: the follower's hint of where the leader should probe next. */
  rejectHint: number;
  /** On a rejected append: the term at rejectHint in the follower's log (fast back-off). */
  rejectHintTerm: number;
  snapshot?: Snapshot;
  /** Opaque context: ReadIndex request ids, transfer markers. */
  context?: Uint8Array;
}

export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A linearizable read may be served once the applied index reaches `index`. */
export interface ReadState {
  index: number;
  requestContext: Uint8Array;
}

/**
 * What the state machine hands its driver. The driver must, in this order:
 *  1. persist `snapshot` (if any), then `entries` (truncating any conflicting suffix first), then
 *     `hardState` (if any) — durably, before step 2 for messages that are not from a leader
 *     (see raft/README.md);
 *  2. send `messages`;
 *  3. apply `committedEntries` in order;
 *  4. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  /** True when hardState or entries must reach the disk before `messages` are sent. */
  mustSync: boolean;
}

/**
 * The log as the driver has persisted it, read by the state machine. Appends and truncation happen
 * through Ready; this interface is read-only from Raft's side.
 */
export interface LogStorage {
  initialState(): { hardState: HardState; conf: ConfState };
  /** Index of the first entry still available (snapshot.index + 1 after compaction). */
  firstIndex(): number;
  /** Last index held (snapshot.index when the log is empty after a snapshot). */
  lastIndex(): number;
  /** Term of the entry covering index i; i may be firstIndex()-1 (the snapshot's term). Throws Compacted/Unavailable. */
  term(i: number): number;
  /** Entries that start at lo (lo must be an entry start) up to but not including index hi, at most maxBytes of data (always at least one). */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  snapshot(): Snapshot;
  /**
   * Optional: only the ConfChange entries among those starting in [lo, hi). On start the core
   * needs the configuration changes in the log after the snapshot; without this method it reads
   * every entry there once to find them.
   */
  confChanges?(lo: number, hi: number): Entry[];
}

export interface RaftConfig {
  id: NodeId;
  /** Ticks a follower waits without hearing a leader before campaigning; randomized in [t, 2t). */
  electionTicks: number;
  /** Ticks between leader heartbeats; must be < electionTicks. */
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Bytes of entry data per Append message (at least one entry is always sent). */
  maxMessageBytes: number;
  /** Entries per Append message. */
  maxEntriesPerMessage: number;
  /** Append messages in flight per follower in replicate mode. */
  maxInflightMessages: number;
  /** Bytes in flight per follower in replicate mode. */
  maxInflightBytes: number;
  /** Bytes of proposed-but-uncommitted entry data the leader accepts before refusing proposals. */
  maxUncommittedBytes: number;
  /**
   * Whether a leader quiesces its group once it is idle: it stops heartbeating, and its followers
   * stop their election timers, until something happens (raft/README.md, "Quiescence"). The
   * driver must then wake the group when a peer stops answering. Default false.
   */
  quiesceWhenIdle?: boolean;
  /** Seeded PRNG: returns a float in [0, 1). Never Math.random. */
  random: () => number;
  /**
   * On restart: the index through which the driver has already applied the log (kept by the
   * driver with its state machine). The node starts with applied = this, so `committedEntries`
   * never hands those entries out again and the core never reads them for that. It must be
   * `firstIndex() - 1` (the snapshot) or an entry's last index, and at most the commit index of
   * `initialState()` (asserted). Absent: the snapshot's index, and every committed entry after it
   * is handed out again.
   */
  applied?: number;
  /**
   * Test-only: known bugs, switched on one at a time by the simulator to show it catches them.
   * Never set outside test/.
   */
  testOnlyBugs?: {
    /** Commit an entry of a previous term by counting its replicas (Raft paper, figure 8). */
    commitPreviousTermByCounting?: boolean;
    /** Grant a vote without checking that the candidate's log is at least as up to date. */
    voteWithoutLogCheck?: boolean;
  };
}

/** Why a proposal was refused. Every refusal is an operating condition, never a crash. */
export type ProposeRefusal =
  /** This node is not the leader; `leader` is the leader it knows of (NO_NODE when none). */
  | 'not-leader'
  /** The leader holds maxUncommittedBytes of uncommitted entry data; retry after commits. */
  | 'uncommitted-bytes-limit'
  /** A leadership transfer is under way; proposals resume on the new leader. */
  | 'transferring'
  /** A configuration change is still unapplied, or the leader has not yet committed an entry of its term. */
  | 'conf-change-pending'
  /** The change makes no sense against the current configuration (e.g. removing the last voter). */
  | 'conf-change-invalid'
  /** A learner may be promoted only once it has caught up with the leader's commit index. */
  | 'learner-behind';

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; reason: ProposeRefusal; leader: NodeId };

export type ProgressStateName = 'probe' | 'replicate' | 'snapshot';

/** What the leader knows of one peer's log (reported by status()). */
export interface PeerProgress {
  /** Highest index known to be replicated on the peer (an entry's last index). */
  match: number;
  /** Index of the next entry to send (an entry's first index). */
  next: number;
  state: ProgressStateName;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  role: Role;
  leader: NodeId;
  conf: ConfState;
  /** Present on the leader only. */
  progress?: Map<NodeId, PeerProgress>;
  /** Present on the leader while a leadership transfer is under way. */
  transferee?: NodeId;
}
