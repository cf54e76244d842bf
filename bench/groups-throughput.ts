/**
 * Consumption throughput of a consumer group against one standalone consumer, in the same run.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/groups-throughput.js [--records 400000] [--record-bytes 100] [--partitions 12] [--members 4]
 *
 * Starts one broker, produces the records onto a topic, then reads all of them twice, each
 * reader in its own process (as they would run in production):
 *   1. one standalone consumer assigned every partition;
 *   2. a group of `members` consumers (range assignor).
 * Readers first take their partitions at the log end (the group joins and becomes stable), then
 * all seek to the earliest offset at one signal; the clock runs from that signal until every
 * record was read, so the group's figure is its steady state, not its join. The join time is
 * printed beside it. On a machine with fewer cores than members the group shares them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Admin } from '../client/admin.js';
import { Consumer, type ConsumerConfig } from '../consumer/consumer.js';
import { Producer } from '../producer/producer.js';
import { startBenchBroker } from './groups-bench-broker.js';

const REPORT_EVERY_RECORDS = 5_000;
const TOPIC = 'groups-throughput';

if (process.argv[2] === 'worker') {
  await worker(process.argv[3], process.argv[4] as 'standalone' | 'group', Number(process.argv[5]));
} else {
  await main();
}

/**
 * A reader process. Joins (group) or assigns (standalone) at the end of the log and reports
 * {"assigned": partitions, "g": generation} after every assignment; on SIGUSR1 it seeks every
 * partition it owns to the earliest offset and reads, reporting {"n": records so far, "t": epoch
 * ms} every REPORT_EVERY_RECORDS records and whenever a partition is read to its end.
 */
async function worker(brokers: string, mode: 'standalone' | 'group', partitions: number): Promise<void> {
  const print = (event: unknown) => process.stdout.write(`${JSON.stringify(event)}\n`);
  const config: ConsumerConfig = { brokers, maxWaitMs: 100 };
  if (mode === 'group') {
    Object.assign(config, {
      groupId: 'throughput', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, autoCommitIntervalMs: 1_000, autoOffsetReset: 'latest',
      rebalanceListener: { onPartitionsAssigned: () => void print({ assigned: consumer.assignment().length, g: consumer.groupMembership().generationId }) },
    } satisfies Partial<ConsumerConfig>);
  }
  const consumer: Consumer = new Consumer(config);
  await consumer.connect();
  if (mode === 'group') {
    consumer.subscribe({ topics: [TOPIC] });
  } else {
    await consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic: TOPIC, partition, offset: 'latest' as const })));
    print({ assigned: partitions, g: 0 });
  }
  process.once('SIGTERM', () => void consumer.disconnect());
  process.once('SIGUSR1', () => {
    for (const { topic, partition } of consumer.assignment()) consumer.seek({ topic, partition, offset: 'earliest' });
  });
  let count = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const before = Math.floor(count / REPORT_EVERY_RECORDS);
      count += batch.messages.length;
      // Also when a partition is read to its end, so the last records of every member are counted.
      const caughtUp = batch.messages.length > 0 && batch.messages[batch.messages.length - 1].offset + 1 >= batch.highWatermark;
      if (caughtUp || Math.floor(count / REPORT_EVERY_RECORDS) !== before) print({ n: count, t: Date.now() });
    },
  });
}

interface PhaseResult {
  readonly recordsPerSecond: number;
  /** From process start until every reader held its partitions (group: joined and stable). */
  readonly readyMs: number;
}

/** Runs `readers` worker processes; once they own every partition, has them read all `records`. */
async function phase(address: string, mode: 'standalone' | 'group', readers: number, records: number, partitions: number): Promise<PhaseResult> {
  const script = fileURLToPath(import.meta.url);
  const spawnedMs = Date.now();
  const counts = new Array<number>(readers).fill(0);
  const assigned = new Array<{ assigned: number; g: number } | null>(readers).fill(null);
  const children: ChildProcess[] = [];
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  let onDone: (lastMs: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (onDone = resolve));
  for (let i = 0; i < readers; i++) {
    const child = spawn(process.execPath, [script, 'worker', address, mode, String(partitions)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const event = JSON.parse(line) as { n?: number; t?: number; assigned?: number; g?: number };
        if (event.assigned !== undefined) {
          assigned[i] = { assigned: event.assigned, g: event.g! };
          const generations = new Set(assigned.map((a) => a?.g));
          if (assigned.every((a) => a !== null) && generations.size === 1 && assigned.reduce((sum, a) => sum + a!.assigned, 0) === partitions) onReady();
        } else {
          counts[i] = event.n!;
          if (counts.reduce((a, b) => a + b, 0) >= records) onDone(event.t!);
        }
      }
    });
  }
  await ready;
  const readyMs = Date.now() - spawnedMs;
  // A moment for the last member's fetcher to settle at the log end.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const startMs = Date.now();
  for (const child of children) child.kill('SIGUSR1');
  const lastMs = await done;
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
  return { recordsPerSecond: records / ((lastMs - startMs) / 1_000), readyMs };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      records: { type: 'string', default: '400000' },
      'record-bytes': { type: 'string', default: '100' },
      partitions: { type: 'string', default: '12' },
      members: { type: 'string', default: '4' },
    },
  });
  const records = Number(args.records);
  const partitions = Number(args.partitions);
  const members = Number(args.members);
  const value = Buffer.alloc(Number(args['record-bytes']), 'x');
  const broker = await startBenchBroker(['--groups-initial-rebalance-delay-ms', '1000']);
  try {
    const admin = new Admin({ brokers: broker.address });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: partitions }] });
    await admin.disconnect();
    const producer = new Producer({ brokers: broker.address, lingerMs: 5, batchBytes: 256 * 1024 });
    await producer.connect();
    const sends: Promise<unknown>[] = [];
    for (let sent = 0; sent < records; sent += 2_000) {
      sends.push(producer.send({ topic: TOPIC, messages: Array.from({ length: Math.min(2_000, records - sent) }, (_, i) => ({ value, partition: (sent + i) % partitions })) }));
      if (sends.length >= 16) await sends.shift();
    }
    await Promise.all(sends);
    await producer.disconnect();
    process.stdout.write(`produced ${records} records of ${value.length} bytes on ${partitions} partitions\n`);

    const standalone = await phase(broker.address, 'standalone', 1, records, partitions);
    const group = await phase(broker.address, 'group', members, records, partitions);
    process.stdout.write(`standalone consumer: ${Math.round(standalone.recordsPerSecond)} records/s (ready after ${standalone.readyMs} ms)\n`);
    process.stdout.write(`group of ${members}:        ${Math.round(group.recordsPerSecond)} records/s (joined and stable after ${group.readyMs} ms)\n`);
    process.stdout.write(`group / standalone: ${(group.recordsPerSecond / standalone.recordsPerSecond).toFixed(2)}\n`);
  } finally {
    await broker.stop();
  }
}
