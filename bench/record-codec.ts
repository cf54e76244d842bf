/**
 * Encode and decode throughput of record batches per codec, inline and through the codec pool,
 * for 100-byte and 1 KiB records. Throughput counts uncompressed batch bytes. Pool figures keep
 * several batches in flight (one worker by default; the main thread still lays out records on
 * encode and builds record objects on decode) and show how busy the main thread stayed.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/record-codec.js [--batch-kib 256] [--budget-ms 400] [--threads 1]
 */
import { parseArgs } from 'node:util';
import { Codec } from '../record/batch-header.js';
import { CodecPool } from '../record/codec-pool.js';
import { codecName } from '../record/codecs.js';
import { decodeBatch, encodeBatch } from '../record/record-batch.js';
import { BENCH_NOW_MS, benchBatchRecords, timeConcurrent, timeSequential } from './record-bench-data.js';

const CODECS = [Codec.None, Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd];
const RECORD_SIZES_BYTES = [100, 1024];
const IN_FLIGHT = 4;
const ALWAYS = { [Codec.None]: 0, [Codec.Gzip]: 0, [Codec.Snappy]: 0, [Codec.Lz4]: 0, [Codec.Zstd]: 0 };

function megabytesPerSecond(bytes: number, microseconds: number): string {
  return (bytes / microseconds).toFixed(0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'batch-kib': { type: 'string', default: '256' },
      'budget-ms': { type: 'string', default: '400' },
      threads: { type: 'string', default: '1' },
    },
  });
  const batchBytes = Number(values['batch-kib']) * 1024;
  const budgetMs = Number(values['budget-ms']);
  const threads = Number(values.threads);
  const pool = new CodecPool({ threads, encodeThresholdsBytes: ALWAYS, decodeThresholdsBytes: ALWAYS });
  console.log(`record codec throughput: ${batchBytes / 1024} KiB batches (uncompressed), MB/s of uncompressed bytes`);
  console.log(`pool: ${threads} worker(s), ${IN_FLIGHT} batches in flight, every batch offloaded; "main" = main-thread busy share\n`);
  console.log('| record | codec | ratio | encode inline | decode inline | encode pool | main | decode pool | main |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const recordBytes of RECORD_SIZES_BYTES) {
    const records = benchBatchRecords(batchBytes, recordBytes);
    for (const codec of CODECS) {
      const opts = { codec, nowMs: BENCH_NOW_MS };
      const plainBytes = encodeBatch(records, { nowMs: BENCH_NOW_MS }).length;
      const batch = encodeBatch(records, opts);
      const encodeInline = await timeSequential(() => encodeBatch(records, opts), budgetMs);
      const decodeInline = await timeSequential(() => decodeBatch(batch), budgetMs);
      const encodePool = await timeConcurrent(() => pool.encodeBatch(records, opts), IN_FLIGHT, budgetMs);
      const decodePool = await timeConcurrent(() => pool.decodeBatch(batch), IN_FLIGHT, budgetMs);
      const cells = [
        `${recordBytes} B`,
        codecName(codec),
        (plainBytes / batch.length).toFixed(1),
        megabytesPerSecond(plainBytes, encodeInline.latencyUs),
        megabytesPerSecond(plainBytes, decodeInline.latencyUs),
        ((encodePool.operationsPerSecond * plainBytes) / 1e6).toFixed(0),
        `${(encodePool.mainThreadShare * 100).toFixed(0)}%`,
        ((decodePool.operationsPerSecond * plainBytes) / 1e6).toFixed(0),
        `${(decodePool.mainThreadShare * 100).toFixed(0)}%`,
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
  }
  await pool.close();
}

await main();
