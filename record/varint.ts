/**
 * Zigzag varints as the record format uses them: `varint` for 32-bit values (at most 5 bytes) and
 * `varlong` for timestamps (at most 10 bytes on the wire). Brook's numbers are JS doubles, so a
 * varlong is limited to magnitudes below 2^52: enough for millisecond timestamps and their deltas,
 * and small enough that zigzag encoding stays exact.
 */
import { CorruptRecordError } from './errors.js';

export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;
/** Largest magnitude a varlong may carry in Brook (exclusive). */
export const VARLONG_MAGNITUDE_LIMIT = 2 ** 52;

const TWO_POW_32 = 2 ** 32;

/** Bytes taken by the zigzag varint of `value`, an int32. */
export function sizeOfVarint(value: number): number {
  const zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  if (zigzag < 0x80) return 1;
  if (zigzag < 0x4000) return 2;
  if (zigzag < 0x200000) return 3;
  if (zigzag < 0x10000000) return 4;
  return 5;
}

/** Bytes taken by the zigzag varlong of `value`, an integer of magnitude below 2^52. */
export function sizeOfVarlong(value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return sizeOfVarint(value);
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 128);
    size++;
  }
  return size;
}

/** Writes the zigzag varint of `value` (an int32) at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    buf[pos++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[pos++] = zigzag;
  return pos;
}

/** Writes the zigzag varlong of `value` (magnitude below 2^52) at `pos`; returns the next position. */
export function writeVarlong(buf: Buffer, pos: number, value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return writeVarint(buf, pos, value);
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zigzag >= TWO_POW_32) {
    buf[pos++] = (zigzag % 128) | 0x80;
    zigzag = Math.floor(zigzag / 128);
  }
  let low = zigzag >>> 0;
  while (low >= 0x80) {
    buf[pos++] = (low & 0x7f) | 0x80;
    low >>>= 7;
  }
  buf[pos++] = low;
  return pos;
}

/**
 * A bounds-checked cursor over `buf[pos, end)`. Every read checks the bytes that remain first and
 * throws CorruptRecordError when they are not there, so a lying length never reads past `end`.
 */
export class ByteReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  readInt8(): number {
    if (this.pos >= this.end) throw new CorruptRecordError('truncated', 'int8 past the end');
    const byte = this.buf[this.pos++];
    return (byte << 24) >> 24;
  }

  /** A zigzag varint (int32). More than 5 bytes is an overflow, as in Kafka. */
  readVarint(): number {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    let raw = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw new CorruptRecordError('truncated', 'varint past the end');
      const byte = buf[pos++];
      raw |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7;
      if (shift > 28) throw new CorruptRecordError('varint-overflow', 'varint longer than 5 bytes');
    }
    this.pos = pos;
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag varlong, limited to magnitudes below 2^52 (see the module comment). */
  readVarlong(): number {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    let zigzag = 0;
    let scale = 1;
    for (let index = 0; ; index++) {
      if (index >= VARLONG_BYTES_MAX) throw new CorruptRecordError('varint-overflow', 'varlong longer than 10 bytes');
      if (pos >= end) throw new CorruptRecordError('truncated', 'varlong past the end');
      const byte = buf[pos++];
      zigzag += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    if (zigzag >= VARLONG_MAGNITUDE_LIMIT * 2) throw new CorruptRecordError('varint-overflow', 'varlong out of range');
    this.pos = pos;
    return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
  }

  /**
   * A varint length followed by that many bytes, as a view; -1 means null. Any other negative
   * length, or one longer than what remains, is corrupt.
   */
  readNullableBytes(): Buffer | null {
    const length = this.readVarint();
    if (length === -1) return null;
    if (length < 0) throw new CorruptRecordError('bad-length', `negative length ${length}`);
    if (length > this.end - this.pos) throw new CorruptRecordError('truncated', `length ${length} exceeds the bytes left`);
    const start = this.pos;
    this.pos = start + length;
    return this.buf.subarray(start, start + length);
  }

  /** A varint length followed by that many bytes of UTF-8; null is not allowed. */
  readString(): string {
    const length = this.readVarint();
    if (length < 0) throw new CorruptRecordError('bad-length', `negative string length ${length}`);
    if (length > this.end - this.pos) throw new CorruptRecordError('truncated', `length ${length} exceeds the bytes left`);
    const start = this.pos;
    this.pos = start + length;
    return this.buf.toString('utf8', start, start + length);
  }
}
