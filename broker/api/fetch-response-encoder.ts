/**
 * Encodes a FetchResponse that carries stored batches (raw mode) straight into protobuf bytes: one
 * exact-size allocation and one copy of each partition's batches. The generic encoder builds a
 * list of write operations per field and then copies, which cost as much broker time on the fetch
 * path as reading the data. Responses with decoded records go to the generic encoder (returned
 * undefined here): they are the slow path anyway.
 *
 * Field numbers and wire types follow proto/brook.proto (FetchResponse, TopicFetchResponse,
 * PartitionFetchResponse). Fields holding their proto3 default (0, '', empty bytes) are left
 * out, which every proto3 decoder reads back as that default.
 */
import assert from 'node:assert/strict';
import type { ErrorCode, FetchResponse, PartitionFetchResponse } from '../../proto/brook-types.js';
import { ERROR_CODE_VALUES } from '../../proto/brook-types.js';

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

const tag = (field: number, wireType: number): number => (field << 3) | wireType;

// FetchResponse
const TAG_TOPICS = tag(1, WIRE_LENGTH_DELIMITED);
// TopicFetchResponse
const TAG_TOPIC_NAME = tag(1, WIRE_LENGTH_DELIMITED);
const TAG_TOPIC_PARTITIONS = tag(2, WIRE_LENGTH_DELIMITED);
// PartitionFetchResponse
const TAG_PARTITION = tag(1, WIRE_VARINT);
const TAG_ERROR_CODE = tag(2, WIRE_VARINT);
const TAG_ERROR_MESSAGE = tag(3, WIRE_LENGTH_DELIMITED);
const TAG_HIGH_WATERMARK = tag(4, WIRE_VARINT);
const TAG_LOG_START_OFFSET = tag(5, WIRE_VARINT);
const TAG_RECORD_BATCHES = tag(6, WIRE_LENGTH_DELIMITED);
const TAG_NEXT_FETCH_OFFSET = tag(8, WIRE_VARINT);

/** A negative int32/int64/enum is sign-extended to 64 bits on the wire: always ten bytes. */
const NEGATIVE_VARINT_BYTES = 10;

/** Encoded size of an integer as a protobuf varint (int32, int64 and enum fields alike). */
function varintBytes(value: number): number {
  if (value < 0) return NEGATIVE_VARINT_BYTES;
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}

