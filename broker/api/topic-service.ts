/**
 * What the gRPC handlers need from "the topics": one interface with two implementations.
 * - Single broker (no peers configured): broker/topics/topic-registry.ts (TopicRegistry) with
 *   broker/partition/partition.ts (Partition): the broker leads everything, commit = flush.
 * - Cluster: broker/cluster/cluster-topics.ts over the controller's metadata, with
 *   broker/cluster/replicated-partition.ts (a Raft replica; commit = majority).
 */
import type { BrokerInfo, ErrorCode, LeaderHint } from '../../proto/brook-types.js';
import type { PartitionLog } from '../storage/partition-log.js';

/** 'all': committed (majority / flush policy); 'leader': on the leader's log. */
export type AppendAcks = 'all' | 'leader';

export interface AppendOutcome {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Broker time stamped under LogAppendTime; -1 otherwise. */
  readonly logAppendTimeMs: number;
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
  leadership(): { readonly errorCode: ErrorCode; readonly errorMessage: string; readonly currentLeader?: LeaderHint } | undefined;
  /** Appends concatenated batches (the buffer is handed over; offsets are stamped in place). */
  append(batches: Buffer, acks: AppendAcks): Promise<AppendOutcome>;
  /** Committed whole batches from the one holding `offset`, up to about maxBytes. */
  read(offset: number, maxBytes: number): Promise<Buffer>;
  /** Calls `listener` after the log end, log start or high watermark moved; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

export interface ServedTopic {
  readonly name: string;
  readonly topicId: string;
  readonly configs: Readonly<Record<string, string>>;
  /** Every partition of the topic, in index order; undefined where this broker holds no replica. */
  readonly partitions: readonly (ServedPartition | undefined)[];
}
