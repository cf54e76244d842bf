/**
 * Operations issued concurrently (up to 16 in flight, never awaited one by one): appends, reads,
 * time lookups, flushes, retention, truncations, full truncations and high-watermark moves. No
 * operation may fail other than as documented (OffsetOutOfRangeError for a read whose range
 * moved, RangeError for a truncation off a batch boundary), every read returns whole valid
 * batches starting at or before its offset, and a reopen shows the same contiguous log.
 * BROOK_STORAGE_SEED=<seed> replays one seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseOffsetNumberAt, batchSizeAt, checkBatchAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import type { PartitionLog } from '../../broker/storage/partition-log.js';
import { OffsetOutOfRangeError } from '../../broker/storage/storage-errors.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

const OPERATIONS = 2000;
const IN_FLIGHT_MAX = 16;
const SEEDS = process.env.BROOK_STORAGE_SEED !== undefined ? [Number(process.env.BROOK_STORAGE_SEED)] : [5, 7];
const T0 = 1_700_000_000_000;

/** A deliberately rough generator (float LCG): its sequences found races a clean LCG missed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 4294967296;
  };
}

function checkRead(bytes: Buffer, offset: number): void {
  for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
    assert.equal(checkBatchAt(bytes, at, bytes.length, true), null, `read at ${offset}: a valid batch`);
  }
  if (bytes.length > 0) assert.ok(baseOffsetNumberAt(bytes, 0) + lastOffsetDeltaAt(bytes, 0) >= offset, `read at ${offset}: starts with the batch holding it`);
}

/** Every batch from the log start, checking the offsets are contiguous. */
async function readContiguous(log: PartitionLog): Promise<number> {
  let batches = 0;
  let expected = -1;
  for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
    const bytes = await log.read(offset, 1 << 20);
    checkRead(bytes, offset);
    for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
      if (expected >= 0) assert.equal(baseOffsetNumberAt(bytes, at), expected, 'offsets are contiguous');
      expected = baseOffsetNumberAt(bytes, at) + lastOffsetDeltaAt(bytes, at) + 1;
      batches += 1;
    }
    offset = expected;
  }
  return batches;
}

function randomOperation(log: PartitionLog, random: () => number, step: number, epoch: { value: number }): Promise<unknown> {
  const choice = random();
  if (choice < 0.5) {
    const batch = buildBatch({ recordCount: 1 + Math.floor(random() * 4), recordsBytes: Math.floor(random() * 500), seed: step, baseTimestampMs: T0 + step });
    return log.append(batch, epoch.value);
  }
  if (choice < 0.8) {
    const offset = log.logStartOffset + Math.floor(random() * (log.logEndOffset - log.logStartOffset + 1));
    const maxBytes = 1 + Math.floor(random() * 3000);
    const limit = random() < 0.3 ? log.highWatermark : undefined;
    return log.read(offset, maxBytes, limit).then((bytes) => checkRead(bytes, offset));
  }
  if (choice < 0.85) return log.applyRetention(T0);
  if (choice < 0.9) return log.offsetForTimestamp(T0 + Math.floor(random() * OPERATIONS));
  if (choice < 0.93) return log.flush();
  if (choice < 0.95) {
    const target = log.logStartOffset + Math.floor(random() * (log.logEndOffset - log.logStartOffset));
    return log.truncateTo(target).catch((error: unknown) => {
      if (!(error instanceof RangeError)) throw error;
    });
  }
  if (choice < 0.96) {
    epoch.value += 1;
    return Promise.resolve();
  }
  if (choice < 0.965) return log.truncateFullyAndStartAt(log.logEndOffset + 7);
  try {
    log.setHighWatermark(log.logStartOffset + Math.floor(random() * (log.logEndOffset - log.logStartOffset + 1)));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  return Promise.resolve();
}

test('concurrent operations keep the log consistent, and a reopen sees the same log', async () => {
  for (const seed of SEEDS) {
    await withTempDir(async (dir) => {
      const config = { segmentBytes: 4096, maxBatchBytes: 4096, indexIntervalBytes: 200, tailCacheBytes: 2000, retentionBytes: 20_000 };
      const context = testLogContext(dir, config);
      const log = await context.open();
      const random = prng(seed);
      const epoch = { value: 1 };
      const failures: string[] = [];
      const all: Array<Promise<void>> = [];
      let pending: Array<Promise<void>> = [];
      for (let step = 0; step < OPERATIONS; step++) {
        const operation = randomOperation(log, random, step, epoch).then(
          () => undefined,
          (error: unknown) => {
            if (!(error instanceof OffsetOutOfRangeError)) failures.push(`seed ${seed} step ${step}: ${String(error)}`);
          },
        );
        all.push(operation);
        pending.push(operation);
        // Wait for one of the oldest half, which keeps queued writes and fresh reads overlapping.
        if (pending.length > IN_FLIGHT_MAX) await Promise.race(pending.splice(0, IN_FLIGHT_MAX / 2));
      }
      await Promise.all(all);
      assert.deepEqual(failures, []);
      const range = [log.logStartOffset, log.logEndOffset];
      const batches = await readContiguous(log);
      await log.close();
      const reopened = await context.open();
      assert.deepEqual([reopened.logStartOffset, reopened.logEndOffset], range);
      assert.equal(await readContiguous(reopened), batches);
      await reopened.close();
    });
  }
});
