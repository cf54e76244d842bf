/**
 * TypeScript shapes of the brook.v1 messages as @grpc/proto-loader produces and accepts them with
 * BROOK_PROTO_LOADER_OPTIONS (see brook-proto.ts): lowerCamelCase fields, int64 as number, enums
 * as their names, absent nullable (one-field oneof) fields as undefined.
 *
 * Request messages mark fields with a useful default as optional (`?`); a decoded message always
 * has them (proto3 defaults). Response messages are typed as decoded: every non-nullable field
 * present. Field documentation lives in brook.proto.
 */

/** Error code names; numeric values (Kafka's) are in ERROR_CODE_VALUES. */
export type ErrorCode =
  | 'NONE'
  | 'UNKNOWN_SERVER_ERROR'
  | 'OFFSET_OUT_OF_RANGE'
  | 'CORRUPT_MESSAGE'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'INVALID_FETCH_SIZE'
  | 'LEADER_NOT_AVAILABLE'
  | 'NOT_LEADER_OR_FOLLOWER'
  | 'REQUEST_TIMED_OUT'
  | 'BROKER_NOT_AVAILABLE'
  | 'MESSAGE_TOO_LARGE'
  | 'OFFSET_METADATA_TOO_LARGE'
  | 'COORDINATOR_LOAD_IN_PROGRESS'
  | 'COORDINATOR_NOT_AVAILABLE'
  | 'NOT_COORDINATOR'
  | 'INVALID_TOPIC_EXCEPTION'
  | 'NOT_ENOUGH_REPLICAS'
  | 'NOT_ENOUGH_REPLICAS_AFTER_APPEND'
  | 'INVALID_REQUIRED_ACKS'
  | 'ILLEGAL_GENERATION'
  | 'INCONSISTENT_GROUP_PROTOCOL'
  | 'INVALID_GROUP_ID'
  | 'UNKNOWN_MEMBER_ID'
  | 'INVALID_SESSION_TIMEOUT'
  | 'REBALANCE_IN_PROGRESS'
  | 'INVALID_COMMIT_OFFSET_SIZE'
  | 'INVALID_TIMESTAMP'
  | 'TOPIC_ALREADY_EXISTS'
  | 'INVALID_PARTITIONS'
  | 'INVALID_REPLICATION_FACTOR'
  | 'INVALID_REPLICA_ASSIGNMENT'
  | 'INVALID_CONFIG'
  | 'NOT_CONTROLLER'
  | 'INVALID_REQUEST'
  | 'POLICY_VIOLATION'
  | 'KAFKA_STORAGE_ERROR'
  | 'REASSIGNMENT_IN_PROGRESS'
  | 'NON_EMPTY_GROUP'
  | 'GROUP_ID_NOT_FOUND'
  | 'FENCED_LEADER_EPOCH'
  | 'UNKNOWN_LEADER_EPOCH'
  | 'UNSUPPORTED_COMPRESSION_TYPE'
  | 'MEMBER_ID_REQUIRED'
  | 'GROUP_MAX_SIZE_REACHED'
  | 'FENCED_INSTANCE_ID'
  | 'INVALID_RECORD';

/** Kafka's numeric value of each error code, as on the wire. */
export const ERROR_CODE_VALUES: Readonly<Record<ErrorCode, number>> = Object.freeze({
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  MESSAGE_TOO_LARGE: 10,
  OFFSET_METADATA_TOO_LARGE: 12,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  INVALID_TIMESTAMP: 32,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  POLICY_VIOLATION: 44,
  KAFKA_STORAGE_ERROR: 56,
  REASSIGNMENT_IN_PROGRESS: 60,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  INVALID_RECORD: 87,
});

