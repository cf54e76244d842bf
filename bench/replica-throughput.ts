/**
 * Replicated append throughput: three Replicas of one partition in one process (real
 * PartitionLogs under flushPolicy 'always' in a temporary directory, an in-memory network that
 * copies every message's bytes), acks=all, 1 KiB records in 64 KiB batches, a fixed number of
 * appends in flight. For scale, the same run also measures one unreplicated PartitionLog taking the
 * same batches at the same concurrency (its leader path, flush 'always'), alternating rounds so
 * both see the same disk load.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/replica-throughput.js [--seconds 3] [--rounds 2] [--inflight 32]
 *
 * Prints per round: batches/s and MB/s (10^6 bytes of batch data per second) for each side, and
 * fdatasyncs are not counted here (see bench/storage-append.ts for group-commit figures).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { resolveLogConfig } from '../broker/storage/log-config.js';
import { PartitionLog } from '../broker/storage/partition-log.js';
import { encodeBatch } from '../record/record-batch.js';
import { ReplicaCluster } from '../test/partition/replica-cluster.js';

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 64;

function parseArguments(): { seconds: number; rounds: number; inflight: number } {
  const args = process.argv.slice(2);
  const value = (flag: string, fallback: string): number => {
    const k = args.indexOf(flag);
    return Number(k >= 0 && args[k + 1] !== undefined ? args[k + 1] : fallback);
  };
  return { seconds: value('--seconds', '3'), rounds: value('--rounds', '2'), inflight: value('--inflight', '32') };
}

function templateBatch(): Buffer {
  const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: null, value: Buffer.alloc(RECORD_BYTES, i) }));
  return encodeBatch(records, { nowMs: 1_700_000_000_000 });
}

interface Figures {
  batches: number;
  bytes: number;
  seconds: number;
}

/** Keeps `inflight` appends going for `seconds`; each append gets its own copy (the log keeps and stamps it). */
async function drive(append: (batch: Buffer) => Promise<unknown>, template: Buffer, seconds: number, inflight: number): Promise<Figures> {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let batches = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      await append(Buffer.from(template));
      batches += 1;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { batches, bytes: batches * template.length, seconds: elapsed };
}

async function replicated(template: Buffer, seconds: number, inflight: number): Promise<Figures> {
  const cluster = await ReplicaCluster.start([1, 2, 3], { flushPolicy: 'always', segmentBytes: 256 * 1024 * 1024 });
  try {
    const leader = await cluster.waitForLeader();
    return await drive((batch) => leader.append(batch, 'all'), template, seconds, inflight);
  } finally {
    await cluster.close();
  }
}

async function single(template: Buffer, seconds: number, inflight: number): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'brook-replica-bench-'));
  const log = await PartitionLog.open(dir, resolveLogConfig({ flushPolicy: 'always', segmentBytes: 256 * 1024 * 1024 }), {
    clock: { nowMs: () => Date.now() },
    files: new FileHandleCache(64),
  });
  try {
    return await drive((batch) => log.append(batch, 1), template, seconds, inflight);
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function line(name: string, figures: Figures): string {
  const batchesPerSecond = figures.batches / figures.seconds;
  const megabytesPerSecond = figures.bytes / figures.seconds / 1e6;
  return `${name.padEnd(28)} ${batchesPerSecond.toFixed(0).padStart(7)} batches/s ${megabytesPerSecond.toFixed(1).padStart(7)} MB/s`;
}

async function main(): Promise<void> {
  const { seconds, rounds, inflight } = parseArguments();
  const template = templateBatch();
  console.log(`batch ${template.length} bytes (${RECORDS_PER_BATCH} x ${RECORD_BYTES} B records), ${inflight} appends in flight, ${seconds} s per run`);
  for (let round = 1; round <= rounds; round++) {
    const three = await replicated(template, seconds, inflight);
    const one = await single(template, seconds, inflight);
    console.log(`round ${round}`);
    console.log(`  ${line('3 replicas, acks=all', three)}`);
    console.log(`  ${line('1 log, no replication', one)}`);
    console.log(`  replicated / single: ${(three.batches / three.seconds / (one.batches / one.seconds)).toFixed(2)}`);
  }
}

await main();
