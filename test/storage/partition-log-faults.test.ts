import assert from 'node:assert/strict';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { CLEAN_SHUTDOWN_FILE, type PartitionLog } from '../../broker/storage/partition-log.js';
import { CorruptBatchError, LogClosedError, StorageFullError } from '../../broker/storage/storage-errors.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

const SMALL_SEGMENTS = { segmentBytes: 2048, maxBatchBytes: 2048 } as const;
const BATCH_BYTES = 61 + 239;

async function allRanges(log: PartitionLog): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
    const bytes = await log.read(offset, 1 << 20);
    for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
      ranges.push([baseOffsetNumberAt(bytes, at), baseOffsetNumberAt(bytes, at) + lastOffsetDeltaAt(bytes, at)]);
    }
    offset = ranges[ranges.length - 1][1] + 1;
  }
  return ranges;
}

describe('PartitionLog under injected faults', () => {
  test('ENOSPC in the middle of concurrent appends fails only what did not fit', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open({ segmentBytes: 1 << 20, flushPolicy: 'always' });
      await log.append(buildBatch({ recordsBytes: 239 }), 1);
      context.writer.failAfterBytes = context.writer.logBytesWritten + BATCH_BYTES * 2 + 10;
      // However the appends group, those written whole succeed (a prefix, in order) and the
      // group that hit the full disk fails whole with StorageFullError.
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => log.append(buildBatch({ recordsBytes: 239 }), 1)));
      const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
      assert.ok(fulfilled <= 2);
      outcomes.forEach((outcome, i) => {
        if (i < fulfilled) assert.ok(outcome.status === 'fulfilled' && outcome.value.baseOffset === i + 1);
        else assert.ok(outcome.status === 'rejected' && outcome.reason instanceof StorageFullError);
      });
      assert.equal(log.logEndOffset, 1 + fulfilled);
      context.writer.failAfterBytes = Number.POSITIVE_INFINITY;
      assert.equal((await log.append(buildBatch({ recordsBytes: 239 }), 1)).baseOffset, 1 + fulfilled);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const reopened = await context.open();
      assert.deepEqual(
        await allRanges(reopened),
        Array.from({ length: 2 + fulfilled }, (_, i) => [i, i]),
      );
      await reopened.close();
    });
  });

  test('a corrupt batch among concurrent appends fails alone; the others get contiguous offsets', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open({ segmentBytes: 1 << 20 });
      await log.append(buildBatch({ recordsBytes: 239 }), 1);
      const batches = Array.from({ length: 8 }, (_, i) => buildBatch({ recordsBytes: 239, recordCount: 2, seed: i }));
      batches[3][100] ^= 0xff;
      batches[6][70] ^= 0x01;
      const outcomes = await Promise.allSettled(batches.map((batch) => log.append(batch, 1)));
      const offsets: number[] = [];
      outcomes.forEach((outcome, i) => {
        if (i === 3 || i === 6) assert.ok(outcome.status === 'rejected' && outcome.reason instanceof CorruptBatchError, `append ${i}`);
        else if (outcome.status === 'fulfilled') offsets.push(outcome.value.baseOffset);
        else assert.fail(`append ${i} failed: ${String(outcome.reason)}`);
      });
      assert.deepEqual(offsets, [1, 3, 5, 7, 9, 11]);
      assert.equal(log.logEndOffset, 13);
      // CRCs are checked while the bytes are written: the run with the corrupt batches reached
      // the file, was cut, and its good appends were written again.
      assert.ok(context.writer.logBytesWritten > 7 * BATCH_BYTES, `${context.writer.logBytesWritten} bytes written`);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const reopened = await context.open();
      assert.deepEqual(await allRanges(reopened), [[0, 0], [1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]]);
      await reopened.close();
    });
  });

  test('a roll on a full disk fails the append, keeps the active segment, and resumes later', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      for (let i = 0; i < 6; i++) await log.append(buildBatch({ recordsBytes: 239 }), 1);
      assert.equal(log.segmentCount, 1);
      context.writer.failCreateLog = true;
      await assert.rejects(log.append(buildBatch({ recordsBytes: 239 }), 1), StorageFullError);
      await assert.rejects(log.append(buildBatch({ recordsBytes: 239 }), 1), StorageFullError);
      assert.deepEqual([log.segmentCount, log.logEndOffset], [1, 6]);
      assert.equal((await log.read(5, 1 << 20)).length, BATCH_BYTES);
      context.writer.failCreateLog = false;
      assert.equal((await log.append(buildBatch({ recordsBytes: 239 }), 1)).baseOffset, 6);
      assert.equal(log.segmentCount, 2);
      await log.close();
      const reopened = await context.open(SMALL_SEGMENTS);
      assert.equal((await allRanges(reopened)).length, 7);
      assert.deepEqual((await readdir(dir)).filter((name) => name.endsWith('.log')).sort(), ['00000000000000000000.log', '00000000000000000006.log']);
      await reopened.close();
    });
  });

  test('retention frees space on a full disk, and appends resume', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      for (let i = 0; i < 8; i++) await log.append(buildBatch({ recordsBytes: 239 }), i < 4 ? 1 : 2);
      assert.equal(log.segmentCount, 2);
      context.writer.diskFull = true;
      await assert.rejects(log.append(buildBatch({ recordsBytes: 239 }), 2), StorageFullError);
      log.setHighWatermark(log.logEndOffset);
      // The fixture's batches are from 2023: older than the 7-day retention.
      assert.deepEqual(await log.applyRetention(Date.now()), { deletedSegments: 1 });
      assert.deepEqual([log.logStartOffset, log.logEndOffset, log.epochAt(6)], [6, 8, 2]);
      context.writer.diskFull = false;
      assert.equal((await log.append(buildBatch({ recordsBytes: 239 }), 2)).baseOffset, 8);
      await log.close();
      const reopened = await context.open(SMALL_SEGMENTS);
      assert.deepEqual([reopened.logStartOffset, reopened.logEndOffset, reopened.epochAt(6)], [6, 9, 2]);
      assert.deepEqual(reopened.epochEntries(), [[2, 6]]);
      await reopened.close();
    });
  });

  test('a failed fdatasync stops the log; reopening recovers what reached the file', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      await log.append(buildBatch({ recordsBytes: 239 }), 1);
      context.writer.failNextLogDatasync = true;
      await assert.rejects(log.append(buildBatch({ recordsBytes: 239 }), 1), (error: unknown) => (error as { code?: string }).code === 'EIO');
      await assert.rejects(log.append(buildBatch(), 1), LogClosedError);
      await assert.rejects(log.flush(), LogClosedError);
      await log.close();
      assert.ok(!(await readdir(dir)).includes(CLEAN_SHUTDOWN_FILE), 'no clean marker after a failure');
      const reopened = await context.open(SMALL_SEGMENTS);
      // The unacknowledged batch's bytes were in the file (here the page cache kept them).
      assert.deepEqual(await allRanges(reopened), [[0, 0], [1, 1]]);
      await reopened.close();
    });
  });
});
