/**
 * The records of the offsets topic (`__consumer_offsets`). Every record is keyed; the latest
 * record of a key is its state, and a record with a null value (a tombstone) deletes it, so a
 * coordinator rebuilds its groups by applying the partition's records in offset order.
 *
 * Key (big-endian; strings are a uint16 byte length and UTF-8):
 *   int16 keyVersion   0 = committed offset, 1 = group metadata; other versions are skipped
 *   string groupId
 *   keyVersion 0 only: string topic, int32 partition
 *
 * Committed offset value: int16 valueVersion (0), int64 offset, int32 leaderEpoch,
 *   string metadata, int64 commitTimestampMs.
 * Group metadata value: int16 valueVersion (0), string protocolType, int32 generationId,
 *   string protocolName, string leaderId, int64 stateTimestampMs, int32 memberCount, then per
 *   member: string memberId, string groupInstanceId, string clientId, string clientHost,
 *   int32 rebalanceTimeoutMs, int32 sessionTimeoutMs, bytes metadata, bytes assignment
 *   (bytes: an int32 length and the bytes).
 *
 * A later Brook writes a higher valueVersion only with fields appended, so an older reader that
 * meets one skips the record rather than misreading it (and logs it).
 */
import assert from 'node:assert/strict';

export const OFFSET_KEY_VERSION = 0;
export const GROUP_KEY_VERSION = 1;
const VALUE_VERSION = 0;

export interface CommittedOffset {
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

export interface StoredMember {
  readonly memberId: string;
  readonly groupInstanceId: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** The member's metadata for the group's protocol. */
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface StoredGroup {
  readonly protocolType: string;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leaderId: string;
  readonly stateTimestampMs: number;
  readonly members: readonly StoredMember[];
}

export type OffsetsRecordKey =
  | { readonly kind: 'offset'; readonly groupId: string; readonly topic: string; readonly partition: number }
  | { readonly kind: 'group'; readonly groupId: string };

/** A record's meaning; `value` undefined is a tombstone. `unknown` records are skipped. */
export type OffsetsRecord =
  | { readonly kind: 'offset'; readonly groupId: string; readonly topic: string; readonly partition: number; readonly value: CommittedOffset | undefined }
  | { readonly kind: 'group'; readonly groupId: string; readonly value: StoredGroup | undefined }
  | { readonly kind: 'unknown'; readonly reason: string };

/** A record's bytes were not an offsets record this version understands. */
export class OffsetsRecordError extends Error {
  override readonly name = 'OffsetsRecordError';
}

export function encodeOffsetKey(groupId: string, topic: string, partition: number): Buffer {
  const writer = new ByteWriter();
  writer.int16(OFFSET_KEY_VERSION);
  writer.string(groupId);
  writer.string(topic);
  writer.int32(partition);
  return writer.finish();
}

export function encodeGroupKey(groupId: string): Buffer {
  const writer = new ByteWriter();
  writer.int16(GROUP_KEY_VERSION);
  writer.string(groupId);
  return writer.finish();
}

export function encodeOffsetValue(value: CommittedOffset): Buffer {
  const writer = new ByteWriter();
  writer.int16(VALUE_VERSION);
  writer.int64(value.offset);
  writer.int32(value.leaderEpoch);
  writer.string(value.metadata);
  writer.int64(value.commitTimestampMs);
  return writer.finish();
}

export function encodeGroupValue(group: StoredGroup): Buffer {
  const writer = new ByteWriter();
  writer.int16(VALUE_VERSION);
  writer.string(group.protocolType);
  writer.int32(group.generationId);
  writer.string(group.protocolName);
  writer.string(group.leaderId);
  writer.int64(group.stateTimestampMs);
  writer.int32(group.members.length);
  for (const member of group.members) {
    writer.string(member.memberId);
    writer.string(member.groupInstanceId);
    writer.string(member.clientId);
    writer.string(member.clientHost);
    writer.int32(member.rebalanceTimeoutMs);
    writer.int32(member.sessionTimeoutMs);
    writer.bytes(member.metadata);
    writer.bytes(member.assignment);
  }
  return writer.finish();
}

/** Decodes one record of the offsets topic. Throws OffsetsRecordError for malformed bytes. */
export function decodeOffsetsRecord(key: Buffer | null, value: Buffer | null): OffsetsRecord {
  if (key === null) return { kind: 'unknown', reason: 'record without a key' };
  const reader = new ByteReader(key);
  const keyVersion = reader.int16();
  if (keyVersion === OFFSET_KEY_VERSION) {
    const groupId = reader.string();
    const topic = reader.string();
    const partition = reader.int32();
    reader.end();
    if (value === null) return { kind: 'offset', groupId, topic, partition, value: undefined };
    const committed = decodeOffsetValue(value);
    return committed === undefined ? { kind: 'unknown', reason: `offset of ${groupId}: newer value version` } : { kind: 'offset', groupId, topic, partition, value: committed };
  }
  if (keyVersion === GROUP_KEY_VERSION) {
    const groupId = reader.string();
    reader.end();
    if (value === null) return { kind: 'group', groupId, value: undefined };
    const group = decodeGroupValue(value);
    return group === undefined ? { kind: 'unknown', reason: `group ${groupId}: newer value version` } : { kind: 'group', groupId, value: group };
  }
  return { kind: 'unknown', reason: `key version ${keyVersion}` };
}

function decodeOffsetValue(value: Buffer): CommittedOffset | undefined {
  const reader = new ByteReader(value);
  const version = reader.int16();
  if (version !== VALUE_VERSION) return undefined;
  const offset = reader.int64();
  const leaderEpoch = reader.int32();
  const metadata = reader.string();
  const commitTimestampMs = reader.int64();
  reader.end();
  return { offset, leaderEpoch, metadata, commitTimestampMs };
}

function decodeGroupValue(value: Buffer): StoredGroup | undefined {
  const reader = new ByteReader(value);
  const version = reader.int16();
  if (version !== VALUE_VERSION) return undefined;
  const protocolType = reader.string();
  const generationId = reader.int32();
  const protocolName = reader.string();
  const leaderId = reader.string();
  const stateTimestampMs = reader.int64();
  const count = reader.int32();
  // Each member takes at least 20 bytes; a count beyond what is left is malformed.
  if (count < 0 || count > reader.remaining / 20) throw new OffsetsRecordError(`group value claims ${count} members`);
  const members: StoredMember[] = [];
  for (let i = 0; i < count; i++) {
    members.push({
      memberId: reader.string(),
      groupInstanceId: reader.string(),
      clientId: reader.string(),
      clientHost: reader.string(),
      rebalanceTimeoutMs: reader.int32(),
      sessionTimeoutMs: reader.int32(),
      metadata: reader.bytes(),
      assignment: reader.bytes(),
    });
  }
  reader.end();
  return { protocolType, generationId, protocolName, leaderId, stateTimestampMs, members };
}

/** Appends big-endian fields into a growing list of chunks. */
class ByteWriter {
  private readonly chunks: Buffer[] = [];

