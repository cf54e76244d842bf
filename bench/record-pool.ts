/**
 * Where the codec pool pays for its hop: for each codec and batch size (1 KiB .. 4 MiB of
 * uncompressed records), the latency of encoding and decoding one batch inline versus through the
 * pool (one worker), and the main-thread time each costs. The pool wins once its main-thread time
 * is a fraction of the inline time while its latency stays close to inline; that size is the
 * threshold (record/codec-pool.ts), and this prints the curve it was read from, with the size it
 * suggests: the smallest size at which the pool wins — latency within LATENCY_SLACK of inline and
 * main-thread time under MAIN_THREAD_SHARE_MAX of inline — and keeps winning at two thirds or more
 * of the larger sizes (the machine this runs on is shared, so single points are noisy).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/record-pool.js [--budget-ms 150] [--codecs gzip,zstd]
 */
import { parseArgs } from 'node:util';
import { BATCH_HEADER_BYTES, Codec } from '../record/batch-header.js';
import { CodecPool } from '../record/codec-pool.js';
import { codecFromName, codecName } from '../record/codecs.js';
import { decodeBatch, encodeBatch } from '../record/record-batch.js';
import { BENCH_NOW_MS, benchBatchRecords, formatBytes, timeSequential } from './record-bench-data.js';

const SIZES_BYTES = [1, 4, 16, 64, 256, 1024, 4096].map((kib) => kib * 1024);
const RECORD_BYTES = 1024;
const LATENCY_SLACK = 1.5;
const MAIN_THREAD_SHARE_MAX = 0.5;
const ALWAYS = { [Codec.None]: 0, [Codec.Gzip]: 0, [Codec.Snappy]: 0, [Codec.Lz4]: 0, [Codec.Zstd]: 0 };

/** The smallest size that wins and after which at least two thirds of the sizes win too. */
function firstLastingWin(points: Array<[number, boolean]>): number | null {
  for (let i = 0; i < points.length; i++) {
    if (!points[i][1]) continue;
    const rest = points.slice(i);
    if (rest.filter(([, wins]) => wins).length * 3 >= rest.length * 2) return points[i][0];
  }
  return null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'budget-ms': { type: 'string', default: '150' }, codecs: { type: 'string', default: 'none,gzip,snappy,lz4,zstd' } } });
  const budgetMs = Number(values['budget-ms']);
  const codecs = values.codecs.split(',').map(codecFromName);
  const pool = new CodecPool({ threads: 1, encodeThresholdsBytes: ALWAYS, decodeThresholdsBytes: ALWAYS });
  console.log(`record pool threshold curve: one worker, ${RECORD_BYTES}-byte records, ~${budgetMs} ms per point; times in microseconds per batch`);
  console.log('(latency = wall time per batch, one at a time; main = main-thread busy time per batch)\n');
  console.log('| codec | batch | compressed | encode inline | encode pool latency | encode pool main | decode inline | decode pool latency | decode pool main |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const suggestions: string[] = [];
  for (const codec of codecs) {
    const encodeWins: Array<[number, boolean]> = [];
    const decodeWins: Array<[number, boolean]> = [];
    for (const size of SIZES_BYTES) {
      const records = benchBatchRecords(size, Math.min(RECORD_BYTES, size - BATCH_HEADER_BYTES - 40));
      const opts = { codec, nowMs: BENCH_NOW_MS };
      const batch = encodeBatch(records, opts);
      const encodeInline = await timeSequential(() => encodeBatch(records, opts), budgetMs);
      const encodePool = codec === Codec.None ? null : await timeSequential(() => pool.encodeBatch(records, opts), budgetMs);
      const decodeInline = await timeSequential(() => decodeBatch(batch), budgetMs);
      const decodePool = await timeSequential(() => pool.decodeBatch(batch), budgetMs);
      const cells = [
        codecName(codec),
        formatBytes(size),
        formatBytes(batch.length),
        encodeInline.latencyUs.toFixed(0),
        encodePool === null ? '-' : encodePool.latencyUs.toFixed(0),
        encodePool === null ? '-' : encodePool.mainThreadUs.toFixed(0),
        decodeInline.latencyUs.toFixed(0),
        decodePool.latencyUs.toFixed(0),
        decodePool.mainThreadUs.toFixed(0),
      ];
      console.log(`| ${cells.join(' | ')} |`);
      encodeWins.push([size, encodePool !== null && encodePool.latencyUs <= encodeInline.latencyUs * LATENCY_SLACK && encodePool.mainThreadUs <= encodeInline.mainThreadUs * MAIN_THREAD_SHARE_MAX]);
      decodeWins.push([batch.length, decodePool.latencyUs <= decodeInline.latencyUs * LATENCY_SLACK && decodePool.mainThreadUs <= decodeInline.mainThreadUs * MAIN_THREAD_SHARE_MAX]);
    }
    const show = (bytes: number | null): string => (bytes === null ? 'never' : formatBytes(bytes));
    suggestions.push(`${codecName(codec)}: encode from ${show(firstLastingWin(encodeWins))} uncompressed, decode from ${show(firstLastingWin(decodeWins))} compressed`);
  }
  console.log('\nsuggested thresholds (the pool wins at this size and at two thirds or more of the larger ones):');
  for (const line of suggestions) console.log('  ' + line);
  await pool.close();
}

await main();
