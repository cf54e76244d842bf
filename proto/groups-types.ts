/**
 * TypeScript shapes of the brook.v1 Groups service messages (proto/groups.proto) as
 * @grpc/proto-loader produces and accepts them with GROUPS_PROTO_LOADER_OPTIONS (the same options
 * as brook.proto: lowerCamelCase fields, int64 as number, enums as names, defaults filled in).
 *
 * Request messages mark fields with a useful default as optional (`?`); decoded responses have
 * every field. Field documentation lives in groups.proto.
 */
import type { BrokerInfo, ErrorCode } from './brook-types.js';

/** The protocol_type consumers send in JoinGroup. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** Generation id of an admin (simple) commit, and of an error answer to JoinGroup. */
export const NO_GENERATION_ID = -1;

/** Committed offset reported for a partition that has none. */
export const NO_COMMITTED_OFFSET = -1;

/** Group states as DescribeGroups and ListGroups report them. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export type ResetSpec = 'RESET_SPEC_EARLIEST' | 'RESET_SPEC_LATEST' | 'RESET_SPEC_OFFSET' | 'RESET_SPEC_TIMESTAMP';

// ---- FindCoordinator -------------------------------------------------------------------------

export interface FindCoordinatorRequest {
  groupId: string;
}

export interface FindCoordinatorResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  /** Set when errorCode is NONE (null/undefined otherwise). */
  coordinator?: BrokerInfo | null;
  offsetsPartition: number;
}

// ---- JoinGroup / SyncGroup / Heartbeat / LeaveGroup ------------------------------------------

export interface JoinGroupProtocol {
  name: string;
  metadata: Uint8Array;
}

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  /** 0 = equal to sessionTimeoutMs. */
  rebalanceTimeoutMs?: number;
  /** Empty on the first join. */
  memberId?: string;
  /** Static membership; empty for a dynamic member. */
  groupInstanceId?: string;
  protocolType: string;
  protocols: JoinGroupProtocol[];
  reason?: string;
  clientId?: string;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string;
  metadata: Buffer;
}

export interface JoinGroupResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  generationId: number;
  protocolType: string;
  protocolName: string;
  leader: string;
  memberId: string;
  /** Leader only. */
  members: JoinGroupMember[];
  skipAssignment: boolean;
}

export interface SyncGroupAssignment {
  memberId: string;
  assignment: Uint8Array;
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string;
  protocolType?: string;
  protocolName?: string;
  /** Leader only. */
  assignments?: SyncGroupAssignment[];
}

export interface SyncGroupResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  protocolType: string;
  protocolName: string;
  assignment: Buffer;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string;
}

export interface HeartbeatResponse {
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface LeavingMember {
  memberId?: string;
  groupInstanceId?: string;
  reason?: string;
}

export interface LeaveGroupRequest {
  groupId: string;
  members: LeavingMember[];
}

export interface LeaveGroupMemberResult {
  memberId: string;
  groupInstanceId: string;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface LeaveGroupResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  members: LeaveGroupMemberResult[];
}

// ---- OffsetCommit / OffsetFetch --------------------------------------------------------------

export interface OffsetCommitPartition {
  partition: number;
  committedOffset: number;
  /** -1 when unknown. */
  committedLeaderEpoch?: number;
  committedMetadata?: string;
}

export interface OffsetCommitTopic {
  name: string;
  partitions: OffsetCommitPartition[];
}

export interface OffsetCommitRequest {
  groupId: string;
  /** -1 with empty memberId = admin commit (group without members only). */
  generationId: number;
  memberId?: string;
  groupInstanceId?: string;
  topics: OffsetCommitTopic[];
}

export interface PartitionCommitResult {
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  /** The offset in force after the request; -1 when none. */
  committedOffset: number;
}

export interface TopicCommitResult {
  name: string;
  partitions: PartitionCommitResult[];
}

export interface OffsetCommitResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  topics: TopicCommitResult[];
}

export interface OffsetFetchTopic {
  name: string;
  /** Empty = every committed partition of the topic. */
  partitions?: number[];
}

export interface OffsetFetchRequest {
  groupId: string;
  /** Empty = every committed offset of the group. */
  topics?: OffsetFetchTopic[];
}

export interface OffsetFetchPartition {
  partition: number;
  /** -1 when none. */
  committedOffset: number;
  committedLeaderEpoch: number;
  committedMetadata: string;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface OffsetFetchTopicResult {
  name: string;
  partitions: OffsetFetchPartition[];
}

export interface OffsetFetchResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  topics: OffsetFetchTopicResult[];
}

// ---- Administration --------------------------------------------------------------------------

export interface ListGroupsRequest {
  statesFilter?: GroupState[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: GroupState;
}

export interface ListGroupsResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  groups: ListedGroup[];
}

export interface DescribeGroupsRequest {
  groupIds: string[];
  includeLag?: boolean;
}

export interface DescribedMember {
  memberId: string;
  groupInstanceId: string;
  clientId: string;
  clientHost: string;
  metadata: Buffer;
  assignment: Buffer;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

export interface DescribedOffset {
  topic: string;
  partition: number;
  committedOffset: number;
  committedMetadata: string;
  /** -1 when not asked for or unknown. */
  logEndOffset: number;
  /** -1 when logEndOffset is -1. */
  lag: number;
}

export interface DescribedGroup {
  groupId: string;
  errorCode: ErrorCode;
  errorMessage: string;
  state: GroupState | '';
  protocolType: string;
  protocolName: string;
  generationId: number;
  leader: string;
  members: DescribedMember[];
  offsets: DescribedOffset[];
}

export interface DescribeGroupsResponse {
  groups: DescribedGroup[];
}

export interface DeleteGroupsRequest {
  groupIds: string[];
}

export interface DeleteGroupResult {
  groupId: string;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface DeleteGroupsResponse {
  results: DeleteGroupResult[];
}

export interface ResetOffsetsTopic {
  name: string;
  /** Empty = every partition of the topic. */
  partitions?: number[];
}

export interface ResetOffsetsRequest {
  groupId: string;
  topics: ResetOffsetsTopic[];
  spec: ResetSpec;
  /** With RESET_SPEC_OFFSET. */
  offset?: number;
  /** With RESET_SPEC_TIMESTAMP. */
  timestampMs?: number;
  dryRun?: boolean;
}

export interface ResetOffsetsPartition {
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  previousOffset: number;
  newOffset: number;
}

export interface ResetOffsetsTopicResult {
  name: string;
  partitions: ResetOffsetsPartition[];
}

export interface ResetOffsetsResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  topics: ResetOffsetsTopicResult[];
}
