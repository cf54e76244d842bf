/**
 * The two operating errors of the record format. Bad bytes from a client, a peer or the disk
 * surface as one of these and never as anything else, so a handler maps them to a wire error code
 * without guessing.
 */

/**
 * The bytes are not a valid batch: CRC mismatch, a length or count that does not match the bytes
 * that are there, truncation, an over-long varint, or more decompressed data than allowed.
 * Maps to Kafka's CORRUPT_MESSAGE.
 */
export class CorruptRecordError extends Error {
  readonly code = 'CORRUPT_MESSAGE';
  /** A short machine-readable cause, e.g. 'bad-crc', 'truncated', 'varint-overflow'. */
  readonly reason: string;

  constructor(reason: string, detail?: string) {
    super(detail === undefined ? `corrupt record batch: ${reason}` : `corrupt record batch: ${reason}: ${detail}`);
    this.name = 'CorruptRecordError';
    this.reason = reason;
  }
}

/**
 * The request cannot be served as asked though the bytes may be intact: unknown magic or codec, a
 * batch or record over a size limit, or arguments out of range. Maps to Kafka's INVALID_RECORD.
 */
export class InvalidRecordError extends Error {
  readonly code = 'INVALID_RECORD';

  constructor(message: string) {
    super(message);
    this.name = 'InvalidRecordError';
  }
}

/** True for the two errors above: the only ones the record format lets escape on bad input. */
export function isRecordFormatError(error: unknown): error is CorruptRecordError | InvalidRecordError {
  return error instanceof CorruptRecordError || error instanceof InvalidRecordError;
}
