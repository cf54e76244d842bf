/**
 * The three workloads against Brook, through its own producer and consumer in this process:
 * produce (max or fixed rate), consume (a topic from its start), end to end (fixed rate, latency
 * from each record's intended send time to its arrival at the consumer).
 */
import { Consumer } from '../../consumer/consumer.js';
import { Producer, type Message } from '../../producer/producer.js';
import { errorText, type RunResult } from './bench-result.js';
import { FixedRateSchedule } from './fixed-rate-schedule.js';
import { LatencyRecorder } from './latency-recorder.js';
import { LiveProgress } from './live-progress.js';
import { CompletionSignal, driveAtFixedRate, driveAtMaxRate, type DriverTarget } from './load-driver.js';
import { nowNs, ThroughputMeter } from './throughput-meter.js';
import { makePayload, readStamp, stampedPayload, windowWithinBytes, type WorkloadSpec } from './workload-spec.js';

/** Records per send() call at max rate, and send() calls outstanding per producer. */
const MESSAGES_PER_SEND = 2_000;
const SENDS_IN_FLIGHT_PER_PRODUCER = 16;
/** Bound on records outstanding in a fixed-rate run (beyond it the loop waits; latencies keep counting). */
const FIXED_RATE_OUTSTANDING_MAX = 1_000_000;
const PRODUCER_BUFFER_BYTES = 128 * 1024 * 1024;
const CONSUMER_PREFETCH_BYTES = 128 * 1024 * 1024;
const CONSUMER_PARTITION_FETCH_BYTES = 16 * 1024 * 1024;
/** How long an end-to-end run waits for the last records to arrive after the last was acked. */
const E2E_ARRIVAL_TIMEOUT_MS = 10_000;

export interface RunLabel {
  readonly label: string;
  readonly durability: string;
  readonly progress: boolean;
}

function parametersOf(spec: WorkloadSpec, brokers: string): Record<string, string | number | boolean | null> {
  return { brokers, topic: spec.topic, records: spec.records, recordBytes: spec.recordBytes, ratePerSecond: spec.ratePerSecond, producers: spec.producers, partitions: spec.partitions, replication: spec.replication, acks: spec.acks, compression: spec.compression, batchBytes: spec.batchBytes, lingerMs: spec.lingerMs, maxSeconds: spec.maxSeconds };
}

async function connectProducers(brokers: string, spec: WorkloadSpec): Promise<Producer[]> {
  return Promise.all(Array.from({ length: spec.producers }, async () => {
    const producer = new Producer({
      brokers,
      acks: spec.acks,
      compression: spec.compression,
      batchBytes: spec.batchBytes,
      lingerMs: spec.lingerMs,
      bufferMemoryBytes: PRODUCER_BUFFER_BYTES,
      // A request may carry a full batch of every partition, plus framing.
      maxRequestBytes: Math.max(16 * 1024 * 1024, spec.batchBytes * 2),
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return producer;
  }));
}

/**
 * Sends records through `producers` (round robin per send call), counting acks in `meter` and,
 * when `latency` is given, each record's latency from `startNsOf(index)`.
 */
function producerTarget(producers: Producer[], spec: WorkloadSpec, meter: ThroughputMeter, latency: LatencyRecorder | null, startNsOf: (index: number) => number, valueOf: (index: number) => Buffer, errors: unknown[]): DriverTarget {
  const signal = new CompletionSignal();
  let outstanding = 0;
  let next = 0;
  const shared: Message[] = [];
  return {
    signal,
    outstanding: () => outstanding,
    send(from, to) {
      const count = to - from;
      let messages: Message[];
      if (spec.ratePerSecond === null) {
        // Max rate sends identical records: one shared array of messages, no allocation per record.
        while (shared.length < count) shared.push({ value: valueOf(0) });
        messages = shared.length === count ? shared : shared.slice(0, count);
      } else {
        // At a fixed rate, records go round robin over the partitions, as the peer's go over its
        // streams: the sticky partitioner would keep a slow trickle on one partition (and so on
        // one fsync pipeline) for a whole batch's worth of records.
        messages = new Array(count);
        for (let i = 0; i < count; i++) messages[i] = { value: valueOf(from + i), partition: (from + i) % spec.partitions };
      }
      const sendNs = nowNs();
      outstanding += count;
      const producer = producers[next++ % producers.length];
      producer.send({ topic: spec.topic, messages }).then(() => {
        const doneNs = nowNs();
        meter.add(count, count * spec.recordBytes, doneNs);
        if (latency !== null) {
          if (spec.ratePerSecond === null) latency.record(sendNs, doneNs, count);
          else for (let i = from; i < to; i++) latency.record(startNsOf(i), doneNs);
        }
      }, (error: unknown) => {
        if (errors.length < 10) errors.push(error);
      }).finally(() => {
        outstanding -= count;
        signal.notify();
      });
    },
  };
}

/** Produces `spec.records` records to `spec.topic` (which must exist) and measures acks. */
export async function produceToBrook(brokers: string, spec: WorkloadSpec, run: RunLabel): Promise<RunResult> {
  const producers = await connectProducers(brokers, spec);
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.records) : null);
  const latency = new LatencyRecorder(spec.ratePerSecond !== null);
  const payload = makePayload(spec.recordBytes);
  const errors: unknown[] = [];
  let sent = 0;
  try {
    const startNs = nowNs();
    meter.start(startNs);
    const deadlineNs = startNs + spec.maxSeconds * 1e9;
    if (spec.ratePerSecond === null) {
      const target = producerTarget(producers, spec, meter, latency, () => 0, () => payload, errors);
      sent = await driveAtMaxRate(target, { records: spec.records, deadlineNs, chunkRecords: MESSAGES_PER_SEND, windowRecords: windowWithinBytes(MESSAGES_PER_SEND * SENDS_IN_FLIGHT_PER_PRODUCER * spec.producers, spec.recordBytes, MESSAGES_PER_SEND * 2) });
    } else {
      const schedule = new FixedRateSchedule(spec.ratePerSecond, startNs, spec.records);
      const target = producerTarget(producers, spec, meter, latency, (i) => schedule.intendedNs(i), () => payload, errors);
      sent = await driveAtFixedRate(target, { schedule, deadlineNs, outstandingMax: FIXED_RATE_OUTSTANDING_MAX });
    }
  } finally {
    await Promise.all(producers.map((producer) => producer.disconnect()));
  }
  const throughput = meter.finish(meter.lastCompletionNs);
  if (errors.length > 0 && throughput.records === 0) throw errors[0];
  return { ...throughput, system: 'brook', kind: 'produce', label: run.label, durability: run.durability, parameters: parametersOf(spec, brokers), latency: latency.count > 0 ? latency.summary() : null, missingRecords: sent - throughput.records, firstError: errors.length > 0 ? errorText(errors[0]) : null };
}

