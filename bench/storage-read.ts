/**
 * Read throughput of the partition log: a consumer catching up from the start (disk reads
 * through the index, page cache warm) and tail reads served by the tail cache.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/storage-read.js [--dir /tmp] [--mib 512] [--batch-kib 16] [--max-bytes-kib 1024]
 *
 * Data goes to a fresh directory under --dir and is deleted afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  baseOffsetNumberAt,
  batchSizeAt,
  lastOffsetDeltaAt,
} from '../record/batch-header.js';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { resolveLogConfig } from '../broker/storage/log-config.js';
import { PartitionLog } from '../broker/storage/partition-log.js';
import { makeStorageBenchBatch } from './storage-bench-batch.js';

const MIB = 1024 * 1024;
/** Records each batch claims to hold (its records region is opaque). */
const RECORDS_PER_BATCH = 10;

function nextOffsetAfter(bytes: Buffer): number {
  let at = 0;
  let next = -1;
  while (at < bytes.length) {
    next = baseOffsetNumberAt(bytes, at) + lastOffsetDeltaAt(bytes, at) + 1;
    at += batchSizeAt(bytes, at);
  }
  return next;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: tmpdir() },
      mib: { type: 'string', default: '512' },
      'batch-kib': { type: 'string', default: '16' },
      'max-bytes-kib': { type: 'string', default: '1024' },
    },
  });
  const totalBytes = Number(values.mib) * MIB;
  const batchBytes = Number(values['batch-kib']) * 1024;
  const maxBytes = Number(values['max-bytes-kib']) * 1024;
  const root = await mkdtemp(join(values.dir as string, 'brook-bench-read-'));
  const files = new FileHandleCache(64);
  try {
    const log = await PartitionLog.open(join(root, 'log'), resolveLogConfig({ flushPolicy: 'never', segmentBytes: 256 * MIB }), {
      clock: { nowMs: () => Date.now() },
      files,
    });
    for (let written = 0, i = 0; written + batchBytes <= totalBytes; written += batchBytes, i++) {
      // Fresh buffers: the log keeps the newest in its tail cache.
      await log.append(makeStorageBenchBatch(batchBytes, i, RECORDS_PER_BATCH), 1);
    }
    console.log(`log of ${(log.sizeBytes / MIB).toFixed(0)} MiB in ${log.segmentCount} segments, ${batchBytes / 1024} KiB batches, reads of ${maxBytes / 1024} KiB`);

    let start = performance.now();
    let readBytes = 0;
    let reads = 0;
    for (let offset = log.logStartOffset; offset < log.logEndOffset; reads++) {
      const bytes = await log.read(offset, maxBytes);
      readBytes += bytes.length;
      offset = nextOffsetAfter(bytes);
    }
    let seconds = (performance.now() - start) / 1000;
    console.log(`catch-up read from offset 0 (disk):   ${(readBytes / MIB / seconds).toFixed(0)} MB/s, ${(reads / seconds).toFixed(0)} reads/s`);

    const tailOffset = log.logEndOffset - Math.floor((2 * MIB) / batchBytes) * 10;
    start = performance.now();
    readBytes = 0;
    reads = 0;
    while (performance.now() - start < 2000) {
      for (let offset = tailOffset; offset < log.logEndOffset; reads++) {
        const bytes = await log.read(offset, 64 * 1024);
        readBytes += bytes.length;
        offset = nextOffsetAfter(bytes);
      }
    }
    seconds = (performance.now() - start) / 1000;
    console.log(`tail reads of 64 KiB (tail cache):    ${(readBytes / MIB / seconds).toFixed(0)} MB/s, ${(reads / seconds).toFixed(0)} reads/s`);
    await log.close();
  } finally {
    await files.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
