/**
 * Encodes a ProduceRequest whose partitions carry already-encoded record batches straight into
 * protobuf bytes: one exact-size allocation, each batch copied once. The generic encoder needs each
 * partition's batches concatenated first and then copies them again, so the producer's largest
 * cost per request was two copies of everything it sends.
 *
 * Field numbers and wire types follow proto/brook.proto (ProduceRequest, TopicProduceData,
 * PartitionProduceData). Fields holding their proto3 default (0, '') are left out.
 */
import assert from 'node:assert/strict';
import type { Acks } from './service.js';

/** One partition's batches, sent concatenated as its record_batch field. */
export interface ProducePartitionFrames {
  readonly partition: number;
  readonly recordBatches: readonly Buffer[];
}

/** A Produce request ready for encodeProduceRequest; recognised by the client's serializer. */
export class ProduceRequestFrames {
  constructor(
    readonly acks: Acks,
    readonly timeoutMs: number,
    readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: readonly ProducePartitionFrames[] }>,
  ) {}
}

const ACKS_VALUES: Readonly<Record<Acks, number>> = { ACKS_ALL: 0, ACKS_LEADER: 1, ACKS_NONE: 2 };

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

// ProduceRequest
const TAG_ACKS = tag(1, WIRE_VARINT);
const TAG_TIMEOUT_MS = tag(2, WIRE_VARINT);
const TAG_TOPICS = tag(3, WIRE_LENGTH_DELIMITED);
// TopicProduceData
const TAG_TOPIC_NAME = tag(1, WIRE_LENGTH_DELIMITED);
const TAG_TOPIC_PARTITIONS = tag(2, WIRE_LENGTH_DELIMITED);
// PartitionProduceData
const TAG_PARTITION = tag(1, WIRE_VARINT);
const TAG_RECORD_BATCH = tag(2, WIRE_LENGTH_DELIMITED);

/** A negative int32/enum is sign-extended to 64 bits on the wire: always ten bytes. */
const NEGATIVE_VARINT_BYTES = 10;

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

const scalarFieldBytes = (value: number): number => (value === 0 ? 0 : 1 + varintBytes(value));
const lengthDelimitedBytes = (length: number): number => 1 + varintBytes(length) + length;

function writeScalarField(buffer: Buffer, position: number, fieldTag: number, value: number): number {
  if (value === 0) return position;
  buffer[position++] = fieldTag;
  return writeVarint(buffer, position, value);
}

function batchesBytes(partition: ProducePartitionFrames): number {
  let total = 0;
  for (const batch of partition.recordBatches) total += batch.length;
  return total;
}

function partitionBodyBytes(partition: ProducePartitionFrames): number {
  const batches = batchesBytes(partition);
  return scalarFieldBytes(partition.partition) + (batches === 0 ? 0 : lengthDelimitedBytes(batches));
}

/** The protobuf bytes of `request`, the same message the generic encoder would produce. */
export function encodeProduceRequest(request: ProduceRequestFrames): Buffer {
  const acks = ACKS_VALUES[request.acks];
  assert.ok(acks !== undefined, `unknown acks ${request.acks}`);
  assert.ok(Number.isInteger(request.timeoutMs), 'timeoutMs is an integer');
  const names = request.topics.map((topic) => Buffer.from(topic.name, 'utf8'));
  const topicBodies = request.topics.map((topic, index) => {
    let body = names[index].length === 0 ? 0 : lengthDelimitedBytes(names[index].length);
    for (const partition of topic.partitions) body += lengthDelimitedBytes(partitionBodyBytes(partition));
    return body;
  });
  let totalBytes = scalarFieldBytes(acks) + scalarFieldBytes(request.timeoutMs);
  for (const body of topicBodies) totalBytes += lengthDelimitedBytes(body);
  const buffer = Buffer.allocUnsafe(totalBytes);
  let position = writeScalarField(buffer, 0, TAG_ACKS, acks);
  position = writeScalarField(buffer, position, TAG_TIMEOUT_MS, request.timeoutMs);
  request.topics.forEach((topic, index) => {
    buffer[position++] = TAG_TOPICS;
    position = writeVarint(buffer, position, topicBodies[index]);
    if (names[index].length > 0) {
      buffer[position++] = TAG_TOPIC_NAME;
      position = writeVarint(buffer, position, names[index].length);
      position += names[index].copy(buffer, position);
    }
    for (const partition of topic.partitions) {
      buffer[position++] = TAG_TOPIC_PARTITIONS;
      position = writeVarint(buffer, position, partitionBodyBytes(partition));
      position = writeScalarField(buffer, position, TAG_PARTITION, partition.partition);
      const batches = batchesBytes(partition);
      if (batches === 0) continue;
      buffer[position++] = TAG_RECORD_BATCH;
      position = writeVarint(buffer, position, batches);
      for (const batch of partition.recordBatches) {
        buffer.set(batch, position);
        position += batch.length;
      }
    }
  });
  assert.equal(position, totalBytes, 'the produce request fills exactly the bytes sized for it');
  return buffer;
}
