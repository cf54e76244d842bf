/**
 * `brook bench compare` (npm run bench:compare): the workloads W1-W5 for Brook and NATS JetStream
 * in one run, one table, one JSON list, charts.
 *
 *   W1 produce R1, 100-byte records, acks=all (records/s)
 *   W2 produce R3, 1 KiB records, acks=all (records/s and MB/s)
 *   W3 consume R3, 1 KiB records (MB/s)
 *   W4 end-to-end latency at 5,000 records/s, R3, 100-byte records (p50, p99, p99.9)
 *   W5 produce R1 with 1 MiB batches (MB/s), against a bare gRPC unary call of 1 MiB
 *
 * Brook runs twice per write workload: with its default durability (fsync before ack) and relaxed
 * to the peer's (ack before fsync, synced every 2 minutes), each row naming both sides' durability.
 * Every process (brokers, nats-servers, the gRPC server) is started here on loopback with temporary
 * dirs and stopped at the end, also on failure.
 */
import { join } from 'node:path';
import { errorText, formatCompareTable, formatRunTable, ratioOf, writeJsonFile, type CompareRow, type RunResult } from './bench-result.js';
import { latencyChartOption, throughputChartOption, writeChart } from './bench-charts.js';
import { ClusterUnavailableError, FSYNC_BEFORE_ACK, startBrookBroker, startBrookCluster, SYNC_EVERY_TWO_MINUTES, type BrookDeployment, type BrookDurability } from './brook-deployment.js';
import { consumeFromBrook, endToEndWithBrook, produceToBrook } from './brook-workloads.js';
import { measureGrpcCeiling } from './grpc-ceiling.js';
import { consumeFromJetStream, createStreams, endToEndWithJetStream, produceToJetStream, type JetStreamClientKind } from './jetstream-workloads.js';
import { ensureNatsServer, NATS_DURABILITY, startNatsCluster, startNatsServer, type NatsDeployment } from './nats-deployment.js';
import { ProcessGroup } from './process-group.js';
import { uniqueTopic, WORKLOAD_DEFAULTS, type WorkloadSpec } from './workload-spec.js';

const KIB = 1024;
const MIB = 1024 * KIB;
export const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface CompareOptions {
  /** Which workloads to run (W3 needs W2's data: it runs W2's produce too). */
  readonly only: ReadonlySet<WorkloadName>;
  /** Scales every record count (1 = the default run of about five minutes; 0.05 for a smoke run). */
  readonly scale: number;
  /** Longest any one measured run lasts. */
  readonly maxSeconds: number;
  readonly partitions: number;
  readonly outDir: string;
  readonly jsonPath: string | undefined;
  readonly progress: boolean;
  readonly brokerCpuProfileDir: string | undefined;
  readonly log: (line: string) => void;
}

export interface CompareOutcome {
  readonly rows: CompareRow[];
  readonly runs: RunResult[];
  readonly table: string;
}

/** Default record counts of the full run; each run also stops at maxSeconds. */
const RECORDS = { w1: 2_000_000, warmUp: 300_000, w2: 400_000, w4RatePerSecond: 5_000, w4Seconds: 8, w5: 400_000, ceilingCalls: 400 };
const W5_BATCH_BYTES = 1 * MIB;
const W5_IN_FLIGHT = 4;

/** What the phases measured, by workload and side ('brook-fsync', 'brook-relaxed', 'npm', 'lean', 'ceiling'). */
export interface Measured {
  w1: Map<string, RunResult>;
  w2: Map<string, RunResult>;
  w3: Map<string, RunResult>;
  w4: Map<string, RunResult>;
  w5: Map<string, RunResult>;
  /** Why a phase measured nothing (or not everything), by phase: see PHASES. */
  notes: Map<string, string>;
}

/** The phases of a run; a failing phase is noted and the run goes on with the next. */
export const PHASES = { brookR1: 'brook-r1', grpc: 'grpc', natsR1: 'nats-r1', brookR3: 'brook-r3', natsR3: 'nats-r3' } as const;

