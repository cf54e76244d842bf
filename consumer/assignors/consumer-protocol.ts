/**
 * The bytes of the consumer protocol: what a member puts in JoinGroup's protocol metadata (its
 * Subscription) and what the leader puts in SyncGroup for each member (its Assignment). The
 * coordinator never reads them. Big-endian, versioned:
 *
 *   Subscription: version int16 = 0, topics [string], owned [topic string, partitions [int32]],
 *                 generation int32, userData bytes
 *   Assignment:   version int16 = 0, partitions [topic string, partitions [int32]], userData bytes
 *
 * where [x] is an int32 count then the items, a string is an int16 length then UTF-8, and bytes
 * is an int32 length (-1 = null) then the bytes. A reader accepts a later version's bytes as long
 * as they start with these fields (fields are only ever appended).
 */
import { BrookError } from '../../client/errors.js';
import { comparePartitions, type Subscription, type TopicPartition } from './partition-assignor.js';

export const CONSUMER_PROTOCOL_VERSION = 0;
/** Bound on one subscription or assignment's size, so a bad peer cannot make us allocate without end. */
export const CONSUMER_PROTOCOL_BYTES_MAX = 16 * 1024 * 1024;

export interface Assignment {
  readonly partitions: readonly TopicPartition[];
  readonly userData: Buffer | null;
}

/** Undecodable subscription or assignment bytes from another member. */
export class ConsumerProtocolError extends BrookError {
  override readonly name = 'ConsumerProtocolError';
  constructor(message: string) {
    super(message, { code: 'INCONSISTENT_GROUP_PROTOCOL', retriable: false });
  }
}

class Writer {
  private readonly chunks: Buffer[] = [];

  int16(value: number): void {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.chunks.push(b);
  }

  int32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.chunks.push(b);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0x7fff) throw new ConsumerProtocolError(`topic name of ${bytes.length} bytes is too long`);
    this.int16(bytes.length);
    this.chunks.push(bytes);
  }

  bytes(value: Buffer | null): void {
    this.int32(value === null ? -1 : value.length);
    if (value !== null) this.chunks.push(value);
  }

  partitions(list: readonly TopicPartition[]): void {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of [...list].sort(comparePartitions)) {
      let partitions = byTopic.get(topic);
      if (partitions === undefined) byTopic.set(topic, (partitions = []));
      partitions.push(partition);
    }
    this.int32(byTopic.size);
    for (const [topic, partitions] of byTopic) {
      this.string(topic);
      this.int32(partitions.length);
      for (const partition of partitions) this.int32(partition);
    }
  }

  done(): Buffer {
    const out = Buffer.concat(this.chunks);
    if (out.length > CONSUMER_PROTOCOL_BYTES_MAX) throw new ConsumerProtocolError(`consumer protocol data of ${out.length} bytes exceeds ${CONSUMER_PROTOCOL_BYTES_MAX}`);
    return out;
  }
}

class Reader {
  private position = 0;
  constructor(private readonly buffer: Buffer) {
    if (buffer.length > CONSUMER_PROTOCOL_BYTES_MAX) throw new ConsumerProtocolError(`consumer protocol data of ${buffer.length} bytes exceeds ${CONSUMER_PROTOCOL_BYTES_MAX}`);
  }

  private need(bytes: number): void {
    if (this.position + bytes > this.buffer.length) throw new ConsumerProtocolError('consumer protocol data is truncated');
  }

  int16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.position);
    this.position += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.position);
    this.position += 4;
    return value;
  }

  /** A count, checked against the bytes left (each item takes at least `itemBytesMin`). */
  count(itemBytesMin: number): number {
    const count = this.int32();
    if (count < 0 || count * itemBytesMin > this.buffer.length - this.position) throw new ConsumerProtocolError(`bad count ${count} in consumer protocol data`);
    return count;
  }

  string(): string {
    const length = this.int16();
    if (length < 0) throw new ConsumerProtocolError('negative string length in consumer protocol data');
    this.need(length);
    const value = this.buffer.toString('utf8', this.position, this.position + length);
    this.position += length;
    return value;
  }

  bytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw new ConsumerProtocolError('negative byte length in consumer protocol data');
    this.need(length);
    const value = Buffer.from(this.buffer.subarray(this.position, this.position + length));
    this.position += length;
    return value;
  }

  partitions(): TopicPartition[] {
    const list: TopicPartition[] = [];
    const topics = this.count(6);
    for (let t = 0; t < topics; t++) {
      const topic = this.string();
      const partitions = this.count(4);
      for (let p = 0; p < partitions; p++) {
        const partition = this.int32();
        if (partition < 0) throw new ConsumerProtocolError(`negative partition ${partition} in consumer protocol data`);
        list.push({ topic, partition });
      }
    }
    return list;
  }

  version(): void {
    const version = this.int16();
    if (version < CONSUMER_PROTOCOL_VERSION) throw new ConsumerProtocolError(`unknown consumer protocol version ${version}`);
  }
}

export function encodeSubscription(subscription: Subscription): Buffer {
  const writer = new Writer();
  writer.int16(CONSUMER_PROTOCOL_VERSION);
  writer.int32(subscription.topics.length);
  for (const topic of subscription.topics) writer.string(topic);
  writer.partitions(subscription.ownedPartitions);
  writer.int32(subscription.generation);
  writer.bytes(subscription.userData);
  return writer.done();
}

export function decodeSubscription(bytes: Buffer): Subscription {
  const reader = new Reader(bytes);
  reader.version();
  const topics: string[] = [];
  const count = reader.count(2);
  for (let i = 0; i < count; i++) topics.push(reader.string());
  const ownedPartitions = reader.partitions();
  const generation = reader.int32();
  const userData = reader.bytes();
  return { topics, ownedPartitions, generation, userData };
}

export function encodeAssignment(assignment: Assignment): Buffer {
  const writer = new Writer();
  writer.int16(CONSUMER_PROTOCOL_VERSION);
  writer.partitions(assignment.partitions);
  writer.bytes(assignment.userData);
  return writer.done();
}

/** An empty buffer is an empty assignment (what the coordinator hands a member the leader left out). */
export function decodeAssignment(bytes: Buffer): Assignment {
  if (bytes.length === 0) return { partitions: [], userData: null };
  const reader = new Reader(bytes);
  reader.version();
  const partitions = reader.partitions();
  const userData = reader.bytes();
  return { partitions, userData };
}
