/**
 * Reopen time of a partition log after a crash (no clean-shutdown marker) with a 1 GiB tail
 * segment, plus, for comparison, after a clean shutdown and after losing the tail's index.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/storage-recovery.js [--dir /tmp] [--gib 1] [--batch-kib 64]
 *
 * Data goes to a fresh directory under --dir and is deleted afterwards.
 */
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeStorageBenchBatch } from './storage-bench-batch.js';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { resolveLogConfig, type LogConfig } from '../broker/storage/log-config.js';
import { CLEAN_SHUTDOWN_FILE, PartitionLog } from '../broker/storage/partition-log.js';

const MIB = 1024 * 1024;
/** Records each batch claims to hold (its records region is opaque). */
const RECORDS_PER_BATCH = 10;

async function timedOpen(dir: string, config: LogConfig): Promise<{ ms: number; log: PartitionLog; files: FileHandleCache }> {
  const files = new FileHandleCache(64);
  const start = performance.now();
  const log = await PartitionLog.open(dir, config, { clock: { nowMs: () => Date.now() }, files });
  return { ms: performance.now() - start, log, files };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string', default: tmpdir() }, gib: { type: 'string', default: '1' }, 'batch-kib': { type: 'string', default: '64' } },
  });
  const totalBytes = Math.floor(Number(values.gib) * 1024 * MIB);
  const batchBytes = Number(values['batch-kib']) * 1024;
  const root = await mkdtemp(join(values.dir as string, 'brook-bench-recovery-'));
  const dir = join(root, 'log');
  // One segment holds everything: the tail segment is the full size.
  const config = resolveLogConfig({ segmentBytes: Math.min(2 ** 31 - 1, totalBytes + MIB), flushPolicy: 'never' });
  try {
    const { log, files } = await timedOpen(dir, config);
    const pool = Array.from({ length: 64 }, (_, i) => makeStorageBenchBatch(batchBytes, i, RECORDS_PER_BATCH));
    const writeStart = performance.now();
    for (let written = 0, i = 0; written + batchBytes <= totalBytes; written += batchBytes, i++) {
      await log.append(pool[i % pool.length], 1);
    }
    await log.close();
    await files.close();
    const writeSeconds = (performance.now() - writeStart) / 1000;
    console.log(`wrote ${(log.sizeBytes / MIB).toFixed(0)} MiB in one segment (${batchBytes / 1024} KiB batches) in ${writeSeconds.toFixed(1)} s`);

    const clean = await timedOpen(dir, config);
    console.log(`reopen after clean shutdown:            ${clean.ms.toFixed(1)} ms (end offset ${clean.log.logEndOffset})`);
    await clean.log.close();
    await clean.files.close();

    await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
    const crashed = await timedOpen(dir, config);
    console.log(`reopen after crash (tail scan, CRCs):   ${crashed.ms.toFixed(1)} ms (end offset ${crashed.log.logEndOffset})  target < 1000 ms`);
    await crashed.log.close();
    await crashed.files.close();

    await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
    await unlink(join(dir, '00000000000000000000.index'));
    const noIndex = await timedOpen(dir, config);
    console.log(`reopen after crash with the index lost: ${noIndex.ms.toFixed(1)} ms (full scan with CRCs)`);
    await noIndex.log.close();
    await noIndex.files.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
