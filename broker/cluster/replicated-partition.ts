/**
 * A partition as the API layer serves it on a cluster broker: this broker's Raft replica of it
 * (broker/partition/replica.ts). Produce goes through the replica's append (offsets assigned by
 * the leader, acknowledged at commit or at the leader's write); fetch reads what is committed.
 * Only the leader serves; elsewhere leadership() names the leader so the client goes there.
 */
import type { ErrorCode, LeaderHint } from '../../proto/brook-types.js';
import { NO_NODE, Role } from '../../raft/types.js';
import { maxTimestampAt } from '../../record/batch-header.js';
import type { AppendAcks, AppendOutcome, ServedPartition } from '../api/topic-service.js';
import type { Replica } from '../partition/replica.js';
import { MembershipChangeError, NotLeaderError, ReplicaBusyError, ReplicaClosedError } from '../partition/replica-errors.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { TopicError } from '../topics/topic-error.js';

/**
 * A replica could not take a request, as the client must hear it. It is a TopicError, so the API
 * layer's mapError already reports `errorCode`; `currentLeader` is the leader hint to put beside
 * NOT_LEADER_OR_FOLLOWER when this broker knows the leader.
 */
export class ReplicaRequestError extends TopicError {
  constructor(
    errorCode: ErrorCode,
    message: string,
    readonly currentLeader: LeaderHint | undefined,
    readonly retriable: boolean,
  ) {
    super(errorCode, message);
  }
}

/** What a partition answers when it may not serve: the shape of ServedPartition.leadership(). */
export interface LeadershipRefusal {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  readonly currentLeader?: LeaderHint;
}

/**
 * The protocol answer for an error of a replica (broker/partition/replica-errors.ts), or undefined
 * for errors that are not a replica's (storage and record errors map as on a single broker).
 * - NotLeaderError: NOT_LEADER_OR_FOLLOWER, with the leader hint when a leader is known (the
 *   outcome of an append that was already proposed is unknown, as with Kafka);
 * - ReplicaBusyError: NOT_ENOUGH_REPLICAS (retriable): the leader holds as many uncommitted bytes as
 *   it accepts, i.e. its followers are not keeping up;
 * - ReplicaClosedError: NOT_LEADER_OR_FOLLOWER when closed on purpose (moved away, topic deleted,
 *   reopened for new configs: the client refreshes its metadata), KAFKA_STORAGE_ERROR when the
 *   replica failed on an I/O error (it is reopened by the replica manager);
 * - MembershipChangeError: REASSIGNMENT_IN_PROGRESS.
 */
export function replicaErrorCode(
  error: unknown,
  hint: (leaderId: number) => LeaderHint | undefined = () => undefined,
): { readonly errorCode: ErrorCode; readonly errorMessage: string; readonly currentLeader?: LeaderHint; readonly retriable: boolean } | undefined {
  if (error instanceof ReplicaRequestError) {
    return { errorCode: error.errorCode, errorMessage: error.message, currentLeader: error.currentLeader, retriable: error.retriable };
  }
  if (error instanceof NotLeaderError) {
    const currentLeader = error.leaderHint === NO_NODE ? undefined : hint(error.leaderHint);
    return { errorCode: 'NOT_LEADER_OR_FOLLOWER', errorMessage: error.message, currentLeader, retriable: true };
  }
  if (error instanceof ReplicaBusyError) return { errorCode: 'NOT_ENOUGH_REPLICAS', errorMessage: error.message, retriable: true };
  if (error instanceof ReplicaClosedError) {
    return error.cause === undefined
      ? { errorCode: 'NOT_LEADER_OR_FOLLOWER', errorMessage: error.message, retriable: true }
      : { errorCode: 'KAFKA_STORAGE_ERROR', errorMessage: `${error.message}: ${String(error.cause)}`, retriable: true };
  }
  if (error instanceof MembershipChangeError) return { errorCode: 'REASSIGNMENT_IN_PROGRESS', errorMessage: error.message, retriable: error.retriable };
  return undefined;
}

export interface ReplicatedPartitionOptions {
  readonly topic: string;
  readonly index: number;
  /** The partition's Raft group number on the peer transport. */
  readonly groupId: number;
  readonly replica: Replica;
  /** Whether the topic stamps broker time into batches (message.timestamp.type LogAppendTime). */
  readonly logAppendTime: boolean;
  /** The client address (host:port) of a broker, for leader hints; undefined when unknown. */
  readonly brokerAddress: (brokerId: number) => string | undefined;
  /** Whether the metadata considers a broker live; a follower reports the live voters as in sync. */
  readonly brokerLive?: (brokerId: number) => boolean;
}

