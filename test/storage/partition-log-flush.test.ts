import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

const BATCH_BYTES = 61 + 200;

function totalSynced(lengths: Map<string, number>): number {
  return [...lengths.values()].reduce((sum, length) => sum + length, 0);
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
      for (let waitedMs = 0; context.writer.logDatasyncs === syncsBefore + 1 && waitedMs < 2000; waitedMs += 10) await sleep(10);
      assert.equal(context.writer.logDatasyncs, syncsBefore + 2, 'the idle timer synced the last append');
      assert.equal(totalSynced(log.fsyncedLengths()), 4 * (61 + 16));
      await log.close();
    });
  });
});