export type Acks = 'ACKS_ALL' | 'ACKS_LEADER' | 'ACKS_NONE';
export type TimestampType = 'CREATE_TIME' | 'LOG_APPEND_TIME';
export type Compression =
  | 'COMPRESSION_NONE'
  | 'COMPRESSION_GZIP'
  | 'COMPRESSION_SNAPPY'
  | 'COMPRESSION_LZ4'
  | 'COMPRESSION_ZSTD';
export type OffsetSpec = 'OFFSET_SPEC_LATEST' | 'OFFSET_SPEC_EARLIEST' | 'OFFSET_SPEC_TIMESTAMP';

/** Codec id (RecordBatch attributes bits 0-2) of each Compression value. */
export const COMPRESSION_CODEC_IDS: Readonly<Record<Compression, number>> = Object.freeze({
  COMPRESSION_NONE: 0,
  COMPRESSION_GZIP: 1,
  COMPRESSION_SNAPPY: 2,
  COMPRESSION_LZ4: 3,
  COMPRESSION_ZSTD: 4,
});

// ---- shared ----------------------------------------------------------------------------------

export interface RecordHeader {
  key: string;
  /** Absent = null. */
  value?: Buffer;
}

/** brook.v1.Record: a plain record for Produce (renamed here: `Record` is a TypeScript builtin). */
export interface PlainRecord {
  /** Absent = null. */
  key?: Uint8Array;
  /** Absent = null. */
  value?: Uint8Array;
  headers?: { key: string; value?: Uint8Array }[];
  timestampMs?: number;
}

export interface FetchedRecord {
  offset: number;
  timestampMs: number;
  key?: Buffer;
  value?: Buffer;
  headers: RecordHeader[];
  timestampType: TimestampType;
  leaderEpoch: number;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string;
}

export interface PartitionMetadata {
  errorCode: ErrorCode;
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicaIds: number[];
  inSyncReplicaIds: number[];
  /** While a reassignment runs: the replica set it moves to. */
  targetReplicaIds?: number[];
}

/** Sent with NOT_LEADER_OR_FOLLOWER: where the answering broker believes the leader is. */
export interface LeaderHint {
  leaderId: number;
  leaderEpoch: number;
  address: string;
}

export interface ConfigEntry {
  name: string;
  value: string;
  isDefault: boolean;
}

export interface TopicResult {
  name: string;
  errorCode: ErrorCode;
  errorMessage: string;
}

// ---- Metadata --------------------------------------------------------------------------------

export interface MetadataRequest {
  topics?: string[];
  allowAutoTopicCreation?: boolean;
}

export interface TopicMetadata {
  errorCode: ErrorCode;
  name: string;
  topicId: string;
  partitions: PartitionMetadata[];
}

export interface MetadataResponse {
  brokers: BrokerInfo[];
  clusterId: string;
  controllerId: number;
  topics: TopicMetadata[];
}

// ---- Produce ---------------------------------------------------------------------------------

export interface PartitionProduceData {
  partition: number;
  /** Concatenated RecordBatch v2 frames; exactly one of recordBatch and records. */
  recordBatch?: Uint8Array;
  records?: PlainRecord[];
  compression?: Compression;
}

export interface TopicProduceData {
  name: string;
  partitions: PartitionProduceData[];
}

export interface ProduceRequest {
  acks?: Acks;
  timeoutMs?: number;
  topics: TopicProduceData[];
}

export interface PartitionProduceResponse {
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  currentLeader?: LeaderHint | null;
}

export interface TopicProduceResponse {
  name: string;
  partitions: PartitionProduceResponse[];
}

export interface ProduceResponse {
  topics: TopicProduceResponse[];
}

// ---- Fetch and Subscribe ---------------------------------------------------------------------

export interface PartitionFetchData {
  partition: number;
  fetchOffset: number;
  partitionMaxBytes?: number;
  currentLeaderEpoch?: number;
}

export interface TopicFetchData {
  name: string;
  partitions: PartitionFetchData[];
}

export interface FetchRequest {
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  topics: TopicFetchData[];
  decodeRecords?: boolean;
}

