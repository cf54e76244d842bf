/**
 * Encoding and decoding of record batches: Kafka's RecordBatch v2, byte for byte. The header is
 * described in batch-header.ts; after it come `recordCount` records, compressed as one block when
 * the codec is not none. Each record:
 *
 *   length varint (bytes after this field), attributes int8 (unused, 0),
 *   timestampDelta varlong (from baseTimestamp), offsetDelta varint (from baseOffset),
 *   key (varint length, -1 = null, then bytes), value (likewise),
 *   headerCount varint, then per header: key (varint length, UTF-8), value (varint length, -1 = null)
 *
 * All varints are zigzag. The CRC32C covers attributes .. end, so the leader may stamp baseOffset
 * and partitionLeaderEpoch in place (batch-header.ts) without recomputing it.
 *
 * Encoding computes the exact size first and writes into one buffer; the only other buffers are
 * the compressor's. Decoding checks every length and count against the bytes that remain before it
 * allocates, and hands back keys and values as views into the batch (or its decompressed records).
 */
import assert from 'node:assert/strict';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  Codec,
  MAGIC_V2,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_OFFSET,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PARTITION_LEADER_EPOCH,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
  computeBatchCrc,
  writeBatchHeader,
} from './batch-header.js';
import { compress, decompress, isKnownCodec } from './codecs.js';
import { CorruptRecordError, InvalidRecordError } from './errors.js';
import type { DecodedRecord, ProduceRecord, RecordHeader } from './record.js';
import { ByteReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export { Codec };

/** Upper bound on the decompressed records of one batch when the caller gives no limit. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
/** Upper bound on the records of one batch when the caller gives no limit. */
export const DEFAULT_MAX_RECORDS_PER_BATCH = 1024 * 1024;
/** Largest batch the encoder writes (uncompressed records included); batchLength is an int32. */
export const ENCODE_MAX_BATCH_BYTES = 256 * 1024 * 1024;
/** Most records the encoder puts in one batch. */
export const ENCODE_MAX_RECORDS = DEFAULT_MAX_RECORDS_PER_BATCH;
/**
 * The smallest record on the wire: length varint (1) + attributes (1) + timestampDelta (1) +
 * offsetDelta (1) + key length (1) + value length (1) + header count (1). A recordCount that needs
 * more bytes than are there is refused before anything is allocated for it.
 */
export const RECORD_BYTES_MIN = 7;
/** Timestamps are non-negative milliseconds below this (see varint.ts for why 2^52). */
export const TIMESTAMP_MS_LIMIT = 2 ** 52;

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export type TimestampType = 'create' | 'log-append';

/** How a batch is encoded. `nowMs` is the caller's clock reading, the default record timestamp. */
export interface BatchOptions {
  codec?: Codec;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  control?: boolean;
  /** 'log-append' sets maxTimestamp to `nowMs`, which then stands for every record's timestamp. */
  timestampType?: TimestampType;
  nowMs: number;
}

/** Limits a decoder applies to one batch; both are checked before the memory is committed. */
export interface DecodeLimits {
  maxDecompressedBytes: number;
  maxRecords: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxDecompressedBytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
  maxRecords: DEFAULT_MAX_RECORDS_PER_BATCH,
});