  int16(value: number): void {
    const buffer = Buffer.allocUnsafe(2);
    buffer.writeInt16BE(value);
    this.chunks.push(buffer);
  }

  int32(value: number): void {
    const buffer = Buffer.allocUnsafe(4);
    buffer.writeInt32BE(value);
    this.chunks.push(buffer);
  }

  int64(value: number): void {
    assert.ok(Number.isSafeInteger(value), 'int64 fields hold safe integers');
    const buffer = Buffer.allocUnsafe(8);
    buffer.writeBigInt64BE(BigInt(value));
    this.chunks.push(buffer);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    assert.ok(bytes.length <= 0xffff, 'strings of offsets records are checked against their limits first');
    const length = Buffer.allocUnsafe(2);
    length.writeUInt16BE(bytes.length);
    this.chunks.push(length, bytes);
  }

  bytes(value: Buffer): void {
    this.int32(value.length);
    this.chunks.push(value);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Reads big-endian fields; any read past the end is an OffsetsRecordError. */
class ByteReader {
  private position = 0;

  constructor(private readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.position;
  }

  private take(count: number): number {
    if (count < 0 || this.position + count > this.buffer.length) {
      throw new OffsetsRecordError(`truncated offsets record: ${count} bytes wanted at ${this.position} of ${this.buffer.length}`);
    }
    const at = this.position;
    this.position += count;
    return at;
  }

  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }

  int64(): number {
    const value = this.buffer.readBigInt64BE(this.take(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new OffsetsRecordError(`int64 ${value} is out of range`);
    return Number(value);
  }

  string(): string {
    const length = this.buffer.readUInt16BE(this.take(2));
    const at = this.take(length);
    return this.buffer.toString('utf8', at, at + length);
  }

  bytes(): Buffer {
    const length = this.int32();
    const at = this.take(length);
    // A copy: the record's buffer is a read of the log and must not be kept alive by a member.
    return Buffer.from(this.buffer.subarray(at, at + length));
  }

  end(): void {
    if (this.position !== this.buffer.length) throw new OffsetsRecordError(`${this.buffer.length - this.position} bytes after the offsets record's fields`);
  }
}
