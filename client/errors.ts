/**
 * Typed errors of the Brook clients. Every error a client raises is a BrookError (or a subclass)
 * carrying `retriable`: whether the same request may succeed if sent again, perhaps after a
 * metadata refresh. The retry module (retry.ts) is the only place that acts on that flag.
 *
 * Broker error codes are the names of the proto's ErrorCode enum; they mean what Kafka's mean.
 */

/** What the client does about a broker error code. */
interface ErrorCodeInfo {
  readonly retriable: boolean;
  /** The cached metadata is stale: refresh it before the retry. */
  readonly refreshMetadata: boolean;
}

/** How the client treats each broker error code. brook.proto documents which are retriable. */
export const ERROR_CODE_HANDLING: Readonly<Record<string, ErrorCodeInfo>> = {
  UNKNOWN_SERVER_ERROR: { retriable: true, refreshMetadata: false },
  OFFSET_OUT_OF_RANGE: { retriable: false, refreshMetadata: false },
  CORRUPT_MESSAGE: { retriable: true, refreshMetadata: false },
  UNKNOWN_TOPIC_OR_PARTITION: { retriable: true, refreshMetadata: true },
  INVALID_FETCH_SIZE: { retriable: false, refreshMetadata: false },
  LEADER_NOT_AVAILABLE: { retriable: true, refreshMetadata: true },
  NOT_LEADER_OR_FOLLOWER: { retriable: true, refreshMetadata: true },
  NOT_LEADER: { retriable: true, refreshMetadata: true },
  // The leader may have lost its quorum (paused, cut off): look again where the leader is.
  REQUEST_TIMED_OUT: { retriable: true, refreshMetadata: true },
  BROKER_NOT_AVAILABLE: { retriable: true, refreshMetadata: true },
  REPLICA_NOT_AVAILABLE: { retriable: true, refreshMetadata: true },
  MESSAGE_TOO_LARGE: { retriable: false, refreshMetadata: false },
  NETWORK_EXCEPTION: { retriable: true, refreshMetadata: true },
  NOT_ENOUGH_REPLICAS: { retriable: true, refreshMetadata: false },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { retriable: true, refreshMetadata: false },
  INVALID_TOPIC_EXCEPTION: { retriable: false, refreshMetadata: false },
  INVALID_TOPIC: { retriable: false, refreshMetadata: false },
  RECORD_LIST_TOO_LARGE: { retriable: false, refreshMetadata: false },
  INVALID_REQUIRED_ACKS: { retriable: false, refreshMetadata: false },
  INVALID_TIMESTAMP: { retriable: false, refreshMetadata: false },
  TOPIC_ALREADY_EXISTS: { retriable: false, refreshMetadata: false },
  INVALID_PARTITIONS: { retriable: false, refreshMetadata: false },
  INVALID_REPLICATION_FACTOR: { retriable: false, refreshMetadata: false },
  INVALID_REPLICA_ASSIGNMENT: { retriable: false, refreshMetadata: false },
  REASSIGNMENT_IN_PROGRESS: { retriable: false, refreshMetadata: false },
  INVALID_CONFIG: { retriable: false, refreshMetadata: false },
  INVALID_REQUEST: { retriable: false, refreshMetadata: false },
  NOT_CONTROLLER: { retriable: true, refreshMetadata: true },
  KAFKA_STORAGE_ERROR: { retriable: true, refreshMetadata: true },
  STORAGE_ERROR: { retriable: true, refreshMetadata: true },
  UNKNOWN_TOPIC_ID: { retriable: true, refreshMetadata: true },
  FENCED_LEADER_EPOCH: { retriable: true, refreshMetadata: true },
  UNKNOWN_LEADER_EPOCH: { retriable: true, refreshMetadata: true },
  THROTTLING_QUOTA_EXCEEDED: { retriable: true, refreshMetadata: false },
  POLICY_VIOLATION: { retriable: false, refreshMetadata: false },
  TOPIC_DELETION_DISABLED: { retriable: false, refreshMetadata: false },
  UNSUPPORTED_COMPRESSION_TYPE: { retriable: false, refreshMetadata: false },
  INVALID_RECORD: { retriable: false, refreshMetadata: false },
  // Consumer groups (client/groups-client.ts and consumer/ act on these; see client/group-errors.ts).
  // The coordinator moved or is loading: find it again and retry.
  COORDINATOR_LOAD_IN_PROGRESS: { retriable: true, refreshMetadata: false },
  COORDINATOR_NOT_AVAILABLE: { retriable: true, refreshMetadata: true },
  NOT_COORDINATOR: { retriable: true, refreshMetadata: true },
  // The membership changed: the group member rejoins; the same request is not sent again.
  ILLEGAL_GENERATION: { retriable: false, refreshMetadata: false },
  UNKNOWN_MEMBER_ID: { retriable: false, refreshMetadata: false },
  REBALANCE_IN_PROGRESS: { retriable: false, refreshMetadata: false },
  MEMBER_ID_REQUIRED: { retriable: false, refreshMetadata: false },
  FENCED_INSTANCE_ID: { retriable: false, refreshMetadata: false },
  // Bad input or a refused operation.
  OFFSET_METADATA_TOO_LARGE: { retriable: false, refreshMetadata: false },
  INCONSISTENT_GROUP_PROTOCOL: { retriable: false, refreshMetadata: false },
  INVALID_GROUP_ID: { retriable: false, refreshMetadata: false },
  INVALID_SESSION_TIMEOUT: { retriable: false, refreshMetadata: false },
  INVALID_COMMIT_OFFSET_SIZE: { retriable: false, refreshMetadata: false },
  NON_EMPTY_GROUP: { retriable: false, refreshMetadata: false },
  GROUP_ID_NOT_FOUND: { retriable: false, refreshMetadata: false },
  GROUP_MAX_SIZE_REACHED: { retriable: false, refreshMetadata: false },
};
const CODES = ERROR_CODE_HANDLING;