/** The header of a batch, as numbers and booleans. 64-bit fields are exact below 2^53. */
export interface BatchInfo {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  codec: Codec;
  timestampType: TimestampType;
  transactional: boolean;
  control: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface DecodedBatch {
  info: BatchInfo;
  records: DecodedRecord[];
  /** Bytes the batch takes in the input (header + records). */
  size: number;
}

// ---- encoding --------------------------------------------------------------------------------

/** Per-record body sizes of the batch being encoded; encoding is synchronous, so one suffices. */
let recordSizesScratch = new Int32Array(1024);

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidRecordError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** Keys and values are Buffers (any Uint8Array) or null; undefined is taken as null. */
function isBytesOrNull(value: unknown): boolean {
  return value == null || value instanceof Uint8Array;
}

function isValidTimestamp(timestamp: number): boolean {
  return Number.isSafeInteger(timestamp) && timestamp >= 0 && timestamp < TIMESTAMP_MS_LIMIT;
}

function checkBatchOptions(records: readonly ProduceRecord[], opts: BatchOptions): void {
  if (!Array.isArray(records)) throw new InvalidRecordError('records must be an array');
  if (records.length === 0) throw new InvalidRecordError('a batch carries at least one record');
  if (records.length > ENCODE_MAX_RECORDS) throw new InvalidRecordError(`${records.length} records exceed the limit of ${ENCODE_MAX_RECORDS}`);
  checkInt('nowMs', opts.nowMs, 0, TIMESTAMP_MS_LIMIT - 1);
  if (opts.codec !== undefined && !isKnownCodec(opts.codec)) throw new InvalidRecordError(`unknown compression codec ${opts.codec}`);
  if (opts.baseOffset !== undefined) checkInt('baseOffset', opts.baseOffset, 0, Number.MAX_SAFE_INTEGER);
  if (opts.partitionLeaderEpoch !== undefined) checkInt('partitionLeaderEpoch', opts.partitionLeaderEpoch, -1, 0x7fffffff);
  if (opts.producerId !== undefined) checkInt('producerId', opts.producerId, -1, Number.MAX_SAFE_INTEGER);
  if (opts.producerEpoch !== undefined) checkInt('producerEpoch', opts.producerEpoch, -1, 0x7fff);
  if (opts.baseSequence !== undefined) checkInt('baseSequence', opts.baseSequence, -1, 0x7fffffff);
  if (opts.timestampType !== undefined && opts.timestampType !== 'create' && opts.timestampType !== 'log-append') {
    throw new InvalidRecordError(`unknown timestamp type ${String(opts.timestampType)}`);
  }
}

/**
 * Body size of one record (everything after its length varint); validates it on the way. Error
 * messages are built only on failure: this runs once per record.
 */
function recordBodySize(record: ProduceRecord, index: number, baseTimestamp: number, nowMs: number): number {
  const timestamp = record.timestamp ?? nowMs;
  if (!isValidTimestamp(timestamp)) throw new InvalidRecordError(`records[${index}].timestamp must be an integer in [0, 2^52), got ${timestamp}`);
  const key = record.key;
  const value = record.value;
  if (!isBytesOrNull(key) || !isBytesOrNull(value)) throw new InvalidRecordError(`records[${index}]: key and value must be Buffers or null`);
  let size = 1 + sizeOfVarlong(timestamp - baseTimestamp) + sizeOfVarint(index);
  size += key == null ? 1 : sizeOfVarint(key.length) + key.length;
  size += value == null ? 1 : sizeOfVarint(value.length) + value.length;
  const headers = record.headers;
  if (headers == null || headers.length === 0) return size + 1;
  if (!Array.isArray(headers)) throw new InvalidRecordError(`records[${index}].headers must be an array`);
  size += sizeOfVarint(headers.length);
  for (let h = 0; h < headers.length; h++) {
    const header = headers[h];
    if (typeof header?.key !== 'string' || !isBytesOrNull(header.value)) {
      throw new InvalidRecordError(`records[${index}].headers[${h}] must have a string key and a Buffer or null value`);
    }
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    size += sizeOfVarint(keyBytes) + keyBytes;
    size += header.value == null ? 1 : sizeOfVarint(header.value.length) + header.value.length;
  }
  return size;
}

function writeNullableBytes(buf: Buffer, pos: number, bytes: Uint8Array | null | undefined): number {
  if (bytes == null) {
    buf[pos] = 1; // zigzag(-1)
    return pos + 1;
  }
  pos = writeVarint(buf, pos, bytes.length);
  if (bytes.length < 16) {
    for (let i = 0; i < bytes.length; i++) buf[pos + i] = bytes[i];
  } else {
    buf.set(bytes, pos);
  }
  return pos + bytes.length;
}

function writeRecord(buf: Buffer, pos: number, record: ProduceRecord, index: number, bodySize: number, baseTimestamp: number, nowMs: number): number {
  pos = writeVarint(buf, pos, bodySize);
  const bodyStart = pos;
  buf[pos++] = 0;
  pos = writeVarlong(buf, pos, (record.timestamp ?? nowMs) - baseTimestamp);
  pos = writeVarint(buf, pos, index);
  pos = writeNullableBytes(buf, pos, record.key);
  pos = writeNullableBytes(buf, pos, record.value);
  const headers = record.headers;
  if (headers == null || headers.length === 0) {
    buf[pos++] = 0;
  } else {
    pos = writeVarint(buf, pos, headers.length);
    for (let h = 0; h < headers.length; h++) {
      const header = headers[h];
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      pos = writeVarint(buf, pos, keyBytes);
      pos += buf.write(header.key, pos, keyBytes, 'utf8');
      pos = writeNullableBytes(buf, pos, header.value);
    }
  }
  assert.equal(pos - bodyStart, bodySize, 'record body size mismatch');
  return pos;
}

/** Reads a signed 64-bit big-endian integer as a JS number (exact below 2^53 in magnitude). */
function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4);
}

