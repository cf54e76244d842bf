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
import {
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  bytesFieldBytes,
  fieldTag,
  lengthDelimitedBytes,
  scalarFieldBytes,
  writeBytesField,
  writeLengthDelimitedHeader,
  writeScalarField,
} from '../proto/protobuf-wire-writer.js';
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

// ProduceRequest
const TAG_ACKS = fieldTag(1, WIRE_VARINT);
const TAG_TIMEOUT_MS = fieldTag(2, WIRE_VARINT);
const TAG_TOPICS = fieldTag(3, WIRE_LENGTH_DELIMITED);
// TopicProduceData
const TAG_TOPIC_NAME = fieldTag(1, WIRE_LENGTH_DELIMITED);
const TAG_TOPIC_PARTITIONS = fieldTag(2, WIRE_LENGTH_DELIMITED);
// PartitionProduceData
const TAG_PARTITION = fieldTag(1, WIRE_VARINT);
const TAG_RECORD_BATCH = fieldTag(2, WIRE_LENGTH_DELIMITED);

function batchesBytes(partition: ProducePartitionFrames): number {
  let total = 0;
  for (const batch of partition.recordBatches) total += batch.length;
  return total;
}

function partitionBodyBytes(partition: ProducePartitionFrames): number {
  const batches = batchesBytes(partition);
  return scalarFieldBytes(partition.partition) + bytesFieldBytes(batches);
}

/** The protobuf bytes of `request`, the same message the generic encoder would produce. */
export function encodeProduceRequest(request: ProduceRequestFrames): Buffer {
  const acks = ACKS_VALUES[request.acks];
  assert.ok(acks !== undefined, `unknown acks ${request.acks}`);
  assert.ok(Number.isInteger(request.timeoutMs), 'timeoutMs is an integer');
  const names = request.topics.map((topic) => Buffer.from(topic.name, 'utf8'));
  const topicBodies = request.topics.map((topic, index) => {
    let body = bytesFieldBytes(names[index].length);
    for (const partition of topic.partitions) body += lengthDelimitedBytes(partitionBodyBytes(partition));
    return body;
  });
  let totalBytes = scalarFieldBytes(acks) + scalarFieldBytes(request.timeoutMs);
  for (const body of topicBodies) totalBytes += lengthDelimitedBytes(body);
  const buffer = Buffer.allocUnsafe(totalBytes);
  let position = writeScalarField(buffer, 0, TAG_ACKS, acks);
  position = writeScalarField(buffer, position, TAG_TIMEOUT_MS, request.timeoutMs);
  request.topics.forEach((topic, index) => {
    position = writeLengthDelimitedHeader(buffer, position, TAG_TOPICS, topicBodies[index]);
    position = writeBytesField(buffer, position, TAG_TOPIC_NAME, names[index]);
    for (const partition of topic.partitions) {
      position = writeLengthDelimitedHeader(buffer, position, TAG_TOPIC_PARTITIONS, partitionBodyBytes(partition));
      position = writeScalarField(buffer, position, TAG_PARTITION, partition.partition);
      const batches = batchesBytes(partition);
      if (batches === 0) continue;
      position = writeLengthDelimitedHeader(buffer, position, TAG_RECORD_BATCH, batches);
      for (const batch of partition.recordBatches) {
        buffer.set(batch, position);
        position += batch.length;
      }
    }
  });
  assert.equal(position, totalBytes, 'the produce request fills exactly the bytes sized for it');
  return buffer;
}
