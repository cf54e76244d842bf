import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Codec, OFFSET_ATTRIBUTES } from '../../record/batch-header.js';
import { CodecPool } from '../../record/codec-pool.js';
import { compress, decompress } from '../../record/codecs.js';
import { CorruptRecordError, InvalidRecordError } from '../../record/errors.js';
import type { ProduceRecord } from '../../record/record.js';
import { decodeBatch, encodeBatch } from '../../record/record-batch.js';
import { TestRandom } from '../fixtures/test-random.js';

const NOW_MS = 1_700_000_000_000;
const ALL_CODECS = [Codec.None, Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd];
const ZERO_THRESHOLDS = { [Codec.None]: 0, [Codec.Gzip]: 0, [Codec.Snappy]: 0, [Codec.Lz4]: 0, [Codec.Zstd]: 0 };

function records(random: TestRandom, count: number): ProduceRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: i % 4 === 0 ? null : Buffer.from(`key-${i}`),
    value: random.compressibleBytes(random.below(2000)),
    headers: i % 3 === 0 ? [{ key: 'trace', value: Buffer.from(String(i)) }] : [],
    timestamp: NOW_MS + i,
  }));
}

async function rejectsCorrupt(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CorruptRecordError, `expected CorruptRecordError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

describe('codec pool', () => {
  // Everything goes to the worker, so every path below crosses the thread boundary.
  const pool = new CodecPool({ threads: 1, encodeThresholdsBytes: ZERO_THRESHOLDS, decodeThresholdsBytes: ZERO_THRESHOLDS });
  after(() => pool.close());

  it('encodes on a worker to the same bytes as inline, and decodes them back', async () => {
    const random = new TestRandom(11);
    const input = records(random, 300);
    for (const codec of ALL_CODECS) {
      const offloadedBefore = pool.offloadedCount;
      const pooled = await pool.encodeBatch(input, { codec, nowMs: NOW_MS, baseOffset: 40 });
      assert.equal(pooled.toString('hex'), encodeBatch(input, { codec, nowMs: NOW_MS, baseOffset: 40 }).toString('hex'), Codec[codec]);
      const decoded = await pool.decodeBatch(pooled);
      assert.equal(pooled.length > 0 && pooled.buffer.byteLength > 0, true, 'the caller\'s batch is not detached');
      assert.deepEqual(decoded, decodeBatch(pooled));
      // An uncompressed batch needs no worker to encode: only its decode (CRC) was offloaded.
      assert.equal(pool.offloadedCount - offloadedBefore, codec === Codec.None ? 1 : 2, Codec[codec]);
      // Views into one transferred buffer, not per-record copies.
      assert.equal(decoded.records[1].value!.buffer, decoded.records[2].value!.buffer);
    }
  });

  it('validates on a worker without bringing the records back', async () => {
    const batch = encodeBatch(records(new TestRandom(16), 50), { codec: Codec.Gzip, nowMs: NOW_MS, baseOffset: 7 });
    const info = await pool.validateBatch(batch);
    assert.equal(info.recordCount, 50);
    assert.equal(info.baseOffset, 7);
    const broken = Buffer.from(batch);
    broken[100] ^= 0x10;
    await rejectsCorrupt(pool.validateBatch(broken), 'bad-crc');
  });

  it('runs many operations concurrently', async () => {
    const random = new TestRandom(12);
    const inputs = Array.from({ length: 24 }, () => records(random, 1 + random.below(50)));
    const batches = await Promise.all(inputs.map((input, i) => pool.encodeBatch(input, { codec: ALL_CODECS[i % 5], nowMs: NOW_MS })));
    const decoded = await Promise.all(batches.map((batch) => pool.decodeBatch(batch)));
    decoded.forEach((batch, i) => assert.equal(batch.records.length, inputs[i].length));
  });

  it('typed errors cross the thread boundary', async () => {
    const batch = encodeBatch(records(new TestRandom(13), 20), { codec: Codec.Zstd, nowMs: NOW_MS });
    const broken = Buffer.from(batch);
    broken[broken.length - 3] ^= 0x55;
    await rejectsCorrupt(pool.decodeBatch(broken), 'bad-crc');
    const bomb = encodeBatch([{ key: null, value: Buffer.alloc(4 << 20) }], { codec: Codec.Lz4, nowMs: NOW_MS });
    await rejectsCorrupt(pool.decodeBatch(bomb, 0, { maxDecompressedBytes: 1 << 20, maxRecords: 10 }), 'decompressed-too-large');
    await rejectsCorrupt(pool.decompress(Codec.Gzip, Buffer.from('not gzip at all'), 100), 'bad-compression');
    const badCodec = Buffer.from(batch);
    badCodec.writeInt16BE(6, OFFSET_ATTRIBUTES);
    await assert.rejects(pool.decodeBatch(badCodec), CorruptRecordError); // the CRC check comes first
  });

  it('compress and decompress leave the caller\'s buffers intact', async () => {
    const data = new TestRandom(14).compressibleBytes(100_000);
    const slice = Buffer.concat([Buffer.alloc(10), data]).subarray(10);
    for (const codec of [Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd]) {
      const compressed = await pool.compress(codec, slice);
      assert.equal(slice.length, data.length);
      assert.deepEqual(decompress(codec, compressed, data.length), data);
      const inlineCompressed = compress(codec, data);
      assert.deepEqual(await pool.decompress(codec, inlineCompressed, data.length), data);
      assert.equal(inlineCompressed.length > 0, true);
    }
  });

  it('stays inline below the thresholds and when the queue is full', async () => {
    const small = new CodecPool({ threads: 1 });
    const saturated = new CodecPool({ threads: 1, encodeThresholdsBytes: ZERO_THRESHOLDS, maxQueuedTasks: 0 });
    try {
      const input = records(new TestRandom(15), 3);
      for (const target of [small, saturated]) {
        const batch = await target.encodeBatch(input, { codec: Codec.Zstd, nowMs: NOW_MS });
        assert.equal((await target.decodeBatch(batch)).records.length, 3);
        assert.equal(target.offloadedCount, 0);
        assert.equal(target.inlineCount, 2);
      }
    } finally {
      await small.close();
      await saturated.close();
    }
  });

  it('refuses work after close', async () => {
    const closing = new CodecPool({ threads: 1 });
    await closing.close();
    await assert.rejects(closing.encodeBatch([{ key: null, value: null }], { nowMs: NOW_MS }), InvalidRecordError);
  });
});
