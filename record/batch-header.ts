/**
 * The fixed 61-byte header of a Kafka RecordBatch v2 (magic 2), read and stamped in place.
 *
 * Layout (big-endian):
 *
 *   offset size field
 *        0    8 baseOffset            \
 *        8    4 batchLength            | outside the CRC: the leader stamps
 *       12    4 partitionLeaderEpoch  /  baseOffset and epoch in place
 *       16    1 magic (= 2)
 *       17    4 crc (CRC32C of bytes 21 .. end)
 *       21    2 attributes (bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
 *       23    4 lastOffsetDelta
 *       27    8 baseTimestamp
 *       35    8 maxTimestamp
 *       43    8 producerId
 *       51    2 producerEpoch
 *       53    4 baseSequence
 *       57    4 recordCount
 *       61      records (compressed as a whole when a codec is set)
 *
 * batchLength counts the bytes after the batchLength field: total size = batchLength + 12.
 *
 * Every function here works on a batch that starts at `pos` inside `buf`, so callers can walk a
 * buffer of many batches (a segment read, a fetch response) without slicing.
 */
import { crc32c } from '@node-rs/crc32';

export const MAGIC_V2 = 2;
export const BATCH_HEADER_BYTES = 61;
/** Bytes before batchLength's counted region: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD_BYTES = 12;

export const OFFSET_BASE_OFFSET = 0;
export const OFFSET_BATCH_LENGTH = 8;
export const OFFSET_PARTITION_LEADER_EPOCH = 12;
export const OFFSET_MAGIC = 16;
export const OFFSET_CRC = 17;
export const OFFSET_ATTRIBUTES = 21;
export const OFFSET_LAST_OFFSET_DELTA = 23;
export const OFFSET_BASE_TIMESTAMP = 27;
export const OFFSET_MAX_TIMESTAMP = 35;
export const OFFSET_PRODUCER_ID = 43;
export const OFFSET_PRODUCER_EPOCH = 51;
export const OFFSET_BASE_SEQUENCE = 53;
export const OFFSET_RECORD_COUNT = 57;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_TYPE_LOG_APPEND = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

/** Compression codec ids, as in the attributes' low three bits. */
export enum Codec {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export type BatchHeaderError = 'truncated' | 'bad-length' | 'bad-magic' | 'bad-crc';

/** Total bytes of the batch at `pos` (header + records), from its batchLength; no validation. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + OFFSET_BATCH_LENGTH) + BATCH_LOG_OVERHEAD_BYTES;
}

export function baseOffsetAt(buf: Buffer, pos: number): bigint {
  return buf.readBigInt64BE(pos + OFFSET_BASE_OFFSET);
}

/** baseOffset as a JS number; offsets stay below 2^53 in Brook. */
export function baseOffsetNumberAt(buf: Buffer, pos: number): number {
  return Number(buf.readBigInt64BE(pos + OFFSET_BASE_OFFSET));
}

export function lastOffsetDeltaAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + OFFSET_LAST_OFFSET_DELTA);
}

export function partitionLeaderEpochAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + OFFSET_PARTITION_LEADER_EPOCH);
}

export function attributesAt(buf: Buffer, pos: number): number {
  return buf.readInt16BE(pos + OFFSET_ATTRIBUTES);
}

export function recordCountAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + OFFSET_RECORD_COUNT);
}

export function baseTimestampAt(buf: Buffer, pos: number): number {
  return Number(buf.readBigInt64BE(pos + OFFSET_BASE_TIMESTAMP));
}

export function maxTimestampAt(buf: Buffer, pos: number): number {
  return Number(buf.readBigInt64BE(pos + OFFSET_MAX_TIMESTAMP));
}

export function isControlBatch(buf: Buffer, pos: number): boolean {
  return (attributesAt(buf, pos) & ATTR_CONTROL) !== 0;
}

/** CRC32C over attributes .. end of the batch at `pos` of total size `size`. */
export function computeBatchCrc(buf: Buffer, pos: number, size: number): number {
  return crc32c(buf.subarray(pos + OFFSET_ATTRIBUTES, pos + size)) >>> 0;
}

/**
 * Checks the framing of the batch at `pos`: enough bytes for the header, a batchLength that fits
 * within `end` and covers the header, magic 2, and (when `checkCrc`) the CRC. Returns null when
 * valid, otherwise why not. Never throws, never allocates more than the CRC's view.
 */