export interface PartitionFetchResponse {
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  highWatermark: number;
  logStartOffset: number;
  recordBatches: Buffer;
  records: FetchedRecord[];
  nextFetchOffset: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  currentLeader?: LeaderHint | null;
}

export interface TopicFetchResponse {
  name: string;
  partitions: PartitionFetchResponse[];
}

export interface FetchResponse {
  topics: TopicFetchResponse[];
}

export interface SubscribeRequest {
  topics: TopicFetchData[];
  decodeRecords?: boolean;
}

export interface SubscribeResponse {
  topic: string;
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  highWatermark: number;
  logStartOffset: number;
  recordBatches: Buffer;
  records: FetchedRecord[];
  nextFetchOffset: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  currentLeader?: LeaderHint | null;
}

// ---- ListOffsets -----------------------------------------------------------------------------

export interface PartitionListOffsets {
  partition: number;
  spec?: OffsetSpec;
  timestampMs?: number;
}

export interface TopicListOffsets {
  name: string;
  partitions: PartitionListOffsets[];
}

export interface ListOffsetsRequest {
  topics: TopicListOffsets[];
}

export interface PartitionListOffsetsResponse {
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  offset: number;
  timestampMs: number;
  leaderEpoch: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  currentLeader?: LeaderHint | null;
}

export interface TopicListOffsetsResponse {
  name: string;
  partitions: PartitionListOffsetsResponse[];
}

export interface ListOffsetsResponse {
  topics: TopicListOffsetsResponse[];
}

// ---- Topic administration --------------------------------------------------------------------

export interface NewTopic {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: { [name: string]: string };
}

export interface CreateTopicsRequest {
  topics: NewTopic[];
  validateOnly?: boolean;
}

export interface CreateTopicsResponse {
  results: TopicResult[];
}

export interface DeleteTopicsRequest {
  names: string[];
}

export interface DeleteTopicsResponse {
  results: TopicResult[];
}

export interface DescribeTopicsRequest {
  names?: string[];
}

export interface TopicDescription {
  name: string;
  errorCode: ErrorCode;
  errorMessage: string;
  topicId: string;
  partitions: PartitionMetadata[];
  configs: ConfigEntry[];
}

export interface DescribeTopicsResponse {
  topics: TopicDescription[];
}

export interface AlterTopicConfig {
  name: string;
  set?: { [name: string]: string };
  remove?: string[];
}

export interface AlterTopicConfigsRequest {
  topics: AlterTopicConfig[];
  validateOnly?: boolean;
}

export interface AlterTopicConfigsResponse {
  results: TopicResult[];
}

export interface NewPartitions {
  name: string;
  totalCount: number;
}

export interface CreatePartitionsRequest {
  topics: NewPartitions[];
  validateOnly?: boolean;
}

export interface CreatePartitionsResponse {
  results: TopicResult[];
}

// ---- Cluster administration ------------------------------------------------------------------

export type ClusterBrokerState = 'LIVE' | 'FENCED' | 'DECOMMISSIONING' | 'DECOMMISSIONED';

export interface ClusterBroker {
  broker: BrokerInfo;
  state: ClusterBrokerState;
  replicaCount: number;
  leaderCount: number;
  internalAddress: string;
}

export interface DescribeClusterResponse {
  clusterId: string;
  controllerId: number;
  controllerVoterIds: number[];
  brokers: ClusterBroker[];
}

export interface PartitionReassignment {
  topic: string;
  partition: number;
  replicaIds: number[];
}

export interface ReassignPartitionsRequest {
  reassignments: PartitionReassignment[];
}

export interface ReassignmentResult {
  topic: string;
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface ReassignPartitionsResponse {
  results: ReassignmentResult[];
}

export type DescribeClusterRequest = Record<string, never>;

export interface DecommissionBrokerRequest {
  nodeId: number;
}

export interface DecommissionBrokerResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  partitionsMoved: number;
}