export class ReplicatedPartition implements ServedPartition {
  readonly topic: string;
  readonly index: number;
  readonly groupId: number;
  readonly replica: Replica;

  constructor(private readonly options: ReplicatedPartitionOptions) {
    this.topic = options.topic;
    this.index = options.index;
    this.groupId = options.groupId;
    this.replica = options.replica;
  }

  /** The Raft term: the epoch of the leader this replica follows (or is). */
  get leaderEpoch(): number {
    return this.replica.status().term;
  }

  get highWatermark(): number {
    return this.replica.highWatermark;
  }

  get logStartOffset(): number {
    return this.replica.logStartOffset;
  }

  get logEndOffset(): number {
    return this.replica.logEndOffset;
  }

  get log(): PartitionLog {
    return this.replica.log;
  }

  /** True while this replica leads its group. */
  get isLeader(): boolean {
    return this.replica.role === Role.Leader;
  }

  /**
   * Undefined while this replica leads; NOT_LEADER_OR_FOLLOWER with where the leader is when it
   * follows a known leader; LEADER_NOT_AVAILABLE during an election.
   */
  leadership(): LeadershipRefusal | undefined {
    if (this.replica.failed !== undefined) {
      return { errorCode: 'KAFKA_STORAGE_ERROR', errorMessage: `${this.name}: the replica failed and is being reopened` };
    }
    if (this.replica.role === Role.Leader) return undefined;
    const leaderId = this.replica.leader;
    if (leaderId === NO_NODE) return { errorCode: 'LEADER_NOT_AVAILABLE', errorMessage: `${this.name}: no leader (an election is under way)` };
    return {
      errorCode: 'NOT_LEADER_OR_FOLLOWER',
      errorMessage: `${this.name}: broker ${leaderId} leads this partition`,
      currentLeader: this.leaderHint(leaderId),
    };
  }

  /**
   * Appends through the Raft leader: acks 'all' resolves at commit (a majority holds it), 'leader'
   * at the leader's own write. Errors of the replica reject as ReplicaRequestError (a TopicError
   * with its protocol code and, for NOT_LEADER_OR_FOLLOWER, the leader hint).
   */
  append(batches: Buffer, acks: AppendAcks): Promise<AppendOutcome> {
    return this.replica.append(batches, acks === 'leader' ? 'leader' : 'all').then(
      // Under LogAppendTime the leader stamped its clock into every batch of the (accepted) buffer.
      (outcome) => ({ baseOffset: outcome.baseOffset, lastOffset: outcome.lastOffset, logAppendTimeMs: this.options.logAppendTime ? maxTimestampAt(batches, 0) : -1 }),
      (error: unknown) => {
        throw this.requestError(error);
      },
    );
  }

  /**
   * The voters in sync with the leader. On the leader: itself and the voters it is streaming to
   * (progress state 'replicate': they acknowledged the recent entries), in voter order. A
   * follower does not know its peers' progress: it reports the voters of the configuration it
   * holds that the metadata considers live.
   */
  inSyncReplicaIds(): readonly number[] {
    const status = this.replica.status();
    if (status.role !== Role.Leader || status.progress === undefined) {
      const live = this.options.brokerLive;
      return live === undefined ? status.conf.voters : status.conf.voters.filter((id) => live(id));
    }
    const progress = status.progress;
    return status.conf.voters.filter((id) => id === status.id || progress.get(id)?.state === 'replicate');
  }

  read(offset: number, maxBytes: number): Promise<Buffer> {
    return this.replica.read(offset, maxBytes);
  }

  onChange(listener: () => void): () => void {
    return this.replica.onChange(listener);
  }

  /** The hint for clients: where `leaderId` serves, with its term. */
  leaderHint(leaderId: number): LeaderHint {
    return { leaderId, leaderEpoch: this.replica.status().term, address: this.options.brokerAddress(leaderId) ?? '' };
  }

  private get name(): string {
    return `${this.topic}-${this.index}`;
  }

  private requestError(error: unknown): unknown {
    const mapped = replicaErrorCode(error, (leaderId) => this.leaderHint(leaderId));
    if (mapped === undefined) return error;
    return new ReplicaRequestError(mapped.errorCode, mapped.errorMessage, mapped.currentLeader, mapped.retriable);
  }
}
