import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { baseOffsetNumberAt } from '../../record/batch-header.js';
import { SEALED_INDEXES_IN_MEMORY_MAX, type PartitionLog } from '../../broker/storage/partition-log.js';
import { OffsetOutOfRangeError } from '../../broker/storage/storage-errors.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

const T0 = 1_700_000_000_000;
const SMALL_SEGMENTS = { segmentBytes: 2048, maxBatchBytes: 2048, indexIntervalBytes: 128 } as const;

/** One 10-record batch of 500 bytes (exactly four per 2048-byte segment) with the given time. */
function timedBatch(timestampMs: number, seed = 0): Buffer {
  return buildBatch({ recordCount: 10, recordsBytes: 500 - 61, baseTimestampMs: timestampMs, maxTimestampMs: timestampMs, seed });
}

async function logFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
}

describe('PartitionLog roll, retention, time lookup, truncation and epochs', () => {
  test('rolls by segment.bytes and by segment.ms, naming segments by base offset', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open({ ...SMALL_SEGMENTS, segmentMs: 60_000 });
      for (let i = 0; i < 9; i++) await log.append(timedBatch(T0 + i), 0);
      assert.deepEqual(await logFiles(dir), ['00000000000000000000.log', '00000000000000000040.log', '00000000000000000080.log']);
      context.clock.advance(59_999);
      await log.append(timedBatch(T0), 0);
      assert.equal(log.segmentCount, 3);
      context.clock.advance(1);
      await log.append(timedBatch(T0), 0);
      assert.deepEqual((await logFiles(dir)).at(-1), '00000000000000000100.log');
      // Sealed segments were fdatasynced whole when they rolled.
      for (const [name, synced] of log.fsyncedLengths()) assert.ok(name !== '00000000000000000000.log' || synced === 2000);
      await log.close();
    });
  });

  test('retention by time deletes old whole segments, never the active one, and survives reopen', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const hourMs = 3_600_000;
      const log = await context.open({ ...SMALL_SEGMENTS, retentionMs: hourMs });
      for (let i = 0; i < 12; i++) await log.append(timedBatch(T0 + i * 60_000), 0);
      assert.equal(log.segmentCount, 3);
      log.setHighWatermark(log.logEndOffset);
      // Segment 0 ends at T0+3m, segment 40 at T0+7m; segment 80 is active.
      assert.deepEqual(await log.applyRetention(T0 + 3 * 60_000 + hourMs), { deletedSegments: 0 });
      assert.deepEqual(await log.applyRetention(T0 + 3 * 60_000 + hourMs + 1), { deletedSegments: 1 });
      assert.equal(log.logStartOffset, 40);
      await assert.rejects(log.read(39, 100), OffsetOutOfRangeError);
      assert.deepEqual(await log.applyRetention(T0 + 1000 * hourMs), { deletedSegments: 1 });
      assert.deepEqual(await logFiles(dir), ['00000000000000000080.log']);
      assert.equal(log.logStartOffset, 80);
      await log.close();
      const reopened = await context.open(SMALL_SEGMENTS);
      assert.deepEqual([reopened.logStartOffset, reopened.logEndOffset], [80, 120]);
      await reopened.close();
    });
  });

  test('retention by size keeps at least retention.bytes', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open({ ...SMALL_SEGMENTS, retentionBytes: 4500 });
      for (let i = 0; i < 22; i++) await log.append(timedBatch(T0 + i), 0);
      // Segments: 5 full (2000 bytes each) and an active one with 1000 bytes: 11000 bytes.
      assert.equal(log.sizeBytes, 11_000);
      log.setHighWatermark(log.logEndOffset);
      assert.deepEqual(await log.applyRetention(T0), { deletedSegments: 3 });
      assert.equal(log.sizeBytes, 5000);
      assert.equal(log.logStartOffset, 120);
      await log.close();
    });
  });

  test('offsetForTimestamp finds the first batch at or after a time, across segments', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const times = [5, 3, 9, 9, 12, 11, 20, 15, 30, 25, 26, 40];
      let log = await context.open(SMALL_SEGMENTS);
      for (const [i, time] of times.entries()) await log.append(timedBatch(T0 + time * 1000, i), 0);
      const expected = (time: number): number | null => {
        const index = times.findIndex((t) => t * 1000 >= time * 1000);
        return index < 0 ? null : index * 10;
      };
      for (let round = 0; round < 2; round++) {
        for (let time = 0; time <= 41; time++) assert.equal(await log.offsetForTimestamp(T0 + time * 1000), expected(time), `time ${time} round ${round}`);
        await log.close();
        log = await context.open(SMALL_SEGMENTS);
      }
      await log.close();
    });
  });

  test('truncateTo drops everything from a batch boundary, across segments, and appends continue', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      for (let i = 0; i < 10; i++) await log.append(timedBatch(T0 + i * 1000), i < 5 ? 1 : 2);
      log.setHighWatermark(60);
      await assert.rejects(log.truncateTo(35), RangeError);
      assert.equal(log.logEndOffset, 100);
      await log.truncateTo(30);
      assert.deepEqual([log.logEndOffset, log.highWatermark, log.segmentCount], [30, 30, 1]);
      assert.equal(await log.offsetForTimestamp(T0 + 3000), null);
      assert.deepEqual(log.epochEntries(), [[1, 0]]);
      const next = await log.append(timedBatch(T0 + 100_000), 3);
      assert.equal(next.baseOffset, 30);
      assert.equal(baseOffsetNumberAt(await log.read(30, 100), 0), 30);
      assert.deepEqual(log.epochEntries(), [[1, 0], [3, 30]]);
      await log.truncateTo(40);
      await log.truncateTo(0);
      assert.deepEqual([log.logStartOffset, log.logEndOffset], [0, 0]);
      assert.deepEqual(log.epochEntries(), []);
      await log.close();
      const reopened = await context.open(SMALL_SEGMENTS);
      assert.deepEqual([reopened.logEndOffset, reopened.epochEntries().length], [0, 0]);
      await reopened.close();
    });
  });

  test('a follower can queue truncateTo and appendReplicated without waiting in between', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open(SMALL_SEGMENTS);
      for (let i = 0; i < 3; i++) await log.append(timedBatch(T0), 1);
      const truncated = log.truncateTo(10);
      const appended = log.appendReplicated(buildBatch({ baseOffset: 10, leaderEpoch: 2, recordCount: 4 }));
      await Promise.all([truncated, appended]);
      assert.deepEqual([log.logEndOffset, log.epochAt(9), log.epochAt(10), log.epochAt(13)], [14, 1, 2, 2]);
      await log.close();
    });
  });

  test('the epoch cache answers epochAt, persists, and is rebuilt by a scan when its file is lost', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      let log: PartitionLog = await context.open(SMALL_SEGMENTS);
      await log.append(timedBatch(T0), 1);
      await log.append(timedBatch(T0), 1);
      await log.append(timedBatch(T0), 4);
      await log.appendReplicated(buildBatch({ baseOffset: 30, leaderEpoch: 6, recordCount: 5 }));
      await log.append(timedBatch(T0), 6);
      const expectedEntries = [[1, 0], [4, 20], [6, 30]];
      const check = (): void => {
        assert.deepEqual(log.epochEntries(), expectedEntries);
        assert.deepEqual([0, 19, 20, 29, 30, 44, 45].map((offset) => log.epochAt(offset)), [1, 1, 4, 4, 6, 6, undefined]);
      };
      check();
      await log.close();
      log = await context.open(SMALL_SEGMENTS);
      check();
      await log.close();
      const { unlink, writeFile } = await import('node:fs/promises');
      await unlink(`${dir}/leader-epoch-checkpoint`);
      log = await context.open(SMALL_SEGMENTS);
      check();
      await log.close();
      await writeFile(`${dir}/leader-epoch-checkpoint`, 'brook-leader-epochs v1\n4 20\n1 0\n');
      log = await context.open(SMALL_SEGMENTS);
      check();
      // Fast back-off: the last offset at or below a bound whose epoch is at most a term.
      assert.deepEqual(
        [[1, 100], [3, 100], [4, 100], [5, 25], [6, 100], [6, 31], [0, 100]].map(([epoch, max]) => log.lastOffsetWithEpochAtMost(epoch, max)),
        [19, 19, 29, 25, 44, 31, undefined],
      );
      await log.truncateFullyAndStartAt(500);
      assert.deepEqual([log.epochAt(44), log.epochEntries().length, log.latestEpoch], [undefined, 0, undefined]);
      await log.close();
    });
  });

  test('readCached serves the tail synchronously with the bytes read returns', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open({ ...SMALL_SEGMENTS, tailCacheBytes: 1500 });
      for (let i = 0; i < 6; i++) await log.append(timedBatch(T0 + i), 0);
      assert.equal(log.readCached(0, 100), undefined, 'the head was evicted');
      assert.equal(log.readCached(60, 100)?.length, 0);
      for (const [offset, maxBytes, limit] of [[30, 100, 60], [45, 1200, 60], [35, 900, 50], [50, 10, 60]]) {
        assert.deepEqual(log.readCached(offset, maxBytes, limit), await log.read(offset, maxBytes, limit), `${offset} ${maxBytes} ${limit}`);
      }
      await log.close();
    });
  });

  test('retention by time deletes only segments wholly below the high watermark', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open({ ...SMALL_SEGMENTS, retentionMs: 60_000 });
      for (let i = 0; i < 12; i++) await log.append(timedBatch(T0 + i), 0);
      // Segments 0 (offsets 0-39) and 40 (40-79) are sealed and far past retention; 80 is active.
      const longAfterMs = T0 + 1000 * 3_600_000;
      log.setHighWatermark(39);
      assert.deepEqual(await log.applyRetention(longAfterMs), { deletedSegments: 0 }, 'offset 39 is not committed');
      assert.equal(log.logStartOffset, 0);
      log.setHighWatermark(45);
      assert.deepEqual(await log.applyRetention(longAfterMs), { deletedSegments: 1 });
      assert.deepEqual([log.logStartOffset, log.highWatermark], [40, 45]);
      assert.equal(baseOffsetNumberAt(await log.read(40, 100), 0), 40, 'the segment holding the high watermark stays');
      log.setHighWatermark(80);
      assert.deepEqual(await log.applyRetention(longAfterMs), { deletedSegments: 1 });
      assert.equal(log.logStartOffset, 80);
      await log.close();
    });
  });

  test('retention by size deletes only segments wholly below the high watermark', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open({ ...SMALL_SEGMENTS, retentionBytes: 4500 });
      for (let i = 0; i < 22; i++) await log.append(timedBatch(T0 + i), 0);
      // 11000 bytes: by size alone segments 0, 40 and 80 would go.
      log.setHighWatermark(50);
      assert.deepEqual(await log.applyRetention(T0), { deletedSegments: 1 });
      assert.deepEqual([log.logStartOffset, log.sizeBytes], [40, 9000]);
      assert.deepEqual(await log.applyRetention(T0), { deletedSegments: 0 });
      log.setHighWatermark(log.logEndOffset);
      assert.deepEqual(await log.applyRetention(T0), { deletedSegments: 2 });
      assert.deepEqual([log.logStartOffset, log.sizeBytes], [120, 5000]);
      await log.close();
      // A reopened log's high watermark starts at its log start: nothing is eligible.
      const reopened = await context.open({ ...SMALL_SEGMENTS, retentionBytes: 1000 });
      assert.deepEqual(await reopened.applyRetention(T0), { deletedSegments: 0 });
      assert.equal(reopened.logStartOffset, 120);
      await reopened.close();
    });
  });

  test('only a few sealed segments keep their indexes in memory; the rest load on use', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      let log = await context.open(SMALL_SEGMENTS);
      for (let i = 0; i < 40; i++) await log.append(timedBatch(T0 + i * 1000), 0);
      assert.equal(log.segmentCount, 10);
      assert.ok(log.sealedIndexesInMemory <= SEALED_INDEXES_IN_MEMORY_MAX);
      await log.close();
      log = await context.open({ ...SMALL_SEGMENTS, tailCacheBytes: 0 });
      assert.equal(log.sealedIndexesInMemory, 0, 'open loads no sealed index');
      const reads = await Promise.all(Array.from({ length: 40 }, (_, i) => log.read(i * 10 + 5, 100)));
      reads.forEach((bytes, i) => assert.equal(baseOffsetNumberAt(bytes, 0), i * 10));
      assert.ok(log.sealedIndexesInMemory <= SEALED_INDEXES_IN_MEMORY_MAX);
      for (let i = 0; i < 40; i++) assert.equal(await log.offsetForTimestamp(T0 + i * 1000), i * 10);
      log.setHighWatermark(log.logEndOffset);
      await log.applyRetention(T0 + 7 * 24 * 3_600_000 + 20_500);
      assert.equal(log.logStartOffset, 200);
      await log.close();
    });
  });

  test('reads racing with retention either return data or OffsetOutOfRangeError', async () => {
    await withTempDir(async (dir) => {
      const log = await testLogContext(dir).open({ ...SMALL_SEGMENTS, tailCacheBytes: 0 });
      for (let i = 0; i < 20; i++) await log.append(timedBatch(T0), 0);
      const reads = Array.from({ length: 40 }, (_, i) =>
        log.read(i * 2, 600).then(
          (bytes) => bytes.length > 0,
          (error: unknown) => error instanceof OffsetOutOfRangeError,
        ),
      );
      log.setHighWatermark(log.logEndOffset);
      await log.applyRetention(T0 + 8 * 24 * 3_600_000);
      assert.ok((await Promise.all(reads)).every(Boolean));
      await log.close();
    });
  });
});