/** A function that allocates the output buffer; pool workers pass one that never pools. */
export type Allocate = (size: number) => Buffer;

/**
 * Encodes `records` as a batch with *uncompressed* records but the codec bits of `opts.codec`
 * already in its attributes, ready for sealBatch. With Codec.None the result is final (CRC set).
 * This is the cheap half of encoding (sizes and copies); compression and CRC are the other half.
 */
export function encodePlainBatch(records: readonly ProduceRecord[], opts: BatchOptions, allocate: Allocate = Buffer.allocUnsafe): Buffer {
  checkBatchOptions(records, opts);
  const nowMs = opts.nowMs;
  const count = records.length;
  const baseTimestamp = records[0]?.timestamp ?? nowMs;
  if (recordSizesScratch.length < count) recordSizesScratch = new Int32Array(Math.max(count, recordSizesScratch.length * 2));
  const sizes = recordSizesScratch;
  let maxTimestamp = -1;
  let total = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const record = records[i];
    if (record === null || typeof record !== 'object') throw new InvalidRecordError(`records[${i}] must be an object`);
    const bodySize = recordBodySize(record, i, baseTimestamp, nowMs);
    sizes[i] = bodySize;
    total += sizeOfVarint(bodySize) + bodySize;
    if (total > ENCODE_MAX_BATCH_BYTES) throw new InvalidRecordError(`batch exceeds ${ENCODE_MAX_BATCH_BYTES} bytes`);
    const timestamp = record.timestamp ?? nowMs;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
  }
  const codec = opts.codec ?? Codec.None;
  const logAppendTime = opts.timestampType === 'log-append';
  let attributes = codec;
  if (logAppendTime) attributes |= ATTR_TIMESTAMP_TYPE_LOG_APPEND;
  if (opts.transactional === true) attributes |= ATTR_TRANSACTIONAL;
  if (opts.control === true) attributes |= ATTR_CONTROL;

  const buf = allocate(total);
  writeBatchHeader(buf, 0, total, {
    baseOffset: opts.baseOffset ?? 0,
    partitionLeaderEpoch: opts.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    attributes,
    lastOffsetDelta: count - 1,
    baseTimestampMs: baseTimestamp,
    maxTimestampMs: logAppendTime ? nowMs : maxTimestamp,
    producerId: opts.producerId ?? NO_PRODUCER_ID,
    producerEpoch: opts.producerEpoch ?? NO_PRODUCER_EPOCH,
    baseSequence: opts.baseSequence ?? NO_SEQUENCE,
    recordCount: count,
  });
  let pos = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) pos = writeRecord(buf, pos, records[i], i, sizes[i], baseTimestamp, nowMs);
  assert.equal(pos, total, 'batch size mismatch');
  if (codec === Codec.None) buf.writeUInt32BE(computeBatchCrc(buf, 0, total), OFFSET_CRC);
  return buf;
}

/**
 * Finishes a batch from encodePlainBatch: compresses its records with the codec in its attributes,
 * sets batchLength and the CRC. Returns `plain` itself for Codec.None. This is the half that a pool
 * worker runs.
 */
