import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  attributesAt,
  baseOffsetNumberAt,
  batchSizeAt,
  checkBatchAt,
  lastOffsetDeltaAt,
  maxTimestampAt,
  partitionLeaderEpochAt,
} from '../../record/batch-header.js';
import { BatchTooLargeError, CorruptBatchError, LogClosedError, NonContiguousAppendError, OffsetOutOfRangeError, StaleLeaderEpochError } from '../../broker/storage/storage-errors.js';
import { buildBatch, buildBatches } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

/** [baseOffset, lastOffset] of every batch in `bytes`, after checking each frame and CRC. */
function batchRanges(bytes: Buffer): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
    assert.equal(checkBatchAt(bytes, at, bytes.length, true), null);
    ranges.push([baseOffsetNumberAt(bytes, at), baseOffsetNumberAt(bytes, at) + lastOffsetDeltaAt(bytes, at)]);
  }
  return ranges;
}

describe('PartitionLog append and read', () => {
  test('assigns contiguous offsets, stamps epoch in place and reads whole batches back', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open();
      const first = buildBatches([{ recordCount: 3 }, { recordCount: 2 }]);
      assert.deepEqual(await log.append(first, 4), { baseOffset: 0, lastOffset: 4, logAppendTimeMs: -1 });
      assert.deepEqual(await log.append(buildBatch({ recordCount: 5 }), 4), { baseOffset: 5, lastOffset: 9, logAppendTimeMs: -1 });
      assert.equal(log.logEndOffset, 10);
      assert.equal(partitionLeaderEpochAt(first, 0), 4);
      assert.equal(baseOffsetNumberAt(first, batchSizeAt(first, 0)), 3);
      assert.deepEqual(batchRanges(await log.read(0, 1 << 20)), [[0, 2], [3, 4], [5, 9]]);
      // An offset inside a batch returns that whole batch.
      assert.deepEqual(batchRanges(await log.read(4, 1 << 20)), [[3, 4], [5, 9]]);
      assert.equal((await log.read(10, 1 << 20)).length, 0);
      await assert.rejects(log.read(11, 100), OffsetOutOfRangeError);
      await log.close();
    });
  });

  test('maxBytes returns at least one whole batch, and maxOffsetExclusive hides uncommitted batches', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir, { tailCacheBytes: 0 }).open();
      for (let i = 0; i < 5; i++) await log.append(buildBatch({ recordCount: 2, recordsBytes: 1000, seed: i }), 1);
      const batchBytes = 1061;
      assert.deepEqual(batchRanges(await log.read(0, 10)), [[0, 1]]);
      assert.deepEqual(batchRanges(await log.read(0, 2 * batchBytes)), [[0, 1], [2, 3]]);
      assert.deepEqual(batchRanges(await log.read(0, 2 * batchBytes - 1)), [[0, 1]]);
      log.setHighWatermark(5);
      // Offsets 4-5 share a batch that is only partly committed: it stays hidden.
      assert.deepEqual(batchRanges(await log.read(0, 1 << 20, log.highWatermark)), [[0, 1], [2, 3]]);
      assert.equal((await log.read(4, 1 << 20, log.highWatermark)).length, 0);
      await log.close();
    });
  });

  test('tail cache and disk reads return identical bytes for every offset and size', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir, { indexIntervalBytes: 200, segmentBytes: 2048, maxBatchBytes: 2048 });
      const log = await context.open({ tailCacheBytes: 3000 });
      for (let i = 0; i < 40; i++) {
        await log.append(buildBatches([{ recordCount: 1 + (i % 3), recordsBytes: 50 + ((i * 37) % 300), seed: i }]), 2);
      }
      const end = log.logEndOffset;
      const fromCacheOrDisk: Buffer[] = [];
      for (let offset = 0; offset < end; offset++) fromCacheOrDisk.push(await log.read(offset, 700));
      await log.close();
      const diskOnly = await context.open({ tailCacheBytes: 0 });
      for (let offset = 0; offset < end; offset++) {
        assert.deepEqual(await diskOnly.read(offset, 700), fromCacheOrDisk[offset], `offset ${offset}`);
      }
      assert.ok(diskOnly.segmentCount > 3, 'the data spans several segments');
      await diskOnly.close();
    });
  });

  test('LogAppendTime stamps maxTimestamp and the attribute bit, with a valid CRC', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir, { timestampType: 'log-append' });
      const log = await context.open();
      const batch = buildBatch({ recordCount: 2, maxTimestampMs: 5 });
      const result = await log.append(batch, 0);
      assert.equal(result.logAppendTimeMs, context.clock.nowMs());
      const stored = await log.read(0, 1 << 20);
      assert.equal(checkBatchAt(stored, 0, stored.length, true), null);
      assert.equal(maxTimestampAt(stored, 0), context.clock.nowMs());
      assert.equal(attributesAt(stored, 0) & ATTR_TIMESTAMP_TYPE_LOG_APPEND, ATTR_TIMESTAMP_TYPE_LOG_APPEND);
      await log.close();
    });
  });

  test('rejects bad input with typed errors and keeps working', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir, { maxBatchBytes: 2000 }).open();
      const corrupt = buildBatch({ recordsBytes: 100 });
      corrupt[80] ^= 1;
      await assert.rejects(log.append(corrupt, 0), (error: unknown) => error instanceof CorruptBatchError && error.reason === 'bad-crc');
      await assert.rejects(log.append(buildBatch().subarray(0, 70), 0), CorruptBatchError);
      await assert.rejects(log.append(Buffer.alloc(0), 0), CorruptBatchError);
      await assert.rejects(log.append(buildBatch({ recordsBytes: 3000 }), 0), BatchTooLargeError);
      await log.append(buildBatch(), 3);
      await assert.rejects(log.append(buildBatch(), 2), StaleLeaderEpochError);
      await assert.rejects(log.appendReplicated(buildBatch({ baseOffset: 7, leaderEpoch: 3 })), NonContiguousAppendError);
      await log.appendReplicated(buildBatch({ baseOffset: 1, leaderEpoch: 3, recordCount: 2 }));
      assert.equal(log.logEndOffset, 3);
      await log.close();
      await assert.rejects(log.append(buildBatch(), 3), LogClosedError);
      await assert.rejects(log.read(0, 100), LogClosedError);
    });
  });

  test('onChange fires on appends and high-watermark moves', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open();
      const seen: Array<[number, number]> = [];
      const unsubscribe = log.onChange(() => seen.push([log.logEndOffset, log.highWatermark]));
      await log.append(buildBatch({ recordCount: 2 }), 0);
      log.setHighWatermark(2);
      unsubscribe();
      await log.append(buildBatch(), 0);
      assert.deepEqual(seen, [[2, 0], [2, 2]]);
      assert.throws(() => log.setHighWatermark(4), RangeError);
      await log.close();
    });
  });
});
