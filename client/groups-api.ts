/**
 * The consumer-group calls as the clients use them, independent of the wire: the consumer's
 * membership state machine talks to this interface, the gRPC GroupsClient implements it (finding
 * the group's coordinator and following it when it moves), and tests hand in an in-process
 * coordinator. Group errors come back as `errorCode` (ErrorCode names); only transport failures
 * throw.
 */

export interface GroupTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface GroupProtocol {
  /** Assignor name, e.g. 'range'. */
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinGroupRequest {
  readonly groupId: string;
  /** '' on the first join: the coordinator answers MEMBER_ID_REQUIRED with an id to join with. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** 'consumer' for consumer groups. */
  readonly protocolType: string;
  /** In order of preference. */
  readonly protocols: readonly GroupProtocol[];
}

export interface JoinGroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinGroupResponse {
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leaderId: string;
  readonly memberId: string;
  /** Filled for the leader only. */
  readonly members: readonly JoinGroupMember[];
  /** A static leader rejoined without a rebalance: it must not compute a new assignment. */
  readonly skipAssignment: boolean;
}

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocolName: string;
  /** The leader's assignment per member; empty from the other members. */
  readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Buffer }>;
  /** The member's rebalance timeout: the coordinator may hold SyncGroup open this long. */
  readonly rebalanceTimeoutMs?: number;
}

export interface SyncGroupResponse {
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly assignment: Buffer;
}

export interface MemberRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface HeartbeatRequest extends MemberRequest {
  readonly generationId: number;
}

export interface GroupResult {
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface OffsetCommitRequest extends HeartbeatRequest {
  readonly offsets: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: number; readonly metadata: string }>;
}

export interface PartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface CommittedOffset extends PartitionResult {
  /** -1 when nothing is committed. */
  readonly offset: number;
  readonly metadata: string;
}

export interface OffsetFetchResponse extends GroupResult {
  readonly partitions: readonly CommittedOffset[];
}

/**
 * Per call: `timeoutMs` bounds one attempt; `patient` false makes the call give up after one
 * attempt on a coordinator error or lost connection instead of finding the coordinator again and
 * retrying (heartbeats and auto-commits: the next one is the retry).
 */
export interface GroupCallOptions {
  readonly timeoutMs?: number;
  readonly patient?: boolean;
  /** When patient: give up retrying after this long in all (default: the client's retry budget). */
  readonly retryTimeMs?: number;
}

/** What the consumer's group membership needs from a coordinator. */
export interface GroupsApi {
  joinGroup(request: JoinGroupRequest, options?: GroupCallOptions): Promise<JoinGroupResponse>;
  syncGroup(request: SyncGroupRequest, options?: GroupCallOptions): Promise<SyncGroupResponse>;
  heartbeat(request: HeartbeatRequest, options?: GroupCallOptions): Promise<GroupResult>;
  leaveGroup(request: MemberRequest, options?: GroupCallOptions): Promise<GroupResult>;
  offsetCommit(request: OffsetCommitRequest, options?: GroupCallOptions): Promise<GroupResult & { partitions: readonly PartitionResult[] }>;
  /** Committed offsets of `partitions`, or of every partition the group has committed when null. */
  offsetFetch(request: { groupId: string; partitions: readonly GroupTopicPartition[] | null }, options?: GroupCallOptions): Promise<OffsetFetchResponse>;
}