export const BROOK_FSYNC = 'brook-fsync';
export const BROOK_RELAXED = 'brook-relaxed';
export const PEER_NPM = 'npm';
export const PEER_LEAN = 'lean';
export const CEILING = 'ceiling';

function durabilityKey(durability: BrookDurability): string {
  return durability === FSYNC_BEFORE_ACK ? BROOK_FSYNC : BROOK_RELAXED;
}

export async function runCompare(options: CompareOptions): Promise<CompareOutcome> {
  const group = new ProcessGroup();
  const measured: Measured = { w1: new Map(), w2: new Map(), w3: new Map(), w4: new Map(), w5: new Map(), notes: new Map() };
  const base: WorkloadSpec = { ...WORKLOAD_DEFAULTS, partitions: options.partitions, maxSeconds: options.maxSeconds };
  const count = (n: number) => Math.max(1, Math.round(n * options.scale));
  const run = (label: string, durability: string) => ({ label, durability, progress: options.progress });
  const wants = (name: WorkloadName) => options.only.has(name);
  // Fail before measuring anything when the peer cannot be had.
  ensureNatsServer(options.log);
  const phase = async (name: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (error) {
      const message = error instanceof ClusterUnavailableError ? error.message : `${name} failed: ${errorText(error)}`;
      options.log(message);
      measured.notes.set(name, message);
      await group.stopAll();
    }
  };
  try {
    if (wants('W1') || wants('W5')) await phase(PHASES.brookR1, () => runSingleBrokerPhase(options, group, base, count, run, measured));
    if (wants('W5')) await phase(PHASES.grpc, () => runCeilingPhase(options, group, base, count, measured));
    if (wants('W1')) await phase(PHASES.natsR1, () => runSingleServerPhase(options, group, base, count, run, measured));
    if (wants('W2') || wants('W3') || wants('W4')) {
      await phase(PHASES.brookR3, () => runClusterPhase(options, group, base, count, run, measured));
      await phase(PHASES.natsR3, () => runNatsClusterPhase(options, group, base, count, run, measured));
    }
  } finally {
    await group.close();
  }
  const rows = compareRows(options.only, measured);
  const runs = [...measured.w1.values(), ...measured.w2.values(), ...measured.w3.values(), ...measured.w4.values(), ...measured.w5.values()];
  writeCharts(options, measured);
  writeJsonFile(join(options.outDir, 'runs.json'), runs);
  if (options.jsonPath !== undefined) writeJsonFile(options.jsonPath, rows);
  const table = formatCompareTable(rows);
  options.log(`\nruns:\n${formatRunTable(runs)}\n`);
  return { rows, runs, table };
}

type Counter = (n: number) => number;
type Labeler = (label: string, durability: string) => { label: string; durability: string; progress: boolean };

async function runSingleBrokerPhase(options: CompareOptions, group: ProcessGroup, base: WorkloadSpec, count: Counter, run: Labeler, measured: Measured): Promise<void> {
  options.log('R1: one Brook broker');
  const brook = await startBrookBroker({ group, cpuProfileDir: options.brokerCpuProfileDir });
  try {
    const w1: WorkloadSpec = { ...base, records: count(RECORDS.w1), recordBytes: 100, acks: 'all' };
    // Warm-up: JIT on both sides, the codec pool, the first segment files. Not measured.
    const warmUp = { ...w1, topic: uniqueTopic('warm-up'), records: count(RECORDS.warmUp) };
    await brook.createTopic({ topic: warmUp.topic, numPartitions: base.partitions });
    await produceToBrook(brook.brokers, warmUp, { label: 'warm-up', durability: '', progress: false });
    for (const durability of [FSYNC_BEFORE_ACK, SYNC_EVERY_TWO_MINUTES]) {
      if (options.only.has('W1')) {
        const spec = { ...w1, topic: uniqueTopic('w1') };
        await brook.createTopic({ topic: spec.topic, numPartitions: base.partitions, configs: durability.configs });
        measured.w1.set(durabilityKey(durability), await produceToBrook(brook.brokers, spec, run(`W1 Brook (${durability.name})`, durability.name)));
      }
      if (options.only.has('W5')) {
        const spec: WorkloadSpec = { ...base, topic: uniqueTopic('w5'), records: count(RECORDS.w5), recordBytes: KIB, batchBytes: W5_BATCH_BYTES, lingerMs: 5, partitions: W5_IN_FLIGHT };
        await brook.createTopic({ topic: spec.topic, numPartitions: spec.partitions, configs: { ...durability.configs, 'max.message.bytes': String(2 * W5_BATCH_BYTES) } });
        measured.w5.set(durabilityKey(durability), await produceToBrook(brook.brokers, spec, run(`W5 Brook 1 MiB batches (${durability.name})`, durability.name)));
      }
    }
  } finally {
    await brook.stop();
  }
}

