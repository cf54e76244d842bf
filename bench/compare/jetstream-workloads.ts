/**
 * The same workloads against NATS JetStream, two ways:
 * - through the `nats` npm client: js.publish with async acks (a window of publishes outstanding
 *   per connection), a pull consumer (consume(), ack none) and an ordered push consumer;
 * - through the lean raw-protocol client (nats-protocol.ts): PUB with a reply subject per message,
 *   acks counted on one wildcard inbox subscription, and a push consumer whose deliveries (and
 *   flow-control requests) are read straight off the socket.
 * A Brook topic of N partitions is matched by N streams of one subject each (a stream is
 * JetStream's unit of ordering and replication, as a partition is Brook's).
 */
import { AckPolicy, DeliverPolicy, StorageType, consumerOpts, createInbox, nanos, type ConsumerMessages, type JetStreamManager, type JetStreamSubscription, type NatsConnection } from 'nats';
import type { RunResult } from './bench-result.js';
import type { RunLabel } from './brook-workloads.js';
import { FixedRateSchedule } from './fixed-rate-schedule.js';
import { LatencyRecorder } from './latency-recorder.js';
import { LiveProgress } from './live-progress.js';
import { CompletionSignal, driveAtFixedRate, driveAtMaxRate, type DriverTarget } from './load-driver.js';
import { connectNats, NATS_DURABILITY, type NatsDeployment } from './nats-deployment.js';
import { LeanNatsConnection, parseNatsUrl, type NatsMessage } from './nats-protocol.js';
import { nowNs, ThroughputMeter } from './throughput-meter.js';
import { makePayload, readStamp, stampedPayload, windowWithinBytes, type WorkloadSpec } from './workload-spec.js';

export type JetStreamClientKind = 'npm' | 'lean';

/** Publishes handed to the lean client per send call at max rate. */
const LEAN_CHUNK_RECORDS = 1_024;
const NPM_CHUNK_RECORDS = 256;
const FIXED_RATE_OUTSTANDING_MAX = 1_000_000;
/** Messages a pull consumer asks for at once. */
const PULL_BATCH_MESSAGES = 10_000;
const ARRIVAL_TIMEOUT_MS = 10_000;
const STATUS_HEADER_PREFIX = 'NATS/1.0 100';

export function streamName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export function subjectName(topic: string, partition: number): string {
  return `${topic}.${partition}`;
}

/** Creates one file-storage stream per partition, replicated `spec.replication` times. */
export async function createStreams(deployment: NatsDeployment, spec: WorkloadSpec): Promise<void> {
  const connection = await connectNats(deployment, 'bench-admin');
  try {
    const manager = await connection.jetstreamManager();
    for (let partition = 0; partition < spec.partitions; partition++) {
      await manager.streams.add({ name: streamName(spec.topic, partition), subjects: [subjectName(spec.topic, partition)], storage: StorageType.File, num_replicas: spec.replication });
    }
  } finally {
    await connection.close();
  }
}

function parametersOf(spec: WorkloadSpec, deployment: NatsDeployment, client: JetStreamClientKind, window: number): Record<string, string | number | boolean | null> {
  return { servers: deployment.servers, client, streamPrefix: spec.topic, records: spec.records, recordBytes: spec.recordBytes, ratePerSecond: spec.ratePerSecond, producers: spec.producers, streams: spec.partitions, replication: spec.replication, window, maxSeconds: spec.maxSeconds };
}

function label(system: JetStreamClientKind): RunResult['system'] {
  return system === 'npm' ? 'jetstream' : 'jetstream-lean';
}

/** A publisher for the load driver; `close` ends its connections. */
interface Publisher extends DriverTarget {
  close(): Promise<void>;
  readonly errors: string[];
}

interface PublisherOptions {
  readonly spec: WorkloadSpec;
  readonly meter: ThroughputMeter;
  /** Latency from startNsOf(i) (fixed rate) or the send time (max rate); null: not measured. */
  readonly latency: LatencyRecorder | null;
  readonly startNsOf: ((index: number) => number) | null;
  readonly payloadOf: (index: number) => Uint8Array;
}

