/**
 * The few protobuf wire-format pieces Brook's hand-written encoders need (the Fetch response on
 * the broker, the Produce request in the client): each encoder sizes its message first, allocates
 * once, then writes into that buffer. Every writer takes the position to write at and returns
 * the position after what it wrote.
 *
 * Fields holding their proto3 default (0, empty bytes) are written as nothing, which every
 * proto3 decoder reads back as that default.
 */
import assert from 'node:assert/strict';

export const WIRE_VARINT = 0;
export const WIRE_LENGTH_DELIMITED = 2;

/** Field numbers up to this one have a one-byte tag, which is all these writers emit. */
const ONE_BYTE_TAG_FIELD_MAX = 15;

/** The one-byte tag of a field: its number and wire type. */
export function fieldTag(field: number, wireType: number): number {
  assert.ok(Number.isInteger(field) && field >= 1 && field <= ONE_BYTE_TAG_FIELD_MAX, `field ${field} has a one-byte tag`);
  return (field << 3) | wireType;
}

/** A negative int32/int64/enum is sign-extended to 64 bits on the wire: always ten bytes. */
const NEGATIVE_VARINT_BYTES = 10;

/** Encoded size of an integer as a protobuf varint (int32, int64 and enum fields alike). */
export function varintBytes(value: number): number {
  if (value < 0) return NEGATIVE_VARINT_BYTES;
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}

export function writeVarint(buffer: Buffer, position: number, value: number): number {
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

/** Size of a varint field on the wire; nothing when it holds 0. */
export const scalarFieldBytes = (value: number): number => (value === 0 ? 0 : 1 + varintBytes(value));

/** Size of a length-delimited field with a body of `length` bytes: tag, length, body. */
export const lengthDelimitedBytes = (length: number): number => 1 + varintBytes(length) + length;

/** Size of a bytes/string field on the wire; nothing when it is empty. */
export const bytesFieldBytes = (length: number): number => (length === 0 ? 0 : lengthDelimitedBytes(length));

/** Writes a varint field, or nothing when it holds 0. */
export function writeScalarField(buffer: Buffer, position: number, tag: number, value: number): number {
  if (value === 0) return position;
  buffer[position++] = tag;
  return writeVarint(buffer, position, value);
}

/** Writes the tag and length of a length-delimited field whose body the caller writes next. */
export function writeLengthDelimitedHeader(buffer: Buffer, position: number, tag: number, length: number): number {
  buffer[position++] = tag;
  return writeVarint(buffer, position, length);
}

/** Writes a bytes/string field, or nothing when it is empty. */
export function writeBytesField(buffer: Buffer, position: number, tag: number, bytes: Uint8Array | undefined): number {
  if (bytes === undefined || bytes.length === 0) return position;
  position = writeLengthDelimitedHeader(buffer, position, tag, bytes.length);
  buffer.set(bytes, position);
  return position + bytes.length;
}
