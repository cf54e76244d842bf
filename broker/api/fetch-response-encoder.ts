/**
 * Encodes a FetchResponse that carries stored batches (raw mode) straight into protobuf bytes: one
 * exact-size allocation and one copy of each partition's batches. The generic encoder builds a
 * list of write operations per field and then copies, which cost as much broker time on the fetch
 * path as reading the data. Responses with decoded records go to the generic encoder (returned
 * undefined here): they are the slow path anyway.
 *
 * Field numbers and wire types follow proto/brook.proto (FetchResponse, TopicFetchResponse,
 * PartitionFetchResponse, LeaderHint). Fields holding their proto3 default (0, '', empty bytes) are left
 * out, which every proto3 decoder reads back as that default.
 */
import assert from 'node:assert/strict';
import type { ErrorCode, FetchResponse, PartitionFetchResponse } from '../../proto/brook-types.js';
import { ERROR_CODE_VALUES } from '../../proto/brook-types.js';
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
} from '../../proto/protobuf-wire-writer.js';

// FetchResponse
const TAG_TOPICS = fieldTag(1, WIRE_LENGTH_DELIMITED);
// TopicFetchResponse
const TAG_TOPIC_NAME = fieldTag(1, WIRE_LENGTH_DELIMITED);
const TAG_TOPIC_PARTITIONS = fieldTag(2, WIRE_LENGTH_DELIMITED);
// PartitionFetchResponse
const TAG_PARTITION = fieldTag(1, WIRE_VARINT);
const TAG_ERROR_CODE = fieldTag(2, WIRE_VARINT);
const TAG_ERROR_MESSAGE = fieldTag(3, WIRE_LENGTH_DELIMITED);
const TAG_HIGH_WATERMARK = fieldTag(4, WIRE_VARINT);
const TAG_LOG_START_OFFSET = fieldTag(5, WIRE_VARINT);
const TAG_RECORD_BATCHES = fieldTag(6, WIRE_LENGTH_DELIMITED);
const TAG_NEXT_FETCH_OFFSET = fieldTag(8, WIRE_VARINT);
const TAG_CURRENT_LEADER = fieldTag(9, WIRE_LENGTH_DELIMITED);
// LeaderHint
const TAG_LEADER_ID = fieldTag(1, WIRE_VARINT);
const TAG_LEADER_EPOCH = fieldTag(2, WIRE_VARINT);
const TAG_LEADER_ADDRESS = fieldTag(3, WIRE_LENGTH_DELIMITED);

/** A LeaderHint resolved to what goes on the wire. */
interface HintFields {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly address: Buffer;
  readonly bodyBytes: number;
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
  /** Set only with a hint: an absent message field and an empty one decode differently (null vs {}). */
  readonly currentLeader: HintFields | undefined;
  /** Size of the message body (without its tag and length). */
  readonly bodyBytes: number;
}

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
  const currentLeader = hintFields(partition.currentLeader);
  if (currentLeader === null) return undefined;
  const fields = {
    partition: partition.partition ?? 0,
    errorCode,
    errorMessage,
    highWatermark: Number(partition.highWatermark ?? 0),
    logStartOffset: Number(partition.logStartOffset ?? 0),
    recordBatches,
    nextFetchOffset: Number(partition.nextFetchOffset ?? 0),
    currentLeader,
  };
  if (![fields.partition, fields.highWatermark, fields.logStartOffset, fields.nextFetchOffset].every(Number.isSafeInteger)) return undefined;
  const bodyBytes =
    scalarFieldBytes(fields.partition) +
    scalarFieldBytes(errorCode) +
    bytesFieldBytes(errorMessage?.length ?? 0) +
    scalarFieldBytes(fields.highWatermark) +
    scalarFieldBytes(fields.logStartOffset) +
    bytesFieldBytes(recordBatches.length) +
    scalarFieldBytes(fields.nextFetchOffset) +
    (currentLeader === undefined ? 0 : lengthDelimitedBytes(currentLeader.bodyBytes));
  return { ...fields, bodyBytes };
}

/** The hint's wire fields; undefined when there is none, null when it holds a value this encoder does not take. */
function hintFields(hint: PartitionFetchResponse['currentLeader']): HintFields | undefined | null {
  if (hint === undefined || hint === null) return undefined;
  const leaderId = hint.leaderId ?? 0;
  const leaderEpoch = hint.leaderEpoch ?? 0;
  if (!Number.isSafeInteger(leaderId) || !Number.isSafeInteger(leaderEpoch)) return null;
  const address = Buffer.from(hint.address ?? '', 'utf8');
  const bodyBytes = scalarFieldBytes(leaderId) + scalarFieldBytes(leaderEpoch) + bytesFieldBytes(address.length);
  return { leaderId, leaderEpoch, address, bodyBytes };
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
      bodyBytes += lengthDelimitedBytes(fields.bodyBytes);
    }
    topics.push({ name, partitions, bodyBytes });
    totalBytes += lengthDelimitedBytes(bodyBytes);
  }
  const buffer = Buffer.allocUnsafe(totalBytes);
  let position = 0;
  for (const topic of topics) {
    position = writeLengthDelimitedHeader(buffer, position, TAG_TOPICS, topic.bodyBytes);
    position = writeBytesField(buffer, position, TAG_TOPIC_NAME, topic.name);
    for (const fields of topic.partitions) {
      position = writeLengthDelimitedHeader(buffer, position, TAG_TOPIC_PARTITIONS, fields.bodyBytes);
      position = writeScalarField(buffer, position, TAG_PARTITION, fields.partition);
      position = writeScalarField(buffer, position, TAG_ERROR_CODE, fields.errorCode);
      position = writeBytesField(buffer, position, TAG_ERROR_MESSAGE, fields.errorMessage);
      position = writeScalarField(buffer, position, TAG_HIGH_WATERMARK, fields.highWatermark);
      position = writeScalarField(buffer, position, TAG_LOG_START_OFFSET, fields.logStartOffset);
      position = writeBytesField(buffer, position, TAG_RECORD_BATCHES, fields.recordBatches);
      position = writeScalarField(buffer, position, TAG_NEXT_FETCH_OFFSET, fields.nextFetchOffset);
      const hint = fields.currentLeader;
      if (hint !== undefined) {
        position = writeLengthDelimitedHeader(buffer, position, TAG_CURRENT_LEADER, hint.bodyBytes);
        position = writeScalarField(buffer, position, TAG_LEADER_ID, hint.leaderId);
        position = writeScalarField(buffer, position, TAG_LEADER_EPOCH, hint.leaderEpoch);
        position = writeBytesField(buffer, position, TAG_LEADER_ADDRESS, hint.address);
      }
    }
  }
  assert.equal(position, totalBytes, 'the fetch response fills exactly the bytes sized for it');
  return buffer;
}
