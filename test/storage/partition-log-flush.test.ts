import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PartitionLog } from '../../broker/storage/partition-log.js';
import { describe, test } from 'node:test';
import { baseOffsetNumberAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

const BATCH_BYTES = 61 + 200;

function totalSynced(lengths: Map<string, number>): number {
  return [...lengths.values()].reduce((sum, length) => sum + length, 0);
}

/**
 * Simulates a power loss: copies the log directory as it is now, with every segment file cut to
 * the length known fdatasynced (index and checkpoint files are copied as they are).
 */
async function copyAsAfterPowerLoss(log: PartitionLog, from: string, to: string): Promise<void> {
  const synced = log.fsyncedLengths();
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) {
    const length = synced.get(name);
    if (length === undefined) await copyFile(join(from, name), join(to, name));
    else await writeFile(join(to, name), (await readFile(join(from, name))).subarray(0, length));
  }
}

describe('PartitionLog flush policies', () => {
  test("'always': concurrent appends share fdatasyncs (group commit) and resolve only once synced", async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir, {}, true);
      const log = await context.open({ flushPolicy: 'always' });
      const syncsBefore = context.writer.logDatasyncs;
      const appendCount = 64;
      const violations: string[] = [];
      const results = await Promise.all(
        Array.from({ length: appendCount }, (_, i) =>
          log.append(buildBatch({ recordsBytes: 200, seed: i }), 0).then((result) => {
            const needed = (result.lastOffset + 1) * BATCH_BYTES;
            const synced = totalSynced(log.fsyncedLengths());
            if (synced < needed) violations.push(`offset ${result.lastOffset} resolved with ${synced} < ${needed} bytes synced`);
            return result.baseOffset;
          }),
        ),
      );
      const syncs = context.writer.logDatasyncs - syncsBefore;
      assert.deepEqual(violations, []);
      assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: appendCount }, (_, i) => i));
      assert.ok(syncs >= 1 && syncs < appendCount / 4, `${syncs} fdatasyncs for ${appendCount} concurrent appends`);
      await log.close();
    });
  });

  test("'always': losing everything not fdatasynced loses no acknowledged append", async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(join(dir, 'live'), { segmentBytes: 4096, maxBatchBytes: 4096 });
      const log = await context.open({ flushPolicy: 'always' });
      let acknowledgedEnd = 0;
      const pending: Array<Promise<unknown>> = [];
      for (let wave = 0; wave < 12; wave++) {
        const appends = Array.from({ length: 1 + (wave % 5) }, (_, i) =>
          log.append(buildBatch({ recordCount: 1 + i, recordsBytes: 100 + wave * 20 }), 1).then((result) => {
            acknowledgedEnd = Math.max(acknowledgedEnd, result.lastOffset + 1);
          }),
        );
        if (wave < 11) await Promise.all(appends);
        else pending.push(...appends);
      }
      // The power fails while the last wave is in flight.
      const ackedAtCrash = acknowledgedEnd;
      await copyAsAfterPowerLoss(log, join(dir, 'live'), join(dir, 'crashed'));
      await Promise.all(pending);
      await log.close();
      const recovered = await testLogContext(join(dir, 'crashed'), { segmentBytes: 4096, maxBatchBytes: 4096 }).open();
      assert.ok(recovered.segmentCount > 2);
      assert.ok(recovered.logEndOffset >= ackedAtCrash, `recovered end ${recovered.logEndOffset} < acknowledged ${ackedAtCrash}`);
      let offset = 0;
      while (offset < recovered.logEndOffset) {
        const bytes = await recovered.read(offset, 1 << 16);
        assert.ok(bytes.length > 0);
        offset = baseOffsetNumberAt(bytes, 0) + lastOffsetDeltaAt(bytes, 0) + 1;
      }
      await recovered.close();
    });
  });

  test("'never': a power loss keeps the sealed segments and a valid prefix", async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(join(dir, 'live'), { segmentBytes: 4096, maxBatchBytes: 4096 });
      const log = await context.open({ flushPolicy: 'never' });
      for (let i = 0; i < 40; i++) await log.append(buildBatch({ recordsBytes: 300 }), 1);
      const sealedEnd = [...log.fsyncedLengths().values()].reduce((sum, length) => sum + length, 0) / (61 + 300);
      assert.ok(sealedEnd > 0 && sealedEnd < 40);
      await copyAsAfterPowerLoss(log, join(dir, 'live'), join(dir, 'crashed'));
      await log.close();
      const recovered = await testLogContext(join(dir, 'crashed'), { segmentBytes: 4096, maxBatchBytes: 4096 }).open();
      assert.equal(recovered.logEndOffset, sealedEnd);
      assert.equal((await recovered.append(buildBatch(), 2)).baseOffset, sealedEnd);
      await recovered.close();
    });
  });

  test("'always': sequential appends each get their own fdatasync", async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir, {}, true);
      const log = await context.open({ flushPolicy: 'always' });
      const syncsBefore = context.writer.logDatasyncs;
      for (let i = 0; i < 5; i++) await log.append(buildBatch(), 0);
      assert.equal(context.writer.logDatasyncs - syncsBefore, 5);
      await log.close();
    });
  });

  test("'never' does not fdatasync on append; flush() and close() do", async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir, {}, true);
      const log = await context.open({ flushPolicy: 'never' });
      const syncsBefore = context.writer.logDatasyncs;
      for (let i = 0; i < 20; i++) await log.append(buildBatch({ recordsBytes: 200 }), 0);
      assert.equal(context.writer.logDatasyncs, syncsBefore);
      assert.equal(totalSynced(log.fsyncedLengths()), 0);
      await log.flush();
      assert.equal(totalSynced(log.fsyncedLengths()), 20 * BATCH_BYTES);
      await log.close();
    });
  });

  test("'interval' syncs when an append finds the interval elapsed, and by timer when idle", async () => {
    await withTempDir(async (dir) => {
      const context = testLogContext(dir, {}, true);
      const log = await context.open({ flushPolicy: 'interval', flushIntervalMs: 40 });
      const syncsBefore = context.writer.logDatasyncs;
      await log.append(buildBatch(), 0);
      await log.append(buildBatch(), 0);
      assert.equal(context.writer.logDatasyncs, syncsBefore);
      context.clock.advance(40);
      await log.append(buildBatch(), 0);
      assert.equal(context.writer.logDatasyncs, syncsBefore + 1);
      await log.append(buildBatch(), 0);
      assert.equal(context.writer.logDatasyncs, syncsBefore + 1);
      const allBytes = 4 * (61 + 16);
      for (let waitedMs = 0; totalSynced(log.fsyncedLengths()) < allBytes && waitedMs < 2000; waitedMs += 10) await sleep(10);
      assert.equal(totalSynced(log.fsyncedLengths()), allBytes, 'the idle timer synced the last append');
      assert.equal(context.writer.logDatasyncs, syncsBefore + 2);
      await log.close();
    });
  });
});
