/**
 * Produce and consume throughput and produce latency against one real broker process.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/produce-consume.js [options]
 *
 * Starts a broker (`brook broker start`, flush.policy=always) on a loopback port with a fresh
 * data dir, then, with an in-process producer (acks=all) and consumer:
 *   1. produces --small-records records of 100 bytes          -> records/s
 *   2. produces --large-records records of 1 KiB               -> MB/s
 *   3. consumes the 1 KiB topic from the start                 -> MB/s
 *   4. sends one record at a time, --latency-sends times       -> p50/p99/max ms (hdr-histogram),
 *      from a second producer with lingerMs 0 (the throughput producer's 2 ms linger would add
 *      2 ms to every lone record; the phase measures the broker round trip and its fdatasync)
 *
 * Options: --small-records N (default 1000000), --large-records N (200000), --partitions N (4),
 * --phases small,large,consume,latency, --broker-cpu-prof DIR (profile the broker process),
 * --compression none|lz4|zstd|... (none), --in-flight-per-partition N (1), --max-request-bytes N
 * (16 MiB). Run this script itself under `node --cpu-prof` to
 * profile the client side; bench/e2e-profile-top.ts prints a profile's top frames.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { Admin } from '../client/admin.js';
import { Consumer } from '../consumer/consumer.js';
import { Producer, type CompressionSetting, type Message } from '../producer/producer.js';

const { values: args } = parseArgs({
  options: {
    'small-records': { type: 'string', default: '1000000' },
    'large-records': { type: 'string', default: '200000' },
    'latency-sends': { type: 'string', default: '2000' },
    partitions: { type: 'string', default: '4' },
    phases: { type: 'string', default: 'small,large,consume,latency' },
    compression: { type: 'string', default: 'none' },
    'broker-cpu-prof': { type: 'string' },
    'in-flight-per-partition': { type: 'string', default: '1' },
    'max-request-bytes': { type: 'string', default: String(16 * 1024 * 1024) },
  },
});
const smallRecords = Number(args['small-records']);
const largeRecords = Number(args['large-records']);
const latencySends = Number(args['latency-sends']);
const partitions = Number(args.partitions);
const phases = new Set(args.phases!.split(','));
const compression = args.compression as CompressionSetting;

/** Messages per send() call, and send() calls outstanding at once (the producer batches across them). */
const MESSAGES_PER_SEND = 2_000;
const SENDS_IN_FLIGHT = 16;

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

async function startBroker(dataDir: string): Promise<{ address: string; stop(): Promise<void> }> {
  const nodeArgs = args['broker-cpu-prof'] !== undefined ? ['--cpu-prof', '--cpu-prof-dir', args['broker-cpu-prof']] : [];
  const child = spawn(process.execPath, [...nodeArgs, cliPath, 'broker', 'start', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'warn', '--metrics-listen', '127.0.0.1:0', '--flush-policy', 'always'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker exited (${code}): ${output}`)));
  });
  return {
    address,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function produceAll(producer: Producer, topic: string, count: number, valueBytes: number): Promise<number> {
  const value = Buffer.alloc(valueBytes, 0x61);
  const inFlight = new Set<Promise<unknown>>();
  const startMs = performance.now();
  for (let sent = 0; sent < count; sent += MESSAGES_PER_SEND) {
    const n = Math.min(MESSAGES_PER_SEND, count - sent);
    const messages: Message[] = new Array(n);
    for (let i = 0; i < n; i++) messages[i] = { key: null, value };
    while (inFlight.size >= SENDS_IN_FLIGHT) await Promise.race(inFlight);
    const sending = producer.send({ topic, messages }).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  }
  await Promise.all(inFlight);
  return (performance.now() - startMs) / 1000;
}

async function consumeAll(address: string, topic: string, count: number): Promise<{ seconds: number; bytes: number }> {
  const consumer = new Consumer({ brokers: address, maxWaitMs: 100, maxPrefetchBytes: 128 * 1024 * 1024, maxBytesPerPartition: Number(process.env.BENCH_PARTITION_BYTES ?? 16 * 1024 * 1024) });
  await consumer.connect();
  const startMs = performance.now();
  await consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
  let read = 0;
  let bytes = 0;
  await consumer.run({
    eachBatch: ({ batch }) => {
      for (const message of batch.messages) bytes += message.value!.length;
      read += batch.messages.length;
      if (read >= count) void consumer.disconnect();
    },
  });
  return { seconds: (performance.now() - startMs) / 1000, bytes };
}

async function measureLatency(producer: Producer, topic: string): Promise<hdr.Histogram> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const value = Buffer.alloc(100, 0x62);
  for (let i = 0; i < latencySends; i++) {
    const startNs = process.hrtime.bigint();
    await producer.send({ topic, messages: [{ value, partition: i % partitions }] });
    histogram.recordValue(Number((process.hrtime.bigint() - startNs) / 1000n)); // microseconds
  }
  return histogram;
}

const dataDir = mkdtempSync(join(tmpdir(), 'brook-bench-'));
const broker = await startBroker(dataDir);
const report: string[] = [];
try {
  const admin = new Admin({ brokers: broker.address });
  await admin.connect();
  await admin.createTopics({ topics: ['small', 'large', 'latency'].map((topic) => ({ topic, numPartitions: partitions })) });
  await admin.disconnect();
  const producer = new Producer({ brokers: broker.address, acks: 'all', compression, batchBytes: 512 * 1024, lingerMs: 2, bufferMemoryBytes: 128 * 1024 * 1024, maxInFlightRequestsPerPartition: Number(args['in-flight-per-partition']), maxRequestBytes: Number(args['max-request-bytes']) });
  await producer.connect();

  if (phases.has('small')) {
    const seconds = await produceAll(producer, 'small', smallRecords, 100);
    report.push(`produce 100 B records: ${smallRecords} in ${seconds.toFixed(2)} s = ${Math.round(smallRecords / seconds).toLocaleString('en')} records/s (${(smallRecords * 100 / seconds / 1e6).toFixed(1)} MB/s of values)`);
  }
  if (phases.has('large')) {
    const seconds = await produceAll(producer, 'large', largeRecords, 1024);
    report.push(`produce 1 KiB records: ${largeRecords} in ${seconds.toFixed(2)} s = ${(largeRecords * 1024 / seconds / 1e6).toFixed(1)} MB/s (${Math.round(largeRecords / seconds).toLocaleString('en')} records/s)`);
  }
  if (phases.has('consume') && phases.has('large')) {
    const { seconds, bytes } = await consumeAll(broker.address, 'large', largeRecords);
    report.push(`consume 1 KiB records: ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(2)} s = ${(bytes / seconds / 1e6).toFixed(1)} MB/s`);
  }
  if (phases.has('latency')) {
    const latencyProducer = new Producer({ brokers: broker.address, acks: 'all', compression, lingerMs: 0 });
    await latencyProducer.connect();
    const histogram = await measureLatency(latencyProducer, 'latency');
    await latencyProducer.disconnect();
    const ms = (us: number) => (us / 1000).toFixed(2);
    report.push(`produce latency, 1 record per send, one at a time (${latencySends} sends): p50 ${ms(histogram.getValueAtPercentile(50))} ms, p99 ${ms(histogram.getValueAtPercentile(99))} ms, max ${ms(histogram.maxValue)} ms`);
  }
  await producer.disconnect();
} finally {
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
}
process.stdout.write(`acks=all, flush.policy=always, ${partitions} partitions, compression ${compression}\n${report.join('\n')}\n`);
