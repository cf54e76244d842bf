import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { baseOffsetNumberAt, batchSizeAt, checkBatchAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { CLEAN_SHUTDOWN_FILE, type PartitionLog } from '../../broker/storage/partition-log.js';
import { LogClosedError, StorageFullError } from '../../broker/storage/storage-errors.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir, type TestLogContext } from './storage-fixtures.js';

const SMALL_SEGMENTS = { segmentBytes: 4096, maxBatchBytes: 4096, indexIntervalBytes: 256 } as const;

/** Appends `count` batches of varied sizes; returns each batch's [baseOffset, lastOffset]. */
async function fill(log: PartitionLog, count: number, seed = 0): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const recordCount = 1 + ((i + seed) % 4);
    const baseTimestampMs = 1_700_000_000_000 + (i + seed) * 1000;
    const batch = buildBatch({ recordCount, recordsBytes: 20 + (((i + seed) * 53) % 180), seed: i + seed, baseTimestampMs });
    const result = await log.append(batch, 1 + Math.floor(i / 10));
    ranges.push([result.baseOffset, result.lastOffset]);
  }
  return ranges;
}

/** Every batch of the log, read from the start, as [baseOffset, lastOffset], CRCs checked. */
async function readAllRanges(log: PartitionLog): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const bytes = await log.read(offset, 1 << 20);
    assert.ok(bytes.length > 0, `a read at ${offset} below the end ${log.logEndOffset} returns data`);
    for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
      assert.equal(checkBatchAt(bytes, at, bytes.length, true), null);
      ranges.push([baseOffsetNumberAt(bytes, at), baseOffsetNumberAt(bytes, at) + lastOffsetDeltaAt(bytes, at)]);
    }
    offset = ranges[ranges.length - 1][1] + 1;
  }
  return ranges;
}

async function snapshotDir(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(dir)) files.set(name, await readFile(join(dir, name)));
  return files;
}

async function restoreDir(dir: string, files: Map<string, Buffer>): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { force: true });
  for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
}

/** Restores only `names` (the files a reopen and one append can change). */
async function restoreFiles(dir: string, files: Map<string, Buffer>, names: readonly string[]): Promise<void> {
  await rm(join(dir, CLEAN_SHUTDOWN_FILE), { force: true });
  for (const name of names) await writeFile(join(dir, name), files.get(name) as Buffer);
}

function tailLogName(files: Map<string, Buffer>): string {
  return [...files.keys()].filter((name) => name.endsWith('.log')).sort().at(-1) as string;
}

/** Reopens after a simulated crash and checks the log is exactly `expected`, then appendable. */
async function expectRecovered(context: TestLogContext, expected: Array<[number, number]>, message: string, tryAppend = true): Promise<void> {
  const log = await context.open({ ...SMALL_SEGMENTS, flushPolicy: 'never' });
  const endOffset = expected.length === 0 ? 0 : expected[expected.length - 1][1] + 1;
  assert.equal(log.logEndOffset, endOffset, message);
  assert.deepEqual(await readAllRanges(log), expected, message);
  if (!tryAppend) return log.close();
  const next = await log.append(buildBatch({ recordCount: 2 }), 9);
  assert.equal(next.baseOffset, endOffset, message);
  assert.equal(log.epochAt(endOffset), 9, message);
  if (endOffset > 0) assert.ok(log.epochAt(endOffset - 1) !== undefined, message);
  await log.close();
}