async function runCeilingPhase(options: CompareOptions, group: ProcessGroup, base: WorkloadSpec, count: Counter, measured: Measured): Promise<void> {
  measured.w5.set(CEILING, await measureGrpcCeiling(group, { requestBytes: W5_BATCH_BYTES, calls: count(RECORDS.ceilingCalls), concurrency: W5_IN_FLIGHT, maxSeconds: base.maxSeconds, windowBytes: 16 * MIB }, { label: 'W5 bare gRPC unary 1 MiB', progress: options.progress }));
}

async function runSingleServerPhase(options: CompareOptions, group: ProcessGroup, base: WorkloadSpec, count: Counter, run: Labeler, measured: Measured): Promise<void> {
  if (!options.only.has('W1')) return;
  options.log('R1: one nats-server (JetStream, file storage)');
  const nats = await startNatsServer({ group, log: options.log });
  try {
    for (const client of ['npm', 'lean'] as JetStreamClientKind[]) {
      const spec: WorkloadSpec = { ...base, topic: uniqueTopic(`w1${client}`), records: count(RECORDS.w1), recordBytes: 100 };
      await createStreams(nats, spec);
      measured.w1.set(client, await produceToJetStream(nats, client, spec, run(`W1 JetStream ${client}`, NATS_DURABILITY)));
    }
  } finally {
    await nats.stop();
  }
}

async function runClusterPhase(options: CompareOptions, group: ProcessGroup, base: WorkloadSpec, count: Counter, run: Labeler, measured: Measured): Promise<void> {
  options.log('R3: three Brook brokers');
  const brook: BrookDeployment = await startBrookCluster({ group, cpuProfileDir: options.brokerCpuProfileDir });
  try {
    const w2: WorkloadSpec = { ...base, replication: 3, records: count(RECORDS.w2), recordBytes: KIB };
    let consumeTopic: { topic: string; records: number } | null = null;
    for (const durability of [FSYNC_BEFORE_ACK, SYNC_EVERY_TWO_MINUTES]) {
      if (options.only.has('W2') || (options.only.has('W3') && consumeTopic === null)) {
        const spec = { ...w2, topic: uniqueTopic('w2') };
        await brook.createTopic({ topic: spec.topic, numPartitions: base.partitions, configs: durability.configs });
        const result = await produceToBrook(brook.brokers, spec, run(`W2 Brook R3 (${durability.name})`, durability.name));
        measured.w2.set(durabilityKey(durability), result);
        consumeTopic ??= { topic: spec.topic, records: result.records };
      }
      if (options.only.has('W4')) {
        const spec: WorkloadSpec = { ...base, replication: 3, topic: uniqueTopic('w4'), recordBytes: 100, ratePerSecond: RECORDS.w4RatePerSecond, records: Math.round(RECORDS.w4RatePerSecond * RECORDS.w4Seconds * Math.min(1, Math.max(options.scale, 0.25))), lingerMs: 0 };
        await brook.createTopic({ topic: spec.topic, numPartitions: base.partitions, configs: durability.configs });
        measured.w4.set(durabilityKey(durability), await endToEndWithBrook(brook.brokers, spec, run(`W4 Brook R3 e2e (${durability.name})`, durability.name)));
      }
    }
    if (options.only.has('W3') && consumeTopic !== null) {
      const spec = { ...w2, topic: consumeTopic.topic, records: consumeTopic.records };
      measured.w3.set(BROOK_FSYNC, await consumeFromBrook(brook.brokers, spec, run('W3 Brook R3 consume', 'read')));
    }
  } finally {
    await brook.stop();
  }
}

