/**
 * What the gRPC handlers need from "the topics": one interface with two implementations.
 * - Single broker (no peers configured): broker/topics/topic-registry.ts (TopicRegistry) with
 *   broker/partition/partition.ts (Partition): the broker leads everything, commit = flush.
 * - Cluster: broker/cluster/cluster-topics.ts over the controller's metadata, with
 *   broker/cluster/replicated-partition.ts (a Raft replica; commit = majority).
 *
 * Handlers use nothing else to reach topics and partitions, so everything a handler answers is
 * the same code in both modes; only the views below differ.
 */
import type {
  BrokerInfo,
  DescribeClusterResponse,
  ErrorCode,
  LeaderHint,
  PartitionMetadata,
  ReassignmentResult,
} from '../../proto/brook-types.js';
import type { PartitionLog } from '../storage/partition-log.js';

/** 'all': committed (majority / flush policy); 'leader': on the leader's log. */
export type AppendAcks = 'all' | 'leader';

export interface AppendOutcome {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Broker time stamped under LogAppendTime; -1 otherwise. */
  readonly logAppendTimeMs: number;
}

/** Why this broker does not serve a partition's produce and fetch, as the API answers it. */
export interface LeadershipRefusal {
  /** NOT_LEADER_OR_FOLLOWER (another broker leads; `currentLeader` says which when known) or LEADER_NOT_AVAILABLE. */
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  readonly currentLeader?: LeaderHint;
}

/** A partition this broker holds a replica of. */
export interface ServedPartition {
  readonly topic: string;
  readonly index: number;
  /** The epoch clients see (Raft term of the current leader). */
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** The log underneath (timestamp lookups, sizes, retention). */
  readonly log: PartitionLog;
  /**
   * Undefined when this broker may serve produce and fetch for the partition (it leads it);
   * otherwise the error to answer with (NOT_LEADER_OR_FOLLOWER with a hint, or
   * LEADER_NOT_AVAILABLE during an election).
   */
  leadership(): LeadershipRefusal | undefined;
  /** Appends concatenated batches (the buffer is handed over; offsets are stamped in place). */
  append(batches: Buffer, acks: AppendAcks): Promise<AppendOutcome>;
  /** Committed whole batches from the one holding `offset`, up to about maxBytes. */
  read(offset: number, maxBytes: number): Promise<Buffer>;
  /** Calls `listener` after the log end, log start or high watermark moved; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Replicas caught up with the leader, when this replica knows (its leader does); else the replica set is reported. */
  inSyncReplicaIds?(): readonly number[];
}

export interface ServedTopic {
  readonly name: string;
  readonly topicId: string;
  readonly configs: Readonly<Record<string, string>>;
  /** Every partition of the topic, in index order; undefined where this broker holds no replica. */
  readonly partitions: readonly (ServedPartition | undefined)[];
}

export interface NewTopicSpec {
  readonly name: string;
  /** 0 = the broker default. */
  readonly numPartitions: number;
  /** 0 = the broker default (1 on a single broker; default.replication.factor in a cluster). */
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  /** One of Brook's own reserved topics (topic-name.ts INTERNAL_TOPIC_NAMES), created by the broker itself; never set from a client request. */
  readonly internal?: boolean;
}

/** One asked change of a partition's replica set. */
export interface ReassignmentSpec {
  readonly topic: string;
  readonly partition: number;
  /** The new replica set, preferred leader first. */
  readonly replicas: readonly number[];
}

export interface DecommissionOutcome {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  readonly partitionsMoved: number;
}

/**
 * The topics and the cluster as the API serves them. Admin changes reject with TopicError (its
 * code becomes the answer's error code); views are synchronous and cheap (Metadata calls them).
 */
export interface TopicService {
  /** The cluster id Metadata reports. */
  readonly clusterId: string;
  /** The topic, or undefined when it does not exist. */
  get(name: string): ServedTopic | undefined;
  /** The partition when the topic exists and this broker holds a replica of it. */
  partition(topic: string, index: number): ServedPartition | undefined;
  /** Every topic, sorted by name. */
  list(): readonly ServedTopic[];
  /** Partitions of every topic (held here or not). */
  partitionCount(): number;
  /**
   * The topic, created with the defaults when missing and auto-creation is on. Throws TopicError:
   * INVALID_TOPIC_EXCEPTION for an illegal name, UNKNOWN_TOPIC_OR_PARTITION when missing and
   * auto-creation is off.
   */
  getOrAutoCreate(name: string): Promise<ServedTopic>;
  createTopic(spec: NewTopicSpec, validateOnly: boolean): Promise<unknown>;
  deleteTopic(name: string): Promise<void>;
  alterTopicConfigs(name: string, set: Readonly<Record<string, string>>, remove: readonly string[], validateOnly: boolean): Promise<void>;
  createPartitions(name: string, totalCount: number, validateOnly: boolean): Promise<void>;
  /**
   * Metadata of every partition of the topic (held here or not): leader, epoch, replicas, in-sync
   * replicas, reassignment target, and an error where no leader is available. Undefined when the
   * topic does not exist.
   */
  describe(name: string): PartitionMetadata[] | undefined;
  /**
   * The refusal for a partition of an existing topic that this broker holds no replica of:
   * NOT_LEADER_OR_FOLLOWER with a hint to its leader, or LEADER_NOT_AVAILABLE.
   */
  notHeldHere(topic: string, index: number): LeadershipRefusal;
  /** Brokers clients may connect to (Metadata). */
  brokers(): BrokerInfo[];
  /** The controller's leader as Metadata reports it; -1 when there is none. */
  controllerId(): number;
  describeCluster(): DescribeClusterResponse;
  /** One result per asked change, in order. */
  reassign(list: readonly ReassignmentSpec[]): Promise<ReassignmentResult[]>;
  decommission(brokerId: number): Promise<DecommissionOutcome>;
}
