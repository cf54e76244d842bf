/**
 * Append throughput of the partition log with flushPolicy 'always', against the raw limit of
 * the disk measured in the same run (write + fdatasync of the same sizes from one writer).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/storage-append.js [--dir /tmp] [--seconds 2] [--rounds 3]
 *
 * Scenarios: 1 MiB batches from one appender; 64 KiB batches from 16 concurrent appenders (group
 * commit). Data goes to a fresh directory under --dir and is deleted afterwards.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { nodeFileWriter, type FileWriter } from '../broker/storage/file-writer.js';
import { resolveLogConfig } from '../broker/storage/log-config.js';
import { PartitionLog } from '../broker/storage/partition-log.js';
import { makeStorageBenchBatch } from './storage-bench-batch.js';

const MIB = 1024 * 1024;
/** Records each batch claims to hold (its records region is opaque). */
const RECORDS_PER_BATCH = 100;
/** Distinct buffers cycled through, so the log's tail cache never holds one being re-stamped. */
const BATCH_POOL_BYTES = 64 * MIB;

interface Figures {
  readonly bytes: number;
  readonly seconds: number;
  readonly syncs?: number;
}

function megabytesPerSecond(figures: Figures): number {
  return figures.bytes / MIB / figures.seconds;
}

function batchPool(sizeBytes: number): Buffer[] {
  return Array.from({ length: Math.max(8, Math.floor(BATCH_POOL_BYTES / sizeBytes)) }, (_, i) => makeStorageBenchBatch(sizeBytes, i, RECORDS_PER_BATCH));
}

/** write + fdatasync of `chunkBytes` at a time from one writer, for `seconds`. */
async function rawAppend(dir: string, chunkBytes: number, seconds: number): Promise<Figures> {
  const path = join(dir, `raw-${chunkBytes}.bin`);
  const handle = await open(path, 'w');
  const chunk = Buffer.alloc(chunkBytes, 7);
  let bytes = 0;
  let syncs = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < seconds * 1000) {
      await handle.writev([chunk], bytes);
      await handle.datasync();
      bytes += chunkBytes;
      syncs += 1;
    }
  } finally {
    await handle.close();
    await rm(path);
  }
  return { bytes, seconds: (performance.now() - start) / 1000, syncs };
}

/** `appenders` loops, each appending `batchBytes` batches and awaiting each, for `seconds`. */
async function logAppend(dir: string, batchBytes: number, appenders: number, seconds: number): Promise<Figures> {
  const logDir = join(dir, `log-${batchBytes}-${appenders}`);
  const files = new FileHandleCache(64);
  let syncs = 0;
  const log = await PartitionLog.open(logDir, resolveLogConfig({ flushPolicy: 'always', maxBatchBytes: Math.max(MIB, batchBytes) }), {
    clock: { nowMs: () => Date.now() },
    files,
    writer: countingWriter(() => (syncs += 1)),
  });
  const pool = batchPool(batchBytes);
  let next = 0;
  let bytes = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() < deadline) {
        await log.append(pool[next++ % pool.length], 1);
        bytes += batchBytes;
      }
    }),
  );
  const elapsedSeconds = (performance.now() - start) / 1000;
  await log.close();
  await files.close();
  await rm(logDir, { recursive: true, force: true });
  return { bytes, seconds: elapsedSeconds, syncs };
}


function countingWriter(onSync: () => void): FileWriter {
  return {
    async open(path) {
      const file = await nodeFileWriter.open(path);
      return {
        path: file.path,
        writeAll: (buffers, position) => file.writeAll(buffers, position),
        datasync: () => {
          onSync();
          return file.datasync();
        },
        truncate: (length) => file.truncate(length),
        sizeBytes: () => file.sizeBytes(),
        close: () => file.close(),
      };
    },
    syncDirectory: (dir) => nodeFileWriter.syncDirectory(dir),
  };
}

function report(name: string, figures: Figures, baseline?: Figures): void {
  const rate = megabytesPerSecond(figures);
  const ratio = baseline === undefined ? '' : `  ${(rate / megabytesPerSecond(baseline)).toFixed(2)}x raw`;
  const syncs = figures.syncs === undefined ? '' : `  ${figures.syncs} fdatasyncs`;
  console.log(`${name.padEnd(52)} ${rate.toFixed(0).padStart(6)} MB/s${ratio}${syncs}`);
}

function total(figures: readonly Figures[]): Figures {
  return {
    bytes: figures.reduce((sum, f) => sum + f.bytes, 0),
    seconds: figures.reduce((sum, f) => sum + f.seconds, 0),
    syncs: figures.reduce((sum, f) => sum + (f.syncs ?? 0), 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string', default: tmpdir() }, seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const dir = await mkdtemp(join(values.dir as string, 'brook-bench-storage-'));
  // The disk is shared and noisy: raw and log runs alternate, round by round, so each ratio
  // compares measurements taken under the same load.
  const runs = { raw1m: [] as Figures[], raw64k: [] as Figures[], log1m: [] as Figures[], log64k: [] as Figures[] };
  try {
    console.log(`storage append benchmark in ${dir}: ${rounds} rounds of ${seconds} s per scenario (MB = MiB)`);
    for (let round = 1; round <= rounds; round++) {
      runs.raw1m.push(await rawAppend(dir, MIB, seconds));
      runs.log1m.push(await logAppend(dir, MIB, 1, seconds));
      runs.raw64k.push(await rawAppend(dir, 64 * 1024, seconds));
      runs.log64k.push(await logAppend(dir, 64 * 1024, 16, seconds));
      console.log(`round ${round}:`);
      report('  raw write+fdatasync, 1 MiB', runs.raw1m[round - 1]);
      report("  log 1 MiB batches, 1 appender, 'always'", runs.log1m[round - 1], runs.raw1m[round - 1]);
      report('  raw write+fdatasync, 64 KiB', runs.raw64k[round - 1]);
      report("  log 64 KiB batches, 16 appenders, 'always'", runs.log64k[round - 1], runs.raw1m[round - 1]);
    }
    console.log('all rounds:');
    report('  raw write+fdatasync, 1 MiB', total(runs.raw1m));
    report("  log 1 MiB batches, 1 appender, 'always'", total(runs.log1m), total(runs.raw1m));
    report('  raw write+fdatasync, 64 KiB', total(runs.raw64k));
    report("  log 64 KiB batches, 16 appenders, 'always'", total(runs.log64k), total(runs.raw1m));
    console.log('targets: 1 MiB >= 500 MB/s on a ~650 MB/s disk (0.77x raw); 64 KiB x 16 >= 300 MB/s (0.46x raw 1 MiB)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
