/**
 * A seeded random walk over the log's operations, checked after every step against a plain
 * in-memory model: appends (single, concurrent, replicated), reads of every shape, truncations,
 * retention, full truncation, epoch and time lookups, clean and unclean reopens. A failing seed
 * replays exactly: BROOK_STORAGE_SEED=<seed> narrows the run to it.
 */
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { CLEAN_SHUTDOWN_FILE, type PartitionLog } from '../../broker/storage/partition-log.js';
import { OffsetOutOfRangeError } from '../../broker/storage/storage-errors.js';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir, type TestLogContext } from './storage-fixtures.js';

interface ModelBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly epoch: number;
  readonly maxTimestampMs: number;
  readonly bytes: Buffer;
}

const CONFIG = { segmentBytes: 2048, maxBatchBytes: 2048, indexIntervalBytes: 100, tailCacheBytes: 1200, retentionBytes: 16_000 } as const;
const STEPS = 220;
const SEEDS = process.env.BROOK_STORAGE_SEED !== undefined ? [Number(process.env.BROOK_STORAGE_SEED)] : [1, 2, 3];

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Model {
  batches: ModelBatch[] = [];
  logStart = 0;
  logEnd = 0;

  add(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
      const size = batchSizeAt(bytes, at);
      const baseOffset = baseOffsetNumberAt(bytes, at);
      const lastOffset = baseOffset + lastOffsetDeltaAt(bytes, at);
      assert.equal(baseOffset, this.logEnd);
      this.batches.push({ baseOffset, lastOffset, epoch: bytes.readInt32BE(at + 12), maxTimestampMs: Number(bytes.readBigInt64BE(at + 35)), bytes: Buffer.from(bytes.subarray(at, at + size)) });
      this.logEnd = lastOffset + 1;
    }
  }

  read(offset: number, maxBytes: number, limit: number): Buffer {
    const parts: Buffer[] = [];
    let total = 0;
    for (const batch of this.batches) {
      if (batch.lastOffset < offset) continue;
      if (batch.lastOffset >= limit || (parts.length > 0 && total + batch.bytes.length > maxBytes)) break;
      parts.push(batch.bytes);
      total += batch.bytes.length;
    }
    return Buffer.concat(parts);
  }

  dropBefore(offset: number): void {
    this.batches = this.batches.filter((batch) => batch.lastOffset >= offset);
    this.logStart = offset;
  }
}

async function checkAgainstModel(log: PartitionLog, model: Model, random: () => number, step: string): Promise<void> {
  assert.equal(log.logEndOffset, model.logEnd, `${step}: log end`);
  assert.equal(log.logStartOffset, model.logStart, `${step}: log start`);
  for (let probe = 0; probe < 4; probe++) {
    const span = model.logEnd - model.logStart + 1;
    const offset = model.logStart + Math.floor(random() * span);
    const maxBytes = 1 + Math.floor(random() * 3000);
    const limit = random() < 0.3 ? model.logStart + Math.floor(random() * span) : Number.MAX_SAFE_INTEGER;
    assert.deepEqual(await log.read(offset, maxBytes, limit), model.read(offset, maxBytes, limit), `${step}: read(${offset}, ${maxBytes}, ${limit})`);
    const covering = model.batches.find((batch) => batch.lastOffset >= offset && batch.baseOffset <= offset);
    assert.equal(log.epochAt(offset), covering?.epoch, `${step}: epochAt(${offset})`);
  }
  if (model.logStart > 0) await assert.rejects(log.read(model.logStart - 1, 100), OffsetOutOfRangeError);
  const timestampMs = 1_700_000_000_000 + Math.floor(random() * 400_000);
  const first = model.batches.find((batch) => batch.maxTimestampMs >= timestampMs);
  assert.equal(await log.offsetForTimestamp(timestampMs), first === undefined ? null : Math.max(first.baseOffset, model.logStart), `${step}: time ${timestampMs}`);
}

async function runSeed(seed: number): Promise<void> {
  await withTempDir(async (dir) => {
    const random = prng(seed);
    const context: TestLogContext = testLogContext(dir, CONFIG);
    let log = await context.open();
    const model = new Model();
    let epoch = 1;
    let clockStep = 0;
    const nextBatch = (): Buffer => {
      clockStep += 1;
      const jitterMs = Math.floor(random() * 20_000) - 5000;
      const timestampMs = 1_700_000_000_000 + clockStep * 1000 + jitterMs;
      return buildBatch({ recordCount: 1 + Math.floor(random() * 5), recordsBytes: Math.floor(random() * 400), baseTimestampMs: timestampMs, seed: clockStep });
    };
    for (let step = 0; step < STEPS; step++) {
      const choice = random();
      const label = `seed ${seed} step ${step}`;
      if (choice < 0.35) {
        const bytes = Buffer.concat(Array.from({ length: 1 + Math.floor(random() * 3) }, nextBatch));
        if (random() < 0.1) epoch += 1;
        await log.append(bytes, epoch);
        model.add(bytes);
      } else if (choice < 0.5) {
        const appends = Array.from({ length: 2 + Math.floor(random() * 6) }, () => nextBatch());
        await Promise.all(appends.map((bytes) => log.append(bytes, epoch)));
        appends.sort((a, b) => baseOffsetNumberAt(a, 0) - baseOffsetNumberAt(b, 0)).forEach((bytes) => model.add(bytes));
      } else if (choice < 0.6) {
        if (random() < 0.3) epoch += 1;
        const bytes = nextBatch();
        bytes.writeBigInt64BE(BigInt(model.logEnd), 0);
        bytes.writeInt32BE(epoch, 12);
        await log.appendReplicated(bytes);
        model.add(bytes);
      } else if (choice < 0.68 && model.batches.length > 0) {
        const target = model.batches[Math.floor(random() * model.batches.length)];
        await log.truncateTo(target.baseOffset);
        model.batches = model.batches.filter((batch) => batch.baseOffset < target.baseOffset);
        model.logEnd = target.baseOffset;
        epoch = Math.max(epoch, ...model.batches.map((batch) => batch.epoch));
      } else if (choice < 0.74) {
        // Half the time everything is committed; otherwise the high watermark bounds retention.
        const highWatermark = random() < 0.5 ? model.logEnd : model.logStart + Math.floor(random() * (model.logEnd - model.logStart + 1));
        log.setHighWatermark(highWatermark);
        await log.applyRetention(context.clock.nowMs());
        assert.ok(log.logStartOffset <= highWatermark, `${label}: retention passed the high watermark ${highWatermark}`);
        model.dropBefore(log.logStartOffset);
        assert.ok(model.batches.length === 0 || model.batches[0].baseOffset === model.logStart, `${label}: retention at a boundary`);
      } else if (choice < 0.76) {
        const offset = model.logEnd + Math.floor(random() * 50);
        await log.truncateFullyAndStartAt(offset);
        model.batches = [];
        model.logStart = offset;
        model.logEnd = offset;
      } else if (choice < 0.82) {
        await log.close();
        if (random() < 0.5) await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
        log = await context.open();
      }
      await checkAgainstModel(log, model, random, label);
    }
    await log.close();
  });
}

test('random operations match an in-memory model, across reopens', async () => {
  for (const seed of SEEDS) await runSeed(seed);
});