async function runNatsClusterPhase(options: CompareOptions, group: ProcessGroup, base: WorkloadSpec, count: Counter, run: Labeler, measured: Measured): Promise<void> {
  options.log('R3: three nats-servers (JetStream cluster, file storage)');
  const nats: NatsDeployment = await startNatsCluster({ group, log: options.log });
  try {
    const w2: WorkloadSpec = { ...base, replication: 3, records: count(RECORDS.w2), recordBytes: KIB };
    let consumeTopic: { topic: string; records: number } | null = null;
    for (const client of ['npm', 'lean'] as JetStreamClientKind[]) {
      if (options.only.has('W2') || options.only.has('W3')) {
        const spec = { ...w2, topic: uniqueTopic(`w2${client}`) };
        await createStreams(nats, spec);
        const result = await produceToJetStream(nats, client, spec, run(`W2 JetStream R3 ${client}`, NATS_DURABILITY));
        measured.w2.set(client, result);
        if (consumeTopic === null || result.records > consumeTopic.records) consumeTopic = { topic: spec.topic, records: result.records };
      }
    }
    if (options.only.has('W3') && consumeTopic !== null) {
      for (const client of ['npm', 'lean'] as JetStreamClientKind[]) {
        const spec = { ...w2, topic: consumeTopic.topic, records: consumeTopic.records };
        measured.w3.set(client, await consumeFromJetStream(nats, client, spec, run(`W3 JetStream R3 consume ${client === 'npm' ? 'npm pull' : 'lean push'}`, 'read')));
      }
    }
    if (options.only.has('W4')) {
      for (const client of ['npm', 'lean'] as JetStreamClientKind[]) {
        const spec: WorkloadSpec = { ...base, replication: 3, topic: uniqueTopic(`w4${client}`), recordBytes: 100, ratePerSecond: RECORDS.w4RatePerSecond, records: Math.round(RECORDS.w4RatePerSecond * RECORDS.w4Seconds * Math.min(1, Math.max(options.scale, 0.25))) };
        await createStreams(nats, spec);
        measured.w4.set(client, await endToEndWithJetStream(nats, client, spec, run(`W4 JetStream R3 e2e ${client === 'npm' ? 'npm (ordered push)' : 'lean (push)'}`, NATS_DURABILITY)));
      }
    }
  } finally {
    await nats.stop();
  }
}

