/**
 * Operating errors of a partition replica. Each is expected in a healthy cluster (leadership moves,
 * a follower is asked to write, a leader is flooded) and reaches the caller as a typed error with
 * `retriable`, which the API layer maps to a protocol code (NOT_LEADER_OR_FOLLOWER, ...).
 */
import type { NodeId } from '../../raft/types.js';

export class ReplicaError extends Error {
  /** Whether the same request may succeed later (possibly on another broker). */
  readonly retriable: boolean;
  constructor(message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.retriable = retriable;
  }
}

/**
 * This replica is not the leader (or stopped being the leader before the append was decided).
 * `leaderHint` is the leader it knows of, 0 when none. When thrown for an append that was already
 * proposed, the append may still commit under the new leader: the outcome is unknown, as with
 * Kafka's NOT_LEADER_OR_FOLLOWER, and an idempotent producer's retry resolves it.
 */
export class NotLeaderError extends ReplicaError {
  override readonly name = 'NotLeaderError';
  constructor(
    readonly groupId: string,
    readonly leaderHint: NodeId,
    detail = 'not the leader',
  ) {
    super(`${groupId}: ${detail}${leaderHint !== 0 ? ` (leader is ${leaderHint})` : ' (no leader known)'}`, true);
  }
}

/** The leader holds as many uncommitted bytes as it accepts; retry once commits catch up. */
export class ReplicaBusyError extends ReplicaError {
  override readonly name = 'ReplicaBusyError';
  constructor(groupId: string, detail: string) {
    super(`${groupId}: ${detail}`, true);
  }
}

/** A membership change was refused (one is pending, it makes no sense, or the learner lags). */
export class MembershipChangeError extends ReplicaError {
  override readonly name = 'MembershipChangeError';
  constructor(
    groupId: string,
    readonly reason: string,
  ) {
    super(`${groupId}: membership change refused: ${reason}`, reason === 'conf-change-pending' || reason === 'learner-behind');
  }
}

/** The replica was closed (or failed) and takes no more requests. */
export class ReplicaClosedError extends ReplicaError {
  override readonly name = 'ReplicaClosedError';
  constructor(groupId: string, options?: { cause?: unknown }) {
    super(`${groupId}: replica is closed`, false, options);
  }
}

/** The replica's state file is unreadable or contradicts its log; the replica cannot start safely. */
export class ReplicaStateError extends ReplicaError {
  override readonly name = 'ReplicaStateError';
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`, false);
  }
}

/** The log's files did not hold what the log says they hold (a file gone or damaged behind its back). */
export class ColdReadError extends ReplicaError {
  override readonly name = 'ColdReadError';
  constructor(dir: string, detail: string) {
    super(`${dir}: ${detail}`, false);
  }
}
