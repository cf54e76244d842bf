import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptRecordError } from '../../record/errors.js';
import { ByteReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../../record/varint.js';

/** Zigzag varints as the format defines them, computed independently (64-bit integer arithmetic). */
const VARINT_VECTORS: Array<[number, string]> = [
  [0, '00'],
  [-1, '01'],
  [1, '02'],
  [-2, '03'],
  [63, '7e'],
  [-64, '7f'],
  [64, '8001'],
  [300, 'd804'],
  [2147483647, 'feffffff0f'],
  [-2147483648, 'ffffffff0f'],
];

const VARLONG_VECTORS: Array<[number, string]> = [
  [1_700_000_000_000, '80a0abfef962'],
  [-1_700_000_000_000, 'ff9fabfef962'],
  [2 ** 31, '8080808010'],
  [-(2 ** 31) - 1, '8180808010'],
];

describe('zigzag varints', () => {
  it('encode and decode the known vectors', () => {
    for (const [value, hex] of VARINT_VECTORS) {
      const buf = Buffer.alloc(5);
      const end = writeVarint(buf, 0, value);
      assert.equal(buf.subarray(0, end).toString('hex'), hex, String(value));
      assert.equal(sizeOfVarint(value), end);
      assert.equal(new ByteReader(buf, 0, end).readVarint(), value);
    }
    for (const [value, hex] of VARLONG_VECTORS) {
      const buf = Buffer.alloc(10);
      const end = writeVarlong(buf, 0, value);
      assert.equal(buf.subarray(0, end).toString('hex'), hex, String(value));
      assert.equal(sizeOfVarlong(value), end);
      assert.equal(new ByteReader(buf, 0, end).readVarlong(), value);
    }
  });

  it('round trip across the ranges', () => {
    const buf = Buffer.alloc(10);
    for (let value = -(2 ** 31); value < 2 ** 31; value += 65_537 * 3) {
      const end = writeVarint(buf, 0, value);
      assert.equal(new ByteReader(buf, 0, end).readVarint(), value);
    }
    for (let value = -(2 ** 52) + 1; value < 2 ** 52; value += 2 ** 44 + 12345) {
      const end = writeVarlong(buf, 0, value);
      assert.equal(end, sizeOfVarlong(value));
      assert.equal(new ByteReader(buf, 0, end).readVarlong(), value);
    }
  });

  it('overlong and truncated varints are corrupt', () => {
    const reason = (action: () => unknown, expected: string): void => {
      assert.throws(action, (error: unknown) => error instanceof CorruptRecordError && error.reason === expected);
    };
    reason(() => new ByteReader(Buffer.from('808080808001', 'hex'), 0, 6).readVarint(), 'varint-overflow');
    reason(() => new ByteReader(Buffer.from('8080', 'hex'), 0, 2).readVarint(), 'truncated');
    reason(() => new ByteReader(Buffer.from('80808080808080808080' + '01', 'hex'), 0, 11).readVarlong(), 'varint-overflow');
    reason(() => new ByteReader(Buffer.from('ffffffffffffffff7f', 'hex'), 0, 9).readVarlong(), 'varint-overflow');
    reason(() => new ByteReader(Buffer.from('03', 'hex'), 0, 1).readNullableBytes(), 'bad-length');
    reason(() => new ByteReader(Buffer.from('0a6162', 'hex'), 0, 3).readNullableBytes(), 'truncated');
  });
});