/** The table's rows (and the JSON list): one per workload, unit and Brook durability. */
export function compareRows(only: ReadonlySet<WorkloadName>, m: Measured): CompareRow[] {
  const rows: CompareRow[] = [];
  const replicated = (workload: string) => /^W[234]/.test(workload);
  const row = (workload: string, unit: string, brook: RunResult | undefined, peer: RunResult | undefined, peerLean: RunResult | undefined, pick: (r: RunResult) => number | null, brookDurability: string, peerDurability: string, note = '') => {
    const b = brook === undefined ? null : pick(brook);
    const p = peer === undefined ? null : pick(peer);
    const l = peerLean === undefined ? null : pick(peerLean);
    const why: string[] = note === '' ? [] : [note];
    if (b === null) why.push(m.notes.get(replicated(workload) ? PHASES.brookR3 : PHASES.brookR1) ?? '');
    if (p === null || (l === null && !workload.startsWith('W5'))) why.push(m.notes.get(workload.startsWith('W5') ? PHASES.grpc : replicated(workload) ? PHASES.natsR3 : PHASES.natsR1) ?? '');
    rows.push({ workload, unit, brook: b, peer: p, peerLean: l, ratio: ratioOf(b, p), ratioLean: ratioOf(b, l), brookDurability, peerDurability, note: why.filter((text) => text !== '').join('; ') });
  };
  const durabilities: Array<[string, BrookDurability]> = [[BROOK_FSYNC, FSYNC_BEFORE_ACK], [BROOK_RELAXED, SYNC_EVERY_TWO_MINUTES]];
  if (only.has('W1')) {
    for (const [key, durability] of durabilities) row('W1 produce R1 100 B acks=all', 'records/s', m.w1.get(key), m.w1.get(PEER_NPM), m.w1.get(PEER_LEAN), (r) => r.recordsPerSecond, durability.name, NATS_DURABILITY);
  }
  if (only.has('W2')) {
    for (const [key, durability] of durabilities) row('W2 produce R3 1 KiB acks=all', 'records/s', m.w2.get(key), m.w2.get(PEER_NPM), m.w2.get(PEER_LEAN), (r) => r.recordsPerSecond, durability.name, NATS_DURABILITY);
    for (const [key, durability] of durabilities) row('W2 produce R3 1 KiB acks=all', 'MB/s', m.w2.get(key), m.w2.get(PEER_NPM), m.w2.get(PEER_LEAN), (r) => r.megabytesPerSecond, durability.name, NATS_DURABILITY);
  }
  if (only.has('W3')) row('W3 consume R3 1 KiB', 'MB/s', m.w3.get(BROOK_FSYNC), m.w3.get(PEER_NPM), m.w3.get(PEER_LEAN), (r) => r.megabytesPerSecond, 'read (written fsync before ack)', 'read', m.w3.has(BROOK_FSYNC) ? 'peer: npm pull consumer; lean: raw push consumer' : '');
  if (only.has('W4')) {
    for (const [label, pick] of [['p50 ms', (r: RunResult) => r.latency?.p50Ms ?? null], ['p99 ms', (r: RunResult) => r.latency?.p99Ms ?? null], ['p99.9 ms', (r: RunResult) => r.latency?.p999Ms ?? null]] as const) {
      for (const [key, durability] of durabilities) row('W4 e2e R3 100 B at 5,000/s', label, m.w4.get(key), m.w4.get(PEER_NPM), m.w4.get(PEER_LEAN), pick, durability.name, NATS_DURABILITY);
    }
  }
  if (only.has('W5')) {
    for (const [key, durability] of durabilities) row('W5 produce R1 1 MiB batches', 'MB/s', m.w5.get(key), m.w5.get(CEILING), undefined, (r) => r.megabytesPerSecond, durability.name, 'none', `peer: bare gRPC unary 1 MiB, ${W5_IN_FLIGHT} in flight`);
  }
  return rows;
}

function writeCharts(options: CompareOptions, m: Measured): void {
  const dir = options.outDir;
  const charts: string[] = [];
  const add = (files: { png: string }) => charts.push(files.png);
  if (m.w1.size > 0) add(writeChart(dir, 'w1-throughput', throughputChartOption('W1 produce R1, 100 B records, acks=all: records/s over time', [...m.w1.values()], 'records/s')));
  if (m.w2.size > 0) add(writeChart(dir, 'w2-throughput', throughputChartOption('W2 produce R3, 1 KiB records, acks=all: MB/s over time', [...m.w2.values()], 'MB/s')));
  if (m.w3.size > 0) add(writeChart(dir, 'w3-throughput', throughputChartOption('W3 consume R3, 1 KiB records: MB/s over time', [...m.w3.values()], 'MB/s')));
  if (m.w4.size > 0) add(writeChart(dir, 'w4-latency', latencyChartOption('W4 end-to-end latency at 5,000 records/s, R3, 100 B (from intended send time)', [...m.w4.values()])));
  if (m.w5.size > 0) add(writeChart(dir, 'w5-throughput', throughputChartOption('W5 produce R1 with 1 MiB batches vs bare gRPC 1 MiB calls: MB/s over time', [...m.w5.values()], 'MB/s')));
  if (charts.length > 0) options.log(`charts (SVG and PNG) in ${dir}: ${charts.map((path) => path.slice(dir.length + 1).replace(/\.png$/, '')).join(', ')}`);
}