function writeVarint(buffer: Buffer, position: number, value: number): number {
  if (value < 0) {
    let bits = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < NEGATIVE_VARINT_BYTES - 1; i++) {
      buffer[position++] = Number(bits & 0x7fn) | 0x80;
      bits >>= 7n;
    }
    buffer[position++] = Number(bits);
    return position;
  }
  while (value >= 0x80) {
    buffer[position++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buffer[position++] = value;
  return position;
}

/** One partition's fields, resolved to what goes on the wire, and the size they take there. */
interface PartitionFields {
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: Buffer | undefined;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly recordBatches: Uint8Array;
  readonly nextFetchOffset: number;
  /** Size of the message body (without its tag and length). */
  readonly bodyBytes: number;
}

const scalarFieldBytes = (value: number): number => (value === 0 ? 0 : 1 + varintBytes(value));
const bytesFieldBytes = (length: number): number => (length === 0 ? 0 : 1 + varintBytes(length) + length);

function errorCodeValue(code: PartitionFetchResponse['errorCode']): number | undefined {
  if (typeof code === 'number') return code;
  return ERROR_CODE_VALUES[code as ErrorCode];
}

function partitionFields(partition: PartitionFetchResponse): PartitionFields | undefined {
  if (partition.records !== undefined && partition.records.length > 0) return undefined;
  const errorCode = errorCodeValue(partition.errorCode ?? 'NONE');
  if (errorCode === undefined) return undefined;
  const message = partition.errorMessage ?? '';
  const errorMessage = message.length === 0 ? undefined : Buffer.from(message, 'utf8');
  const recordBatches = partition.recordBatches ?? Buffer.alloc(0);
  const fields = {
    partition: partition.partition ?? 0,
    errorCode,
    errorMessage,
    highWatermark: Number(partition.highWatermark ?? 0),
    logStartOffset: Number(partition.logStartOffset ?? 0),
    recordBatches,
    nextFetchOffset: Number(partition.nextFetchOffset ?? 0),
  };
  if (![fields.partition, fields.highWatermark, fields.logStartOffset, fields.nextFetchOffset].every(Number.isSafeInteger)) return undefined;
  const bodyBytes =
    scalarFieldBytes(fields.partition) +
    scalarFieldBytes(errorCode) +
    bytesFieldBytes(errorMessage?.length ?? 0) +
    scalarFieldBytes(fields.highWatermark) +
    scalarFieldBytes(fields.logStartOffset) +
    bytesFieldBytes(recordBatches.length) +
    scalarFieldBytes(fields.nextFetchOffset);
  return { ...fields, bodyBytes };
}

function writeScalarField(buffer: Buffer, position: number, fieldTag: number, value: number): number {
  if (value === 0) return position;
  buffer[position++] = fieldTag;
  return writeVarint(buffer, position, value);
}

function writeBytesField(buffer: Buffer, position: number, fieldTag: number, bytes: Uint8Array | undefined): number {
  if (bytes === undefined || bytes.length === 0) return position;
  buffer[position++] = fieldTag;
  position = writeVarint(buffer, position, bytes.length);
  buffer.set(bytes, position);
  return position + bytes.length;
}

/**
 * The protobuf bytes of `response`, or undefined when it holds decoded records or a value this
 * encoder does not take (an unknown error code name, an unsafe integer); the caller then uses
 * the generic encoder.
 */
export function encodeFetchResponse(response: FetchResponse): Buffer | undefined {
  const topics: Array<{ name: Buffer; partitions: PartitionFields[]; bodyBytes: number }> = [];
  let totalBytes = 0;
  for (const topic of response.topics ?? []) {
    const name = Buffer.from(topic.name ?? '', 'utf8');
    const partitions: PartitionFields[] = [];
    let bodyBytes = bytesFieldBytes(name.length);
    for (const partition of topic.partitions ?? []) {
      const fields = partitionFields(partition);
      if (fields === undefined) return undefined;
      partitions.push(fields);
      bodyBytes += 1 + varintBytes(fields.bodyBytes) + fields.bodyBytes;
    }
    topics.push({ name, partitions, bodyBytes });
    totalBytes += 1 + varintBytes(bodyBytes) + bodyBytes;
  }
  const buffer = Buffer.allocUnsafe(totalBytes);
  let position = 0;
  for (const topic of topics) {
    buffer[position++] = TAG_TOPICS;
    position = writeVarint(buffer, position, topic.bodyBytes);
    position = writeBytesField(buffer, position, TAG_TOPIC_NAME, topic.name);
    for (const fields of topic.partitions) {
      buffer[position++] = TAG_TOPIC_PARTITIONS;
      position = writeVarint(buffer, position, fields.bodyBytes);
      position = writeScalarField(buffer, position, TAG_PARTITION, fields.partition);
      position = writeScalarField(buffer, position, TAG_ERROR_CODE, fields.errorCode);
      position = writeBytesField(buffer, position, TAG_ERROR_MESSAGE, fields.errorMessage);
      position = writeScalarField(buffer, position, TAG_HIGH_WATERMARK, fields.highWatermark);
      position = writeScalarField(buffer, position, TAG_LOG_START_OFFSET, fields.logStartOffset);
      position = writeBytesField(buffer, position, TAG_RECORD_BATCHES, fields.recordBatches);
      position = writeScalarField(buffer, position, TAG_NEXT_FETCH_OFFSET, fields.nextFetchOffset);
    }
  }
  assert.equal(position, totalBytes, 'the fetch response fills exactly the bytes sized for it');
  return buffer;
}