async function npmPublisher(deployment: NatsDeployment, options: PublisherOptions): Promise<Publisher> {
  const { spec, meter, latency } = options;
  const connections: NatsConnection[] = await Promise.all(Array.from({ length: spec.producers }, (_, i) => connectNats(deployment, `bench-publisher-${i}`)));
  const clients = connections.map((connection) => connection.jetstream({ timeout: 30_000 }));
  const subjects = Array.from({ length: spec.partitions }, (_, p) => subjectName(spec.topic, p));
  const signal = new CompletionSignal();
  const errors: string[] = [];
  let outstanding = 0;
  return {
    signal,
    errors,
    outstanding: () => outstanding,
    send(from, to) {
      const client = clients[from % clients.length];
      const sendNs = nowNs();
      for (let i = from; i < to; i++) {
        outstanding++;
        const startNs = options.startNsOf === null ? sendNs : options.startNsOf(i);
        client.publish(subjects[i % subjects.length], options.payloadOf(i)).then(() => {
          const doneNs = nowNs();
          meter.add(1, spec.recordBytes, doneNs);
          latency?.record(startNs, doneNs);
        }, (error: unknown) => {
          if (errors.length < 10) errors.push(error instanceof Error ? error.message : String(error));
        }).finally(() => {
          outstanding--;
          signal.notify();
        });
      }
    },
    close: async () => {
      await Promise.all(connections.map((connection) => connection.close()));
    },
  };
}

async function leanPublisher(deployment: NatsDeployment, options: PublisherOptions): Promise<Publisher> {
  const { spec, meter, latency } = options;
  const address = parseNatsUrl(deployment.servers.split(',')[0]);
  const connections = await Promise.all(Array.from({ length: spec.producers }, (_, i) => LeanNatsConnection.connect({ ...address, name: `bench-lean-publisher-${i}` })));
  const subjects = Array.from({ length: spec.partitions }, (_, p) => subjectName(spec.topic, p));
  const inbox = createInbox();
  const signal = new CompletionSignal();
  const errors: string[] = [];
  let outstanding = 0;
  const sendNsOf = new Map<number, number>();
  let closing = false;
  for (const connection of connections) {
    connection.onFailure((error) => {
      if (!closing && errors.length < 10) errors.push(error.message);
      signal.notify();
    });
    connection.subscribe(`${inbox}.*`, (message: NatsMessage) => {
      const doneNs = nowNs();
      outstanding--;
      // An ack is {"stream":..,"seq":..}; a failure is {"error":{..}} (or a 503 status without payload).
      if (message.payload.length > 2 && message.payload[2] === 0x73 /* s of "stream" */) {
        meter.add(1, spec.recordBytes, doneNs);
        if (latency !== null) {
          const index = Number(message.subject.slice(inbox.length + 1));
          const startNs = options.startNsOf === null ? sendNsOf.get(index) : options.startNsOf(index);
          sendNsOf.delete(index);
          if (startNs !== undefined) latency.record(startNs, doneNs);
        }
      } else if (errors.length < 10) {
        errors.push(message.payload.length > 0 ? message.payload.toString() : (message.headers?.toString().split('\r\n')[0] ?? 'empty ack'));
      }
      signal.notify();
    });
  }
  await Promise.all(connections.map((connection) => connection.roundTrip()));
  return {
    signal,
    errors,
    outstanding: () => outstanding,
    send(from, to) {
      const connection = connections[from % connections.length];
      if (connection.error !== null) return;
      if (latency !== null && options.startNsOf === null) {
        const sendNs = nowNs();
        for (let i = from; i < to; i++) sendNsOf.set(i, sendNs);
      }
      for (let i = from; i < to; i++) connection.publish(subjects[i % subjects.length], `${inbox}.${i}`, options.payloadOf(i));
      outstanding += to - from;
    },
    close: async () => {
      closing = true;
      for (const connection of connections) connection.close();
    },
  };
}

function publisherFor(client: JetStreamClientKind, deployment: NatsDeployment, options: PublisherOptions): Promise<Publisher> {
  return client === 'npm' ? npmPublisher(deployment, options) : leanPublisher(deployment, options);
}

