/**
 * Cost of the CRC check every batch read back from a segment file gets before it is served
 * (broker/storage/stored-batches.ts), next to a plain CRC32C and a copy of the same bytes, in
 * one run, so the ratio says what the check adds to a read.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/storage-verify.js [--batch-kib 16] [--seconds 1]
 */
import { parseArgs } from 'node:util';
import { crc32c } from '@node-rs/crc32';
import { verifyStoredBatches } from '../broker/storage/stored-batches.js';
import { makeStorageBenchBatch } from './storage-bench-batch.js';

const { values } = parseArgs({ options: { 'batch-kib': { type: 'string', default: '16' }, seconds: { type: 'string', default: '1' } } });
const batchBytes = Number(values['batch-kib']) * 1024;
const seconds = Number(values.seconds);
const batches = Math.max(1, Math.floor((1024 * 1024) / batchBytes));
const bytes = Buffer.concat(Array.from({ length: batches }, (_, i) => makeStorageBenchBatch(batchBytes, i, 10)));

function rateGBps(work: () => void): number {
  const endNs = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const startNs = process.hrtime.bigint();
  let rounds = 0;
  while (process.hrtime.bigint() < endNs) {
    work();
    rounds++;
  }
  return (rounds * bytes.length) / Number(process.hrtime.bigint() - startNs);
}

verifyStoredBatches(bytes, 'bench', 0); // throws if the bench batches were not sound
const verify = rateGBps(() => verifyStoredBatches(bytes, 'bench', 0));
const crc = rateGBps(() => crc32c(bytes));
const copy = rateGBps(() => Buffer.from(bytes));
console.log(`${bytes.length} bytes of ${batchBytes / 1024} KiB batches`);
console.log(`verifyStoredBatches: ${verify.toFixed(2)} GB/s`);
console.log(`one crc32c call:     ${crc.toFixed(2)} GB/s`);
console.log(`Buffer copy:         ${copy.toFixed(2)} GB/s`);