/** Base class of every error the clients raise. */
export class BrookError extends Error {
  override readonly name: string = 'BrookError';
  /** True when sending the same request again may succeed. */
  readonly retriable: boolean;
  /** The broker's ErrorCode name when the broker reported it, else a client-side code. */
  readonly code: string;
  /** True when the client should refresh its cluster metadata before retrying. */
  readonly refreshMetadata: boolean;

  constructor(message: string, options: { code: string; retriable: boolean; refreshMetadata?: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.retriable = options.retriable;
    this.refreshMetadata = options.refreshMetadata ?? false;
  }
}

/** An error the broker reported for one request or one partition, by ErrorCode name. */
export class BrokerError extends BrookError {
  override readonly name = 'BrokerError';
  constructor(code: string, detail?: string) {
    const info = CODES[code] ?? { retriable: false, refreshMetadata: false };
    super(detail ? `${code}: ${detail}` : code, { code, retriable: info.retriable, refreshMetadata: info.refreshMetadata });
  }
}

/** The broker could not be reached, or the connection broke mid-request. */
export class ConnectionError extends BrookError {
  override readonly name = 'ConnectionError';
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'CONNECTION_ERROR', retriable: true, refreshMetadata: true, cause });
  }
}

/** A request or an operation took longer than its deadline. */
export class TimeoutError extends BrookError {
  override readonly name = 'TimeoutError';
  constructor(message: string) {
    // No answer in time: the broker may be paused or cut off, so the retry looks up the leader again.
    super(message, { code: 'REQUEST_TIMED_OUT', retriable: true, refreshMetadata: true });
  }
}

/** The caller used the API wrongly (bad argument, wrong state); never retried. */
export class InvalidArgumentError extends BrookError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string) {
    super(message, { code: 'INVALID_ARGUMENT', retriable: false });
  }
}

/** An operation was attempted in a client state that does not allow it (see the state tables). */
export class StateError extends BrookError {
  override readonly name = 'StateError';
  constructor(message: string) {
    super(message, { code: 'INVALID_STATE', retriable: false });
  }
}

/** Retries ran out; `cause` holds the last error. */
export class RetriesExhaustedError extends BrookError {
  override readonly name = 'RetriesExhaustedError';
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    const inner = cause instanceof Error ? cause.message : String(cause);
    super(`gave up after ${attempts} attempts: ${inner}`, {
      code: cause instanceof BrookError ? cause.code : 'RETRIES_EXHAUSTED',
      retriable: false,
      cause,
    });
    this.attempts = attempts;
  }
}

/** True for a broker ErrorCode name that means success. */
export function isNoError(code: string | number | undefined | null): boolean {
  return code === undefined || code === null || code === 'NONE' || code === 0 || code === 'NO_ERROR' || code === '';
}

/** Whether an error code name is known to be retriable (unknown codes are not). */
export function isRetriableCode(code: string): boolean {
  return CODES[code]?.retriable ?? false;
}

/** Whether any error is retriable: BrookErrors say so themselves, anything else is not. */
export function isRetriable(error: unknown): boolean {
  return error instanceof BrookError && error.retriable;
}
