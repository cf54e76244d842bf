/**
 * Produce throughput and latency against a local cluster of three broker processes.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/cluster-produce.js [options]
 *
 * Starts three brokers (`brook broker start`, cluster mode, flush.policy=always, peers connected
 * directly), creates a topic with replication factor 3, then with an in-process producer
 * (acks=all):
 *   1. produces --records records of --record-bytes bytes as fast as it can -> records/s, MB/s
 *   2. sends records one send() each at a fixed --rate records/s for --latency-seconds
 *      -> produce latency p50/p99/max (from the time the record was due, so a stall counts
 *      against every record that waited, not just the first)
 *
 * Options: --records N (200000), --record-bytes N (1024), --partitions N (3), --rate N (5000),
 * --latency-seconds N (10), --phases throughput,latency, --flush-policy always|interval|never,
 * --in-flight-per-partition N (1, the producer's default: the latency phase's records queue behind
 * their partition's request in flight and travel in its next one; more pipelines a partition's
 * appends, so that they overlap on the leader, at the cost of order on retries).
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import { Admin } from '../client/admin.js';
import { DEFAULT_RETRY } from '../client/retry.js';
import { Producer, type Message } from '../producer/producer.js';
import { ClusterHarness } from '../test/fixtures/cluster-harness.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    'record-bytes': { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5000' },
    'latency-seconds': { type: 'string', default: '10' },
    phases: { type: 'string', default: 'throughput,latency' },
    'flush-policy': { type: 'string', default: 'always' },
    'in-flight-per-partition': { type: 'string', default: '1' },
  },
});
const records = Number(args.records);
const recordBytes = Number(args['record-bytes']);
const partitions = Number(args.partitions);
const ratePerSecond = Number(args.rate);
const latencySeconds = Number(args['latency-seconds']);
const phases = new Set(args.phases!.split(','));
const inFlightPerPartition = Number(args['in-flight-per-partition']);

/** Messages per send() call and send() calls outstanding in the throughput phase. */
const MESSAGES_PER_SEND = 1_000;
const SENDS_IN_FLIGHT = 16;
/** The latency phase releases its due records every tick of this length. */
const PACING_TICK_MS = 1;

async function throughput(producer: Producer, topic: string): Promise<void> {
  const value = Buffer.alloc(recordBytes, 0x61);
  const messages: Message[] = Array.from({ length: MESSAGES_PER_SEND }, (_, i) => ({ key: `key-${i}`, value }));
  const startMs = performance.now();
  let sent = 0;
  const outstanding = new Set<Promise<unknown>>();
  while (sent < records) {
    while (outstanding.size >= SENDS_IN_FLIGHT) await Promise.race(outstanding);
    const count = Math.min(MESSAGES_PER_SEND, records - sent);
    const sending: Promise<unknown> = producer.send({ topic, messages: count === MESSAGES_PER_SEND ? messages : messages.slice(0, count) }).finally(() => outstanding.delete(sending));
    outstanding.add(sending);
    sent += count;
  }
  await Promise.all(outstanding);
  const seconds = (performance.now() - startMs) / 1000;
  const recordsPerSecond = records / seconds;
  console.log(`throughput: ${records} records of ${recordBytes} B, RF=3, acks=all, ${partitions} partitions in ${seconds.toFixed(2)} s`);
  console.log(`  ${Math.round(recordsPerSecond).toLocaleString('en-US')} records/s, ${((recordsPerSecond * recordBytes) / 1e6).toFixed(1)} MB/s`);
}

async function latency(producer: Producer, topic: string): Promise<void> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const value = Buffer.alloc(recordBytes, 0x62);
  const total = ratePerSecond * latencySeconds;
  const startMs = performance.now();
  let released = 0;
  let failed = 0;
  const outstanding = new Set<Promise<void>>();
  while (released < total) {
    const due = Math.min(total, Math.floor(((performance.now() - startMs) * ratePerSecond) / 1000));
    for (; released < due; released++) {
      const dueMs = startMs + (released * 1000) / ratePerSecond;
      const sending: Promise<void> = producer
        .send({ topic, messages: [{ key: `key-${released}`, value }] })
        .then(
          () => {
            histogram.recordValue(Math.max(1, Math.round((performance.now() - dueMs) * 1000)));
          },
          () => {
            failed++;
          },
        )
        .finally(() => outstanding.delete(sending));
      outstanding.add(sending);
    }
    await sleep(PACING_TICK_MS);
  }
  await Promise.all(outstanding);
  const achieved = total / ((performance.now() - startMs) / 1000);
  const ms = (microseconds: number): string => (microseconds / 1000).toFixed(2);
  console.log(`latency: ${total} records of ${recordBytes} B at ${ratePerSecond} records/s (achieved ${Math.round(achieved)}), acks=all, one send() each, ${inFlightPerPartition} request(s) in flight per partition`);
  console.log(`  p50 ${ms(histogram.getValueAtPercentile(50))} ms, p99 ${ms(histogram.getValueAtPercentile(99))} ms, p99.9 ${ms(histogram.getValueAtPercentile(99.9))} ms, max ${ms(histogram.maxValue)} ms${failed > 0 ? `, ${failed} failed` : ''}`);
}

async function main(): Promise<void> {
  const cluster = await ClusterHarness.start({ brokers: 3, proxies: false, logLevel: 'warn', flags: ['--flush-policy', args['flush-policy']!] });
  try {
    const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'throughput', numPartitions: partitions, replicationFactor: 3 }, { topic: 'latency', numPartitions: partitions, replicationFactor: 3 }] });
    await admin.disconnect();
    await cluster.leadersOf('throughput', partitions);
    await cluster.leadersOf('latency', partitions);
    console.log(`cluster: 3 brokers, flush.policy=${args['flush-policy']}, leaders of 'throughput': ${(await cluster.leadersOf('throughput', partitions)).join(',')}`);
    if (phases.has('throughput')) {
      const producer = new Producer({ brokers: cluster.bootstrap, acks: 'all', lingerMs: 2 });
      await producer.connect();
      await throughput(producer, 'throughput');
      await producer.disconnect();
    }
    if (phases.has('latency')) {
      const producer = new Producer({ brokers: cluster.bootstrap, acks: 'all', lingerMs: 0, maxInFlightRequestsPerPartition: inFlightPerPartition });
      await producer.connect();
      await latency(producer, 'latency');
      await producer.disconnect();
    }
  } finally {
    await cluster.close();
  }
}

await main();
