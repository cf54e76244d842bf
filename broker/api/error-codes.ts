/**
 * Translation of the broker's typed operating errors into protocol error codes. Anything not
 * recognised is a bug or an unexpected I/O failure: it maps to UNKNOWN_SERVER_ERROR and is logged
 * by the caller with its stack.
 */
import type { ErrorCode } from '../../proto/brook-types.js';
import { CorruptRecordError, InvalidRecordError } from '../../record/errors.js';
import {
  BatchTooLargeError,
  CorruptBatchError,
  LogClosedError,
  OffsetOutOfRangeError,
  StaleLeaderEpochError,
  StorageError,
} from '../storage/storage-errors.js';
import { NotLeaderError, ReplicaBusyError, ReplicaClosedError, ReplicaError } from '../partition/replica-errors.js';
import { TopicConfigError } from '../topics/topic-config.js';
import { TopicError } from '../topics/topic-error.js';

export interface MappedError {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  /** False for errors the broker did not expect: log them with their stack. */
  readonly expected: boolean;
}

/** The protocol error code and message for `error`. */
export function mapError(error: unknown): MappedError {
  const message = error instanceof Error ? error.message : String(error);
  const code = knownCode(error);
  return code === undefined
    ? { errorCode: 'UNKNOWN_SERVER_ERROR', errorMessage: message, expected: false }
    : { errorCode: code, errorMessage: message, expected: true };
}

function knownCode(error: unknown): ErrorCode | undefined {
  if (error instanceof TopicError) return error.errorCode;
  if (error instanceof TopicConfigError) return 'INVALID_CONFIG';
  if (error instanceof CorruptBatchError || error instanceof CorruptRecordError) return 'CORRUPT_MESSAGE';
  if (error instanceof BatchTooLargeError) return 'MESSAGE_TOO_LARGE';
  if (error instanceof OffsetOutOfRangeError) return 'OFFSET_OUT_OF_RANGE';
  if (error instanceof StaleLeaderEpochError) return 'FENCED_LEADER_EPOCH';
  if (error instanceof InvalidRecordError) return 'INVALID_RECORD';
  // A log closed without a failure was closed on purpose (topic deleted, configs altered): the
  // client refreshes its metadata and retries. A log that failed is a storage error.
  if (error instanceof LogClosedError) return error.cause === undefined ? 'NOT_LEADER_OR_FOLLOWER' : 'KAFKA_STORAGE_ERROR';
  // A replicated partition: leadership moved (the client looks for the new leader), the leader
  // holds as many uncommitted bytes as it takes (retry once followers catch up), or the replica
  // was closed on purpose (moved away, reopened for a config change) or failed.
  if (error instanceof NotLeaderError) return 'NOT_LEADER_OR_FOLLOWER';
  if (error instanceof ReplicaBusyError) return 'NOT_ENOUGH_REPLICAS';
  if (error instanceof ReplicaClosedError) return error.cause === undefined ? 'NOT_LEADER_OR_FOLLOWER' : 'KAFKA_STORAGE_ERROR';
  if (error instanceof ReplicaError) return 'KAFKA_STORAGE_ERROR';
  if (error instanceof StorageError) return 'KAFKA_STORAGE_ERROR';
  if (isSystemError(error)) return 'KAFKA_STORAGE_ERROR';
  return undefined;
}

/** A Node.js system error (EIO, EMFILE, ...): the disk or the OS failed, not the request. */
function isSystemError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** A log or replica closed without a failure: closed on purpose, and likely reopened as a new object. */
export function isClosedOnPurpose(error: unknown): boolean {
  return (error instanceof LogClosedError || error instanceof ReplicaClosedError) && error.cause === undefined;
}