describe('PartitionLog crash recovery', () => {
  test('cutting the tail segment at every byte of its last two batches keeps exactly the whole batches', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 30);
      assert.ok(log.segmentCount >= 2);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const original = await snapshotDir(dir);
      const tailName = tailLogName(original);
      const tailBytes = original.get(tailName) as Buffer;
      const tailBase = Number(tailName.slice(0, 20));
      // Batch boundaries inside the tail file, to know which batches a cut keeps.
      const boundaries: number[] = [0];
      for (let at = 0; at < tailBytes.length; at += batchSizeAt(tailBytes, at)) boundaries.push(at + batchSizeAt(tailBytes, at));
      const firstTailBatch = ranges.findIndex(([base]) => base === tailBase);
      // Every byte of the last two batches; in the one before them, every fifth byte and the
      // neighbourhood of its boundaries (each reopen costs file I/O, and the code path is the same).
      const everyByteFrom = boundaries[Math.max(0, boundaries.length - 3)];
      const cuts = new Set<number>();
      for (let cut = boundaries[Math.max(0, boundaries.length - 4)]; cut <= tailBytes.length; cut++) {
        const nearBoundary = boundaries.some((boundary) => Math.abs(boundary - cut) <= 2);
        if (cut >= everyByteFrom || nearBoundary || cut % 5 === 0) cuts.add(cut);
      }
      const tailFiles = [...original.keys()].filter((name) => name.startsWith(tailName.slice(0, 20)) || !name.startsWith('0'));
      for (const cut of cuts) {
        await restoreFiles(dir, original, tailFiles);
        await writeFile(join(dir, tailName), tailBytes.subarray(0, cut));
        const wholeBatches = boundaries.filter((boundary) => boundary <= cut).length - 1;
        await expectRecovered(context, ranges.slice(0, firstTailBatch + wholeBatches), `cut at byte ${cut}`, cut % 4 === 0);
      }
    });
  });

  test('zeros or garbage after the last batch, or a flipped byte inside it, are cut away', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 25);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const original = await snapshotDir(dir);
      const tailName = tailLogName(original);
      const tailBytes = original.get(tailName) as Buffer;
      let garbageSeed = 7;
      const garbage = Buffer.alloc(5000, 0).map(() => (garbageSeed = (garbageSeed * 1103515245 + 12345) >>> 0) >>> 24);
      for (const tail of [Buffer.alloc(10), Buffer.alloc(4000), garbage.subarray(0, 61), garbage]) {
        const files = new Map(original);
        files.set(tailName, Buffer.concat([tailBytes, tail]));
        await restoreDir(dir, files);
        await expectRecovered(context, ranges, `${tail.length} bytes appended`);
      }
      // A flipped byte in the records of the last batch fails its CRC: that batch goes.
      const lastStart = tailBytes.length - batchSizeAt(tailBytes, findLastBatch(tailBytes));
      const flipped = Buffer.from(tailBytes);
      flipped[lastStart + 70] ^= 0x10;
      const files = new Map(original);
      files.set(tailName, flipped);
      await restoreDir(dir, files);
      await expectRecovered(context, ranges.slice(0, -1), 'flipped byte');
    });
  });

  test('missing or corrupt index files are rebuilt, in sealed and tail segments', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 60);
      await log.close();
      const original = await snapshotDir(dir);
      const indexNames = [...original.keys()].filter((name) => name.endsWith('.index') || name.endsWith('.timeindex')).sort();
      assert.ok(indexNames.length >= 6);
      for (const damage of ['delete', 'garbage', 'torn', 'middle'] as const) {
        for (const name of [indexNames[0], indexNames[indexNames.length - 1], indexNames[1]]) {
          const files = new Map(original);
          const bytes = original.get(name) as Buffer;
          if (damage === 'delete') files.delete(name);
          else if (damage === 'torn') files.set(name, bytes.subarray(0, Math.max(0, bytes.length - 3)));
          else if (damage === 'middle') files.set(name, Buffer.concat([bytes.subarray(0, 8), Buffer.alloc(12, 0xff), bytes.subarray(20)]));
          else files.set(name, Buffer.concat([bytes.subarray(0, 8), Buffer.alloc(16, 0xff)]));
          await restoreDir(dir, files);
          const reopened = await context.open(SMALL_SEGMENTS);
          assert.deepEqual(await readAllRanges(reopened), ranges, `${damage} ${name}`);
          for (const [base, last] of ranges) {
            const bytes = await reopened.read(last, 1);
            assert.equal(baseOffsetNumberAt(bytes, 0), base, `${damage} ${name}: read at ${last}`);
          }
          await reopened.close();
          assert.deepEqual(await readFile(join(dir, name)), original.get(name), `${damage} ${name} rebuilt identically`);
        }
      }
    });
  });

  test('a clean shutdown marker skips the CRC scan; without it the scan runs', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 10);
      await log.close();
      const original = await snapshotDir(dir);
      const tailName = tailLogName(original);
      const flipped = Buffer.from(original.get(tailName) as Buffer);
      flipped[flipped.length - 5] ^= 1;
      const files = new Map(original);
      files.set(tailName, flipped);
      await restoreDir(dir, files);
      const trusting = await context.open(SMALL_SEGMENTS);
      assert.equal(trusting.logEndOffset, ranges[ranges.length - 1][1] + 1, 'clean open trusts the tail');
      await trusting.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const recovering = await context.open(SMALL_SEGMENTS);
      assert.equal(recovering.logEndOffset, ranges[ranges.length - 2][1] + 1, 'unclean open checks CRCs');
      await recovering.close();
    });
  });

  test('ENOSPC fails the append with StorageFullError, leaves no partial batch, and the log goes on', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 5);
      context.writer.failAfterBytes = context.writer.logBytesWritten + 30;
      await assert.rejects(log.append(buildBatch({ recordsBytes: 200 }), 1), StorageFullError);
      await assert.rejects(log.append(buildBatch({ recordsBytes: 200 }), 1), StorageFullError);
      assert.deepEqual(await readAllRanges(log), ranges);
      context.writer.failAfterBytes = Number.POSITIVE_INFINITY;
      const after = await log.append(buildBatch({ recordCount: 3 }), 1);
      assert.equal(after.baseOffset, ranges[ranges.length - 1][1] + 1);
      ranges.push([after.baseOffset, after.lastOffset]);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const reopened = await context.open(SMALL_SEGMENTS);
      assert.deepEqual(await readAllRanges(reopened), ranges);
      await reopened.close();
    });
  });

  test('ENOSPC that cannot be cleaned up closes the log; reopening shows no partial batch', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 5);
      context.writer.failAfterBytes = context.writer.logBytesWritten + 100;
      context.writer.failTruncate = true;
      await assert.rejects(log.append(buildBatch({ recordsBytes: 300 }), 1), StorageFullError);
      await assert.rejects(log.append(buildBatch(), 1), LogClosedError);
      await log.close();
      const tailName = tailLogName(await snapshotDir(dir));
      assert.ok((await stat(join(dir, tailName))).size > 0);
      context.writer.failAfterBytes = Number.POSITIVE_INFINITY;
      context.writer.failTruncate = false;
      await expectRecovered(context, ranges, 'after a failed cleanup');
    });
  });

  test('the log start offset survives restarts, including an interrupted full truncation', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      let log = await context.open(SMALL_SEGMENTS);
      await fill(log, 30);
      log.setHighWatermark(log.logEndOffset);
      await log.advanceLogStartOffset(7);
      await log.close();
      log = await context.open(SMALL_SEGMENTS);
      assert.equal(log.logStartOffset, 7);
      await assert.rejects(log.read(6, 100));
      await log.truncateFullyAndStartAt(1000);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      log = await context.open(SMALL_SEGMENTS);
      assert.deepEqual([log.logStartOffset, log.logEndOffset], [1000, 1000]);
      assert.equal((await log.append(buildBatch(), 3)).baseOffset, 1000);
      await log.close();
      // A crash after the checkpoint of a full truncation, before the segments were deleted.
      await writeFile(join(dir, 'log-start-offset-checkpoint'), 'brook-log-start-offset v1\n5000\n1\n');
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      log = await context.open(SMALL_SEGMENTS);
      assert.deepEqual([log.logStartOffset, log.logEndOffset], [5000, 5000]);
      assert.deepEqual((await readdir(dir)).filter((name) => name.endsWith('.log')), ['00000000000000005000.log']);
      await log.close();
    });
  });

  test('index entries past a truncation point (left by a crash) are dropped on reopen', async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir);
      const log = await context.open(SMALL_SEGMENTS);
      const ranges = await fill(log, 40);
      await log.flush();
      const before = await snapshotDir(dir);
      await log.truncateTo(ranges[12][0]);
      await log.close();
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      const tailPrefix = tailLogName(await snapshotDir(dir)).slice(0, 20);
      for (const suffix of ['.index', '.timeindex']) {
        const stale = before.get(tailPrefix + suffix) as Buffer;
        assert.ok(stale.length > (await readFile(join(dir, tailPrefix + suffix))).length, `the old ${suffix} was longer`);
        await writeFile(join(dir, tailPrefix + suffix), stale);
      }
      await expectRecovered(context, ranges.slice(0, 12), 'stale index after truncateTo');
    });
  });
});

function findLastBatch(bytes: Buffer): number {
  let at = 0;
  let last = 0;
  while (at < bytes.length) {
    last = at;
    at += batchSizeAt(bytes, at);
  }
  return last;
}
