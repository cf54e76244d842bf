/**
 * Bytes that went bad on the disk after they were written whole (bit rot, a stray write): reads
 * never serve them, recovery tells them from a torn tail, and a scrub finds them anywhere.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { appendFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLEAN_SHUTDOWN_FILE, type PartitionLog } from '../../broker/storage/partition-log.js';
import { CorruptLogError } from '../../broker/storage/storage-errors.js';
import { baseOffsetNumberAt } from '../../record/batch-header.js';
import { dataBatchCount, flipRecordBit, segmentFiles } from '../fixtures/flip-bit.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir, type TestLogContext } from './storage-fixtures.js';

/** Small segments without index entries (recovery scans a whole tail), no tail cache (reads go to the files). */
const CONFIG = { segmentBytes: 4096, maxBatchBytes: 4096, indexIntervalBytes: 4096, tailCacheBytes: 0 } as const;

async function filledLog(context: TestLogContext, batches: number): Promise<number> {
  const log = await context.open(CONFIG);
  for (let i = 0; i < batches; i++) await log.append(buildBatch({ recordCount: 1 + (i % 3), recordsBytes: 60 + ((i * 37) % 120), seed: i }), 1);
  const end = log.logEndOffset;
  log.setHighWatermark(end);
  await log.close();
  return end;
}

async function reopenUnclean(context: TestLogContext, dir: string): Promise<PartitionLog> {
  await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
  return context.open(CONFIG);
}

describe('damaged stored batches', () => {
  test('a batch that went bad on disk is never served: its read throws CorruptLogError at its offset; the others still read', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      await filledLog(context, 120);
      assert.ok(segmentFiles(dir).length >= 3);
      const flipped = flipRecordBit(dir, 0, 2);
      const log = await context.open(CONFIG);
      try {
        await assert.rejects(log.read(flipped.batchBaseOffset, 1 << 20), (error: unknown) => {
          assert.ok(error instanceof CorruptLogError, String(error));
          assert.equal(error.offset, flipped.batchBaseOffset);
          assert.equal(error.reason, 'bad-crc');
          return true;
        });
        // A read that starts before it and would run into it fails too: nothing of it leaves.
        await assert.rejects(log.read(0, 1 << 20), CorruptLogError);
        const first = await log.read(0, 1);
        assert.equal(baseOffsetNumberAt(first, 0), 0);
        const after = await log.read(flipped.batchLastOffset + 1, 1 << 20);
        assert.equal(baseOffsetNumberAt(after, 0), flipped.batchLastOffset + 1);
      } finally {
        await log.close();
      }
    });
  });

  test('recovery after an unclean shutdown reports a bad batch followed by sound ones as damage, and cuts there', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const end = await filledLog(context, 120);
      const flipped = flipRecordBit(dir, -1, 1);
      const log = await reopenUnclean(context, dir);
      try {
        assert.equal(log.logEndOffset, flipped.batchBaseOffset);
        assert.deepEqual(log.damageOnOpen, { fromOffset: flipped.batchBaseOffset, throughOffset: end - 1 });
        assert.equal(log.openedClean, false);
      } finally {
        await log.close();
      }
    });
  });

  test('a bad last batch or garbage after the last batch is a torn tail: cut, but not reported as damage', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      await filledLog(context, 120);
      const tail = segmentFiles(dir).at(-1) as string;
      await appendFile(tail, Buffer.alloc(300, 0xab));
      let log = await reopenUnclean(context, dir);
      const end = log.logEndOffset;
      assert.equal(log.damageOnOpen, undefined);
      await log.close();
      const last = flipRecordBit(dir, -1, dataBatchCount(dir, -1) - 1);
      assert.equal(last.batchLastOffset, end - 1, 'the flipped batch is the last one');
      log = await reopenUnclean(context, dir);
      try {
        assert.equal(log.logEndOffset, last.batchBaseOffset);
        assert.equal(log.damageOnOpen, undefined);
      } finally {
        await log.close();
      }
    });
  });

  test('a scrub reads the whole log back and finds a flipped bit anywhere; a sound log scrubs clean', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      await filledLog(context, 120);
      let log = await context.open(CONFIG);
      let throttled = 0;
      const throttle = async (bytes: number): Promise<void> => {
        throttled += bytes;
      };
      assert.equal(await log.scrub(throttle, () => false), undefined);
      const totalBytes = segmentFiles(dir).reduce((sum, file) => sum + statSync(file).size, 0);
      assert.equal(throttled, totalBytes, 'every byte passed the throttle once');
      await log.close();

      // A sealed segment in the middle: a clean open trusts it, recovery never scans it.
      const flipped = flipRecordBit(dir, 1, 1);
      log = await context.open(CONFIG);
      try {
        assert.equal(log.openedClean, true);
        const damage = await log.scrub(throttle, () => false);
        assert.ok(damage instanceof CorruptLogError);
        assert.equal(damage.offset, flipped.batchBaseOffset);
        assert.equal(await log.scrub(throttle, () => true), undefined, 'a stopped scrub reports nothing');
      } finally {
        await log.close();
      }
    });
  });
});