/** Reads `spec.records` records of `spec.topic` from offset 0 of every partition. */
export async function consumeFromBrook(brokers: string, spec: WorkloadSpec, run: RunLabel): Promise<RunResult> {
  const consumer = new Consumer({ brokers, offsetResetPolicy: 'earliest', maxWaitMs: 100, maxPrefetchBytes: CONSUMER_PREFETCH_BYTES, maxBytesPerPartition: CONSUMER_PARTITION_FETCH_BYTES });
  await consumer.connect();
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.records) : null);
  const startNs = nowNs();
  meter.start(startNs);
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= consumer.disconnect());
  const deadline = setTimeout(() => void stop(), spec.maxSeconds * 1000);
  try {
    await consumer.assign(Array.from({ length: spec.partitions }, (_, partition) => ({ topic: spec.topic, partition, offset: 'earliest' as const })));
    await consumer.run({
      eachBatch: ({ batch }) => {
        let bytes = 0;
        for (const message of batch.messages) bytes += message.value?.length ?? 0;
        meter.add(batch.messages.length, bytes);
        if (meter.records >= spec.records) void stop();
      },
    });
  } finally {
    clearTimeout(deadline);
    await stop();
  }
  const throughput = meter.finish(meter.lastCompletionNs);
  return { ...throughput, system: 'brook', kind: 'consume', label: run.label, durability: run.durability, parameters: parametersOf(spec, brokers), latency: null, missingRecords: Math.max(0, spec.records - throughput.records), firstError: null };
}

/**
 * Produces at `spec.ratePerSecond` while a consumer reads the same (empty, new) topic; latency is
 * from each record's intended send time (stamped in its value) to its arrival at the consumer.
 */
export async function endToEndWithBrook(brokers: string, spec: WorkloadSpec, run: RunLabel): Promise<RunResult> {
  if (spec.ratePerSecond === null) throw new Error('an end-to-end run needs a fixed rate');
  const consumer = new Consumer({ brokers, offsetResetPolicy: 'earliest', maxWaitMs: 500, minBytes: 1, maxPrefetchBytes: CONSUMER_PREFETCH_BYTES });
  await consumer.connect();
  await consumer.assign(Array.from({ length: spec.partitions }, (_, partition) => ({ topic: spec.topic, partition, offset: 'earliest' as const })));
  const producers = await connectProducers(brokers, spec);
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.records) : null);
  const latency = new LatencyRecorder(true);
  const acked = new ThroughputMeter(null);
  const template = makePayload(spec.recordBytes);
  const errors: unknown[] = [];
  const arrived = new CompletionSignal();
  const consuming = consumer.run({
    eachBatch: ({ batch }) => {
      const atNs = nowNs();
      let bytes = 0;
      for (const message of batch.messages) {
        latency.record(readStamp(message.value!), atNs);
        bytes += message.value!.length;
      }
      meter.add(batch.messages.length, bytes, atNs);
      arrived.notify();
    },
  });
  let sent = 0;
  try {
    const startNs = nowNs();
    meter.start(startNs);
    acked.start(startNs);
    const schedule = new FixedRateSchedule(spec.ratePerSecond, startNs, spec.records);
    const target = producerTarget(producers, spec, acked, null, (i) => schedule.intendedNs(i), (i) => stampedPayload(template, schedule.intendedNs(i)), errors);
    sent = await driveAtFixedRate(target, { schedule, deadlineNs: startNs + spec.maxSeconds * 1e9, outstandingMax: FIXED_RATE_OUTSTANDING_MAX });
    const waitUntilMs = Date.now() + E2E_ARRIVAL_TIMEOUT_MS;
    while (meter.records < acked.records && Date.now() < waitUntilMs) await arrived.wait(100);
  } finally {
    await Promise.all(producers.map((producer) => producer.disconnect()));
    await consumer.disconnect();
    await consuming.catch(() => undefined);
  }
  if (errors.length > 0 && acked.records === 0) throw errors[0];
  const throughput = meter.finish(meter.lastCompletionNs);
  return { ...throughput, system: 'brook', kind: 'e2e', label: run.label, durability: run.durability, parameters: parametersOf(spec, brokers), latency: latency.summary(), missingRecords: sent - throughput.records, firstError: errors.length > 0 ? errorText(errors[0]) : null };
}