/** Publishes `spec.records` records to the streams of `spec.topic` (created beforehand) and measures acks. */
export async function produceToJetStream(deployment: NatsDeployment, client: JetStreamClientKind, spec: WorkloadSpec, run: RunLabel): Promise<RunResult> {
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.records) : null);
  const latency = new LatencyRecorder(spec.ratePerSecond !== null);
  const payload = makePayload(spec.recordBytes);
  const window = client === 'npm' ? spec.natsWindow : spec.natsLeanWindow;
  let schedule: FixedRateSchedule | null = null;
  const publisher = await publisherFor(client, deployment, { spec, meter, latency, startNsOf: spec.ratePerSecond === null ? null : (i) => schedule!.intendedNs(i), payloadOf: () => payload });
  let sent = 0;
  try {
    const startNs = nowNs();
    meter.start(startNs);
    const deadlineNs = startNs + spec.maxSeconds * 1e9;
    if (spec.ratePerSecond === null) {
      sent = await driveAtMaxRate(publisher, { records: spec.records, deadlineNs, chunkRecords: client === 'npm' ? NPM_CHUNK_RECORDS : LEAN_CHUNK_RECORDS, windowRecords: windowWithinBytes(window * spec.producers, spec.recordBytes, client === 'npm' ? NPM_CHUNK_RECORDS : LEAN_CHUNK_RECORDS) });
    } else {
      schedule = new FixedRateSchedule(spec.ratePerSecond, startNs, spec.records);
      sent = await driveAtFixedRate(publisher, { schedule, deadlineNs, outstandingMax: FIXED_RATE_OUTSTANDING_MAX });
    }
  } finally {
    await publisher.close();
  }
  const throughput = meter.finish(meter.lastCompletionNs);
  if (throughput.records === 0 && publisher.errors.length > 0) throw new Error(`JetStream publish failed: ${publisher.errors[0]}`);
  return { ...throughput, system: label(client), kind: 'produce', label: run.label, durability: NATS_DURABILITY, parameters: parametersOf(spec, deployment, client, window), latency: latency.count > 0 ? latency.summary() : null, missingRecords: sent - throughput.records, firstError: publisher.errors[0] ?? null };
}

/** Receives pushed (or pulled) messages and hands each payload to `onData`; `stop` ends it. */
interface Subscription {
  stop(): Promise<void>;
}

/** An npm pull consumer (ack none) per stream, reading from the start. */
async function npmPullSubscription(connection: NatsConnection, manager: JetStreamManager, spec: WorkloadSpec, onData: (payload: Uint8Array) => void): Promise<Subscription> {
  const js = connection.jetstream();
  const running: ConsumerMessages[] = [];
  for (let partition = 0; partition < spec.partitions; partition++) {
    const stream = streamName(spec.topic, partition);
    await manager.consumers.add(stream, { durable_name: 'bench-pull', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
    const consumer = await js.consumers.get(stream, 'bench-pull');
    running.push(await consumer.consume({ max_messages: PULL_BATCH_MESSAGES, callback: (message) => onData(message.data) }));
  }
  return { stop: async () => { for (const messages of running) await messages.close(); } };
}

/** An npm ordered push consumer per stream (flow control and heartbeats, ack none). */
async function npmPushSubscription(connection: NatsConnection, spec: WorkloadSpec, onData: (payload: Uint8Array) => void): Promise<Subscription> {
  const js = connection.jetstream();
  const subscriptions: JetStreamSubscription[] = [];
  for (let partition = 0; partition < spec.partitions; partition++) {
    const options = consumerOpts().orderedConsumer().deliverAll().callback((error, message) => {
      if (error === null && message !== null) onData(message.data);
    });
    subscriptions.push(await js.subscribe(subjectName(spec.topic, partition), options));
  }
  return { stop: async () => { for (const subscription of subscriptions) subscription.unsubscribe(); } };
}

/**
 * A push consumer per stream (ack none, flow control) delivering to an inbox that a lean
 * connection of its own subscribed to first; flow-control requests and stall notices are answered
 * here. One connection per consumer: the server bounds what it buffers per connection (64 MiB), and
 * several flow-controlled consumers on one connection can together exceed it, after which the
 * server drops messages (a slow consumer) and the consumers stall.
 */
async function leanPushSubscription(deployment: NatsDeployment, manager: JetStreamManager, spec: WorkloadSpec, onData: (payload: Uint8Array) => void): Promise<Subscription> {
  const address = parseNatsUrl(deployment.servers.split(',')[0]);
  const connections = await Promise.all(Array.from({ length: spec.partitions }, (_, partition) => LeanNatsConnection.connect({ ...address, name: `bench-lean-consumer-${partition}` })));
  const inbox = createInbox();
  connections.forEach((lean, partition) => {
    // An exact subject per consumer: nats-server 2.9 does not deliver a push consumer's messages
    // to a wildcard subscription that matches its deliver subject.
    lean.subscribe(`${inbox}.${partition}`, (message: NatsMessage) => {
      if (message.headers !== null && message.headers.toString('latin1', 0, STATUS_HEADER_PREFIX.length) === STATUS_HEADER_PREFIX) {
        if (message.reply !== null) lean.publish(message.reply, null, new Uint8Array(0));
        const stalled = /Nats-Consumer-Stalled:\s*(\S+)/.exec(message.headers.toString('latin1'));
        if (stalled !== null) lean.publish(stalled[1], null, new Uint8Array(0));
        return;
      }
      onData(message.payload);
    });
  });
  await Promise.all(connections.map((lean) => lean.roundTrip()));
  for (let partition = 0; partition < spec.partitions; partition++) {
    await manager.consumers.add(streamName(spec.topic, partition), { durable_name: 'bench-push', deliver_subject: `${inbox}.${partition}`, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, flow_control: true, idle_heartbeat: nanos(5_000) });
  }
  return {
    stop: async () => {
      for (let partition = 0; partition < spec.partitions; partition++) await manager.consumers.delete(streamName(spec.topic, partition), 'bench-push').catch(() => undefined);
      for (const lean of connections) lean.close();
    },
  };
}

/** Reads `spec.records` records of the streams of `spec.topic` from their start. */
export async function consumeFromJetStream(deployment: NatsDeployment, client: JetStreamClientKind, spec: WorkloadSpec, run: RunLabel): Promise<RunResult> {
  const connection = await connectNats(deployment, 'bench-consumer');
  const manager = await connection.jetstreamManager();
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.records) : null);
  const done = new CompletionSignal();
  meter.start();
  const onData = (payload: Uint8Array) => {
    meter.add(1, payload.length);
    if (meter.records >= spec.records) done.notify();
  };
  const subscription = client === 'npm' ? await npmPullSubscription(connection, manager, spec, onData) : await leanPushSubscription(deployment, manager, spec, onData);
  const deadlineMs = Date.now() + spec.maxSeconds * 1000;
  let lastRecords = -1;
  let idleSinceMs = Date.now();
  while (meter.records < spec.records && Date.now() < deadlineMs) {
    await done.wait(250);
    if (meter.records !== lastRecords) {
      lastRecords = meter.records;
      idleSinceMs = Date.now();
    } else if (Date.now() - idleSinceMs > ARRIVAL_TIMEOUT_MS) break;
  }
  const throughput = meter.finish(meter.lastCompletionNs);
  await subscription.stop();
  await connection.close();
  return { ...throughput, system: label(client), kind: 'consume', label: run.label, durability: NATS_DURABILITY, parameters: parametersOf(spec, deployment, client, 0), latency: null, missingRecords: Math.max(0, spec.records - throughput.records), firstError: null };
}