export function checkBatchAt(buf: Buffer, pos: number, end: number, checkCrc: boolean): BatchHeaderError | null {
  if (end - pos < BATCH_HEADER_BYTES) return 'truncated';
  const batchLength = buf.readInt32BE(pos + OFFSET_BATCH_LENGTH);
  if (batchLength < BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES) return 'bad-length';
  const size = batchLength + BATCH_LOG_OVERHEAD_BYTES;
  if (size > end - pos) return 'truncated';
  if (buf.readInt8(pos + OFFSET_MAGIC) !== MAGIC_V2) return 'bad-magic';
  if (buf.readInt32BE(pos + OFFSET_LAST_OFFSET_DELTA) < 0) return 'bad-length';
  if (checkCrc && buf.readUInt32BE(pos + OFFSET_CRC) !== computeBatchCrc(buf, pos, size)) return 'bad-crc';
  return null;
}

/** The header fields a batch's writer chooses (all but batchLength, magic and the CRC). */
export interface BatchHeaderFields {
  readonly baseOffset: number;
  readonly partitionLeaderEpoch: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/** Writes a signed 64-bit big-endian integer from a safe JS integer (no BigInt on the way). */
function writeInt64(buf: Buffer, pos: number, value: number): void {
  const high = Math.floor(value / 0x100000000);
  buf.writeInt32BE(high, pos);
  buf.writeUInt32BE(value - high * 0x100000000, pos + 4);
}

/**
 * Writes the whole header of a batch of `sizeBytes` (header and records) at `pos`: batchLength
 * from the size, magic 2, and a CRC of 0. Compute the CRC once the records are in place.
 */
export function writeBatchHeader(buf: Buffer, pos: number, sizeBytes: number, fields: BatchHeaderFields): void {
  writeInt64(buf, pos + OFFSET_BASE_OFFSET, fields.baseOffset);
  buf.writeInt32BE(sizeBytes - BATCH_LOG_OVERHEAD_BYTES, pos + OFFSET_BATCH_LENGTH);
  buf.writeInt32BE(fields.partitionLeaderEpoch, pos + OFFSET_PARTITION_LEADER_EPOCH);
  buf[pos + OFFSET_MAGIC] = MAGIC_V2;
  buf.writeUInt32BE(0, pos + OFFSET_CRC);
  buf.writeInt16BE(fields.attributes, pos + OFFSET_ATTRIBUTES);
  buf.writeInt32BE(fields.lastOffsetDelta, pos + OFFSET_LAST_OFFSET_DELTA);
  writeInt64(buf, pos + OFFSET_BASE_TIMESTAMP, fields.baseTimestampMs);
  writeInt64(buf, pos + OFFSET_MAX_TIMESTAMP, fields.maxTimestampMs);
  writeInt64(buf, pos + OFFSET_PRODUCER_ID, fields.producerId);
  buf.writeInt16BE(fields.producerEpoch, pos + OFFSET_PRODUCER_EPOCH);
  buf.writeInt32BE(fields.baseSequence, pos + OFFSET_BASE_SEQUENCE);
  buf.writeInt32BE(fields.recordCount, pos + OFFSET_RECORD_COUNT);
}

/**
 * Stamps the fields the leader owns, in place, without touching the CRC (they sit before it):
 * baseOffset and partitionLeaderEpoch.
 */
export function stampOffsetAndEpoch(buf: Buffer, pos: number, baseOffset: number, leaderEpoch: number): void {
  buf.writeBigInt64BE(BigInt(baseOffset), pos + OFFSET_BASE_OFFSET);
  buf.writeInt32BE(leaderEpoch, pos + OFFSET_PARTITION_LEADER_EPOCH);
}

/**
 * Sets LogAppendTime on the batch at `pos`: sets the timestamp-type bit and maxTimestamp, which are
 * inside the CRC, so the CRC is recomputed (over the header and records, no record re-encoding).
 * Kafka does the same for topics with message.timestamp.type=LogAppendTime.
 */
export function stampLogAppendTime(buf: Buffer, pos: number, timestampMs: number): void {
  const size = batchSizeAt(buf, pos);
  const attributes = attributesAt(buf, pos) | ATTR_TIMESTAMP_TYPE_LOG_APPEND;
  buf.writeInt16BE(attributes, pos + OFFSET_ATTRIBUTES);
  buf.writeBigInt64BE(BigInt(timestampMs), pos + OFFSET_MAX_TIMESTAMP);
  buf.writeUInt32BE(computeBatchCrc(buf, pos, size), pos + OFFSET_CRC);
}