export function sealBatch(plain: Buffer, allocate: Allocate = Buffer.allocUnsafe): Buffer {
  const codec = (plain.readInt16BE(OFFSET_ATTRIBUTES) & ATTR_COMPRESSION_MASK) as Codec;
  if (codec === Codec.None) return plain;
  const compressed = compress(codec, plain.subarray(BATCH_HEADER_BYTES));
  const size = BATCH_HEADER_BYTES + compressed.length;
  if (size > ENCODE_MAX_BATCH_BYTES) throw new InvalidRecordError(`compressed batch exceeds ${ENCODE_MAX_BATCH_BYTES} bytes`);
  const out = allocate(size);
  plain.copy(out, 0, 0, BATCH_HEADER_BYTES);
  compressed.copy(out, BATCH_HEADER_BYTES);
  out.writeInt32BE(size - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  out.writeUInt32BE(computeBatchCrc(out, 0, size), OFFSET_CRC);
  return out;
}

/**
 * Encodes `records` as one batch: offsets `baseOffset + i`, timestamps relative to the first
 * record's, compressed with `opts.codec`. Synchronous; see CodecPool for large compressed batches.
 * Throws InvalidRecordError for bad arguments or a batch over ENCODE_MAX_BATCH_BYTES.
 *
 * @example
 * const batch = encodeBatch([{ key: null, value: Buffer.from('hi') }], { codec: Codec.Lz4, nowMs: clock.nowMs() });
 */
export function encodeBatch(records: readonly ProduceRecord[], opts: BatchOptions): Buffer {
  return sealBatch(encodePlainBatch(records, opts));
}

// ---- decoding --------------------------------------------------------------------------------

/**
 * Reads and checks the header of the batch at `pos` (without the CRC): enough bytes, a
 * batchLength that covers the header and fits in `end`, magic 2, a known codec, sane counts.
 */
export function readBatchInfo(buf: Buffer, pos = 0, end = buf.length): BatchInfo {
  if (!Number.isInteger(pos) || pos < 0 || end > buf.length || pos > end) {
    throw new InvalidRecordError(`position ${pos} is outside the buffer of ${buf.length} bytes`);
  }
  if (end - pos < BATCH_LOG_OVERHEAD_BYTES + 5) throw new CorruptRecordError('truncated', `${end - pos} bytes cannot hold a batch header`);
  const magic = buf.readInt8(pos + OFFSET_MAGIC);
  if (magic !== MAGIC_V2) throw new InvalidRecordError(`unsupported record batch magic ${magic}`);
  if (end - pos < BATCH_HEADER_BYTES) throw new CorruptRecordError('truncated', `${end - pos} bytes cannot hold a batch header`);
  const batchLength = buf.readInt32BE(pos + OFFSET_BATCH_LENGTH);
  if (batchLength < BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES) throw new CorruptRecordError('bad-length', `batchLength ${batchLength} is shorter than the header`);
  if (batchLength > end - pos - BATCH_LOG_OVERHEAD_BYTES) throw new CorruptRecordError('truncated', `batchLength ${batchLength} exceeds the ${end - pos - BATCH_LOG_OVERHEAD_BYTES} bytes left`);
  const attributes = buf.readInt16BE(pos + OFFSET_ATTRIBUTES);
  const lastOffsetDelta = buf.readInt32BE(pos + OFFSET_LAST_OFFSET_DELTA);
  const recordCount = buf.readInt32BE(pos + OFFSET_RECORD_COUNT);
  if (lastOffsetDelta < 0) throw new CorruptRecordError('bad-count', `negative lastOffsetDelta ${lastOffsetDelta}`);
  if (recordCount < 0) throw new CorruptRecordError('bad-count', `negative recordCount ${recordCount}`);
  return {
    baseOffset: readInt64(buf, pos + OFFSET_BASE_OFFSET),
    batchLength,
    partitionLeaderEpoch: buf.readInt32BE(pos + OFFSET_PARTITION_LEADER_EPOCH),
    magic,
    crc: buf.readUInt32BE(pos + OFFSET_CRC),
    attributes,
    codec: (attributes & ATTR_COMPRESSION_MASK) as Codec,
    timestampType: (attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND) !== 0 ? 'log-append' : 'create',
    transactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
    control: (attributes & ATTR_CONTROL) !== 0,
    lastOffsetDelta,
    baseTimestamp: readInt64(buf, pos + OFFSET_BASE_TIMESTAMP),
    maxTimestamp: readInt64(buf, pos + OFFSET_MAX_TIMESTAMP),
    producerId: readInt64(buf, pos + OFFSET_PRODUCER_ID),
    producerEpoch: buf.readInt16BE(pos + OFFSET_PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(pos + OFFSET_BASE_SEQUENCE),
    recordCount,
  };
}

/** Throws CorruptRecordError unless the CRC of the batch at `pos` matches `info.crc`. */
export function verifyBatchCrc(buf: Buffer, pos: number, info: BatchInfo): void {
  const actual = computeBatchCrc(buf, pos, info.batchLength + BATCH_LOG_OVERHEAD_BYTES);
  if (actual !== info.crc) {
    throw new CorruptRecordError('bad-crc', `stored ${info.crc.toString(16)}, computed ${actual.toString(16)}`);
  }
}

/** Throws InvalidRecordError for a codec Brook does not know (checked after the CRC). */
function checkCodec(info: BatchInfo): void {
  if (!isKnownCodec(info.codec)) throw new InvalidRecordError(`unknown compression codec ${info.codec}`);
}

/** Where a batch's records are: `data[start, end)`, the batch itself or its decompressed records. */
export interface RecordsRegion {
  data: Buffer;
  start: number;
  end: number;
}

/**
 * The records of the batch at `pos` whose header is `info`, decompressed if need be under
 * `limits.maxDecompressedBytes`. Does not check the CRC (verifyBatchCrc does).
 */
export function openRecords(buf: Buffer, pos: number, info: BatchInfo, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): RecordsRegion {
  checkCodec(info);
  const start = pos + BATCH_HEADER_BYTES;
  const end = pos + info.batchLength + BATCH_LOG_OVERHEAD_BYTES;
  if (info.codec === Codec.None) return { data: buf, start, end };
  // An empty compressed batch has nothing to decompress; Kafka's reader does not look inside either.
  if (info.recordCount === 0) return { data: buf, start, end: start };
  const data = decompress(info.codec, buf.subarray(start, end), limits.maxDecompressedBytes);
  return { data, start: 0, end: data.length };
}

function checkRecordCount(info: BatchInfo, region: RecordsRegion, limits: DecodeLimits): void {
  if (info.recordCount > limits.maxRecords) {
    throw new InvalidRecordError(`recordCount ${info.recordCount} exceeds the limit of ${limits.maxRecords}`);
  }
  if (info.recordCount * RECORD_BYTES_MIN > region.end - region.start) {
    throw new CorruptRecordError('bad-count', `recordCount ${info.recordCount} cannot fit in ${region.end - region.start} bytes`);
  }
}

/**
 * Walks the records of one batch without creating an object per record: call next() until it
 * returns false, reading the fields in between. Each next() checks the record's framing (lengths,
 * varints, offsets within lastOffsetDelta) and the last one checks no bytes remain.
 *
 * @example
 * const cursor = new RecordCursor(region, info, limits);
 * while (cursor.next()) index.add(cursor.offset, cursor.key());
 */
export class RecordCursor {
  /** Absolute offset and timestamp of the current record. */
  offset = -1;
  timestamp = -1;
  /** Start and length of key and value in `data`; length -1 means null. */
  keyStart = 0;
  keyLength = -1;
  valueStart = 0;
  valueLength = -1;
  headerCount = 0;
  /** Start and end, in `data`, of the current record's headers (after the count). */
  headersStart = 0;
  headersEnd = 0;
  readonly data: Buffer;
  private readonly reader: ByteReader;
  private readonly regionEnd: number;
  private readonly info: BatchInfo;
  private index = 0;
  private lastOffsetDeltaSeen = -1;

  constructor(region: RecordsRegion, info: BatchInfo, limits: DecodeLimits = DEFAULT_DECODE_LIMITS) {
    checkRecordCount(info, region, limits);
    this.data = region.data;
    this.reader = new ByteReader(region.data, region.start, region.end);
    this.regionEnd = region.end;
    this.info = info;
  }

  /** Moves to the next record; false once all `recordCount` records have been read. */
  next(): boolean {
    const reader = this.reader;
    const info = this.info;
    if (this.index === info.recordCount) {
      if (reader.pos !== this.regionEnd) {
        throw new CorruptRecordError('bad-count', `${this.regionEnd - reader.pos} bytes remain after ${info.recordCount} records`);
      }
      return false;
    }
    this.index++;
    reader.end = this.regionEnd;
    const bodySize = reader.readVarint();
    if (bodySize < 0) throw new CorruptRecordError('bad-length', `negative record length ${bodySize}`);
    if (bodySize > reader.remaining()) throw new CorruptRecordError('truncated', `record length ${bodySize} exceeds the ${reader.remaining()} bytes left`);
    const recordEnd = reader.pos + bodySize;
    reader.end = recordEnd;
    reader.readInt8(); // record attributes: unused in v2
    const timestampDelta = reader.readVarlong();
    const offsetDelta = reader.readVarint();
    if (offsetDelta <= this.lastOffsetDeltaSeen || offsetDelta > info.lastOffsetDelta) {
      throw new CorruptRecordError('bad-offset', `offsetDelta ${offsetDelta} out of order or past lastOffsetDelta ${info.lastOffsetDelta}`);
    }
    this.lastOffsetDeltaSeen = offsetDelta;
    this.offset = info.baseOffset + offsetDelta;
    this.timestamp = info.timestampType === 'log-append' ? info.maxTimestamp : info.baseTimestamp + timestampDelta;
    this.readKeyAndValue(reader);
    const headerCount = reader.readVarint();
    // Each header takes at least two bytes (two length varints).
    if (headerCount < 0 || headerCount * 2 > reader.remaining()) throw new CorruptRecordError('bad-count', `header count ${headerCount} does not fit the record`);
    this.headerCount = headerCount;
    this.headersStart = reader.pos;
    for (let h = 0; h < headerCount; h++) {
      const keyLength = reader.readVarint();
      if (keyLength < 0 || keyLength > reader.remaining()) throw new CorruptRecordError('bad-length', `header key length ${keyLength}`);
      reader.pos += keyLength;
      const valueLength = reader.readVarint();
      if (valueLength < -1 || valueLength > reader.remaining()) throw new CorruptRecordError('bad-length', `header value length ${valueLength}`);
      if (valueLength > 0) reader.pos += valueLength;
    }
    this.headersEnd = reader.pos;
    if (reader.pos !== recordEnd) throw new CorruptRecordError('bad-length', `record declares ${bodySize} bytes but its fields end ${recordEnd - reader.pos} bytes early`);
    return true;
  }

  private readKeyAndValue(reader: ByteReader): void {
    const keyLength = reader.readVarint();
    if (keyLength < -1 || keyLength > reader.remaining()) throw new CorruptRecordError('bad-length', `key length ${keyLength}`);
    this.keyStart = reader.pos;
    this.keyLength = keyLength;
    if (keyLength > 0) reader.pos += keyLength;
    const valueLength = reader.readVarint();
    if (valueLength < -1 || valueLength > reader.remaining()) throw new CorruptRecordError('bad-length', `value length ${valueLength}`);
    this.valueStart = reader.pos;
    this.valueLength = valueLength;
    if (valueLength > 0) reader.pos += valueLength;
  }

  /** The current key as a view into `data`, or null. */
  key(): Buffer | null {
    return this.keyLength < 0 ? null : this.data.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  /** The current value as a view into `data`, or null. */
  value(): Buffer | null {
    return this.valueLength < 0 ? null : this.data.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** The current headers as objects; values are views into `data`. */
  headers(): RecordHeader[] {
    const headers: RecordHeader[] = new Array(this.headerCount);
    const reader = new ByteReader(this.data, this.headersStart, this.headersEnd);
    for (let h = 0; h < this.headerCount; h++) headers[h] = { key: reader.readString(), value: reader.readNullableBytes() };
    return headers;
  }
}

/** Decodes the records of a batch whose header was read (and CRC checked) by the caller. */
export function decodeRecords(buf: Buffer, pos: number, info: BatchInfo, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedRecord[] {
  return decodeRecordsRegion(openRecords(buf, pos, info, limits), info, limits);
}

/** Decodes the records in `region` (see openRecords) into objects whose bytes are views. */
export function decodeRecordsRegion(region: RecordsRegion, info: BatchInfo, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedRecord[] {
  const cursor = new RecordCursor(region, info, limits);
  const records: DecodedRecord[] = new Array(info.recordCount);
  let index = 0;
  while (cursor.next()) {
    records[index++] = {
      offset: cursor.offset,
      timestamp: cursor.timestamp,
      key: cursor.key(),
      value: cursor.value(),
      headers: cursor.headerCount === 0 ? [] : cursor.headers(),
    };
  }
  return records;
}

/**
 * Decodes the batch at `pos`: checks the header and the CRC, decompresses under `limits`, and
 * returns the header, the records (keys and values are views, not copies) and the batch's size.
 * Throws CorruptRecordError or InvalidRecordError on bad input, nothing else.
 */
export function decodeBatch(buf: Buffer, pos = 0, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedBatch {
  const info = readBatchInfo(buf, pos);
  verifyBatchCrc(buf, pos, info);
  const records = decodeRecords(buf, pos, info, limits);
  return { info, records, size: info.batchLength + BATCH_LOG_OVERHEAD_BYTES };
}

/**
 * Checks the batch at `pos` completely — header, CRC, decompression under `limits`, and the
 * framing of every record — without creating record objects; returns its header. This is what a
 * broker runs on produced batches before it appends them as they are.
 */
export function validateBatch(buf: Buffer, pos = 0, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): BatchInfo {
  const info = readBatchInfo(buf, pos);
  verifyBatchCrc(buf, pos, info);
  walkRecordFraming(buf, pos, info, limits);
  return info;
}

/**
 * validateBatch without the CRC: for a caller that has the CRC verified elsewhere anyway (the
 * broker's log checks it while it writes), so a produced batch is not checksummed twice.
 */
export function validateBatchRecords(buf: Buffer, pos = 0, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): BatchInfo {
  const info = readBatchInfo(buf, pos);
  walkRecordFraming(buf, pos, info, limits);
  return info;
}

function walkRecordFraming(buf: Buffer, pos: number, info: BatchInfo, limits: DecodeLimits): void {
  const cursor = new RecordCursor(openRecords(buf, pos, info, limits), info, limits);
  while (cursor.next()) {
    // next() checks each record's framing; nothing else to do here.
  }
}

/** One batch found by iterateBatches: where it is and its header. */
export interface BatchView {
  pos: number;
  size: number;
  info: BatchInfo;
}

export interface IterateOptions {
  /** Check each batch's CRC (default true). */
  verifyCrc?: boolean;
  /**
   * A fetch response may end in a partial batch (the size limit cut it). When true (the
   * default) iteration stops quietly there; when false it is a CorruptRecordError.
   */
  allowPartialTail?: boolean;
}

/**
 * Walks the concatenated batches in `buf` (a fetch response, a segment read) without copying or
 * decoding records: yields each batch's position, size and header. Pair with decodeRecords or
 * RecordCursor for the records.
 */
export function* iterateBatches(buf: Buffer, options: IterateOptions = {}): Generator<BatchView, void, undefined> {
  const verifyCrc = options.verifyCrc ?? true;
  const allowPartialTail = options.allowPartialTail ?? true;
  let pos = 0;
  while (pos < buf.length) {
    const left = buf.length - pos;
    if (left < BATCH_HEADER_BYTES || buf.readInt32BE(pos + OFFSET_BATCH_LENGTH) > left - BATCH_LOG_OVERHEAD_BYTES) {
      if (allowPartialTail) return;
      throw new CorruptRecordError('truncated', `partial batch of ${left} bytes at position ${pos}`);
    }
    const info = readBatchInfo(buf, pos);
    if (verifyCrc) verifyBatchCrc(buf, pos, info);
    const size = info.batchLength + BATCH_LOG_OVERHEAD_BYTES;
    yield { pos, size, info };
    pos += size;
  }
}

export interface IterateRecordsOptions extends IterateOptions {
  /** Skip the records of control batches (default true), as consumers do. */
  skipControl?: boolean;
  limits?: DecodeLimits;
}

/** Every record of every batch in `buf`, in order; keys and values are views. */
export function* iterateRecords(buf: Buffer, options: IterateRecordsOptions = {}): Generator<DecodedRecord, void, undefined> {
  const skipControl = options.skipControl ?? true;
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  for (const batch of iterateBatches(buf, options)) {
    if (skipControl && batch.info.control) continue;
    yield* decodeRecords(buf, batch.pos, batch.info, limits);
  }
}