/**
 * Publishes at `spec.ratePerSecond` while a push consumer reads the same new streams; latency from
 * each record's intended send time (stamped in its payload) to its arrival. npm: js.publish and an
 * ordered push consumer; lean: raw PUBs and a raw push consumer.
 */
export async function endToEndWithJetStream(deployment: NatsDeployment, client: JetStreamClientKind, spec: WorkloadSpec, run: RunLabel): Promise<RunResult> {
  if (spec.ratePerSecond === null) throw new Error('an end-to-end run needs a fixed rate');
  const connection = await connectNats(deployment, 'bench-e2e-consumer');
  const manager = await connection.jetstreamManager();
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.records) : null);
  const acked = new ThroughputMeter(null);
  const latency = new LatencyRecorder(true);
  const arrived = new CompletionSignal();
  const onData = (payload: Uint8Array) => {
    const atNs = nowNs();
    latency.record(readStamp(payload), atNs);
    meter.add(1, payload.length, atNs);
    arrived.notify();
  };
  const subscription = client === 'npm' ? await npmPushSubscription(connection, spec, onData) : await leanPushSubscription(deployment, manager, spec, onData);
  const template = makePayload(spec.recordBytes);
  let schedule: FixedRateSchedule | null = null;
  const publisher = await publisherFor(client, deployment, { spec, meter: acked, latency: null, startNsOf: null, payloadOf: (i) => stampedPayload(template, schedule!.intendedNs(i)) });
  let sent = 0;
  try {
    const startNs = nowNs();
    meter.start(startNs);
    acked.start(startNs);
    schedule = new FixedRateSchedule(spec.ratePerSecond, startNs, spec.records);
    sent = await driveAtFixedRate(publisher, { schedule, deadlineNs: startNs + spec.maxSeconds * 1e9, outstandingMax: FIXED_RATE_OUTSTANDING_MAX });
    const waitUntilMs = Date.now() + ARRIVAL_TIMEOUT_MS;
    while (meter.records < acked.records && Date.now() < waitUntilMs) await arrived.wait(100);
  } finally {
    await publisher.close();
    await subscription.stop();
    await connection.close();
  }
  if (acked.records === 0 && publisher.errors.length > 0) throw new Error(`JetStream publish failed: ${publisher.errors[0]}`);
  const throughput = meter.finish(meter.lastCompletionNs);
  return { ...throughput, system: label(client), kind: 'e2e', label: run.label, durability: NATS_DURABILITY, parameters: parametersOf(spec, deployment, client, 0), latency: latency.summary(), missingRecords: sent - throughput.records, firstError: publisher.errors[0] ?? null };
}
