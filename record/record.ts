/** The record types callers hand to the encoder and get back from the decoder. */

/** A record header: a UTF-8 key and a value that may be null. Keys may repeat. */
export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record to encode. */
export interface ProduceRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Milliseconds since the epoch; defaults to the batch's `nowMs`. */
  timestamp?: number;
}

/**
 * A decoded record. `key`, `value` and header values are views into the batch's bytes (or its
 * decompressed records), not copies: keep them only as long as that buffer may be kept.
 */
export interface DecodedRecord {
  offset: number;
  /** CreateTime from the record, or the batch's maxTimestamp for LogAppendTime batches. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}
