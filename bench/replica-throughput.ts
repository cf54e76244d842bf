/**
 * Replicated append throughput: three Replicas of one partition in one process (real
 * PartitionLogs under flushPolicy 'always' in a temporary directory, an in-memory network that
 * copies every message's bytes), acks=all, 1 KiB records in 64 KiB batches, a fixed number of
 * appends in flight. For scale, the same run also measures one unreplicated PartitionLog taking the
 * same batches at the same concurrency (its leader path, flush 'always'), alternating rounds so
 * both see the same disk load.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/replica-throughput.js [--seconds 3] [--rounds 2] [--inflight 32] [--flush always|never]
 *
 * `--flush never` takes the disk's sync latency out, leaving the cost of the replication path
 * itself (three logs' writes, CRC checks, Raft, message copies) on one event loop.
 *
 * Prints per round: batches/s, MB/s (10^6 bytes of batch data per second) and append latency
 * percentiles for each side, and their throughput ratio. fdatasyncs are not counted here (test/partition counts them for group commit).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotLeaderError } from '../broker/partition/replica-errors.js';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { resolveLogConfig, type FlushPolicy } from '../broker/storage/log-config.js';
import { PartitionLog } from '../broker/storage/partition-log.js';
import { encodeBatch } from '../record/record-batch.js';
import { ReplicaCluster } from '../test/partition/replica-cluster.js';

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 64;

interface Arguments {
  seconds: number;
  rounds: number;
  inflight: number;
  flush: FlushPolicy;
}

function parseArguments(): Arguments {
  const args = process.argv.slice(2);
  const text = (flag: string, fallback: string): string => {
    const k = args.indexOf(flag);
    return k >= 0 && args[k + 1] !== undefined ? args[k + 1] : fallback;
  };
  const flush = text('--flush', 'always');
  if (flush !== 'always' && flush !== 'never') throw new Error(`--flush must be always or never, got ${flush}`);
  return { seconds: Number(text('--seconds', '3')), rounds: Number(text('--rounds', '2')), inflight: Number(text('--inflight', '32')), flush };
}

function templateBatch(): Buffer {
  const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: null, value: Buffer.alloc(RECORD_BYTES, i) }));
  return encodeBatch(records, { nowMs: 1_700_000_000_000 });
}

interface Figures {
  batches: number;
  bytes: number;
  seconds: number;
  /** Appends refused (NotLeaderError after a leadership change); they are not counted as batches. */
  refused: number;
  /** The slowest Ready of any replica (ms), replicated runs only. */
  readyMsMax?: number;
  /** Append latencies (ms), sorted. */
  latenciesMs: number[];
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/**
 * Keeps `inflight` appends going for `seconds`; each append gets its own copy (the log keeps and
 * stamps it). A refused append (leadership moved) is counted and the worker carries on.
 */
async function drive(append: (batch: Buffer) => Promise<unknown>, template: Buffer, seconds: number, inflight: number): Promise<Figures> {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let batches = 0;
  let refused = 0;
  const latenciesMs: number[] = [];
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      try {
        const sentAt = process.hrtime.bigint();
        await append(Buffer.from(template));
        latenciesMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
        batches += 1;
      } catch (error) {
        if (!(error instanceof NotLeaderError)) throw error;
        refused += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latenciesMs.sort((a, b) => a - b);
  return { batches, bytes: batches * template.length, seconds: elapsed, refused, latenciesMs };
}

async function replicated(template: Buffer, { seconds, inflight, flush }: Arguments): Promise<Figures> {
  // Election timeout 0.5-1 s (50 ticks of 10 ms): long against one Ready's write, as in a broker.
  const cluster = await ReplicaCluster.start([1, 2, 3], { flushPolicy: flush, segmentBytes: 256 * 1024 * 1024 }, { electionTicks: 50, heartbeatTicks: 5 });
  try {
    await cluster.waitForLeader();
    const append = (batch: Buffer): Promise<unknown> => {
      const leader = [...cluster.replicas.values()].find((replica) => replica.isLeader);
      return leader === undefined ? Promise.reject(new NotLeaderError('bench', 0)) : leader.append(batch, 'all');
    };
    const figures = await drive(append, template, seconds, inflight);
    figures.readyMsMax = Math.max(...[...cluster.replicas.values()].map((replica) => replica.readyMsMax));
    return figures;
  } finally {
    await cluster.close();
  }
}

async function single(template: Buffer, { seconds, inflight, flush }: Arguments): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'brook-replica-bench-'));
  const log = await PartitionLog.open(dir, resolveLogConfig({ flushPolicy: flush, segmentBytes: 256 * 1024 * 1024 }), {
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
  const latency = `, latency p50 ${percentile(figures.latenciesMs, 0.5).toFixed(1)} ms p99 ${percentile(figures.latenciesMs, 0.99).toFixed(1)} ms`;
  const slowest = figures.readyMsMax !== undefined ? `, slowest Ready ${figures.readyMsMax} ms` : '';
  const refused = figures.refused > 0 ? `, ${figures.refused} refused (leadership moved)` : '';
  return `${name.padEnd(28)} ${batchesPerSecond.toFixed(0).padStart(7)} batches/s ${megabytesPerSecond.toFixed(1).padStart(7)} MB/s${latency}${slowest}${refused}`;
}

async function main(): Promise<void> {
  const args = parseArguments();
  const template = templateBatch();
  console.log(`batch ${template.length} bytes (${RECORDS_PER_BATCH} x ${RECORD_BYTES} B records), ${args.inflight} appends in flight, ${args.seconds} s per run, flush ${args.flush}`);
  for (let round = 1; round <= args.rounds; round++) {
    const three = await replicated(template, args);
    const one = await single(template, args);
    console.log(`round ${round}`);
    console.log(`  ${line('3 replicas, acks=all', three)}`);
    console.log(`  ${line('1 log, no replication', one)}`);
    console.log(`  replicated / single: ${(three.batches / three.seconds / (one.batches / one.seconds)).toFixed(2)}`);
  }
}

await main();
