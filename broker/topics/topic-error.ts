import type { ErrorCode } from '../../proto/brook-types.js';

/**
 * An operating error of topic administration or routing, carrying the protocol error code the
 * API layer reports (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, ...).
 */
export class TopicError extends Error {
  override readonly name = 'TopicError';
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
