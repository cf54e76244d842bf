/**
 * `brook bench produce | consume | e2e`: one workload against one system, with the parameters
 * given, against running servers (--brokers, --nats-url) or servers started for the run (--local).
 * Prints a table, writes JSON (--json) and charts (throughput over time; latency percentiles when
 * measured).
 */
import { join } from 'node:path';
import { formatRunTable, writeJsonFile, type RunResult } from './bench-result.js';
import { latencyChartOption, throughputChartOption, writeChart } from './bench-charts.js';
import { createTopicWith, startBrookBroker, startBrookCluster, type BrookDeployment } from './brook-deployment.js';
import { consumeFromBrook, endToEndWithBrook, produceToBrook } from './brook-workloads.js';
import { consumeFromJetStream, createStreams, endToEndWithJetStream, produceToJetStream } from './jetstream-workloads.js';
import { NATS_DURABILITY, startNatsCluster, startNatsServer, type NatsDeployment } from './nats-deployment.js';
import { ProcessGroup } from './process-group.js';
import type { WorkloadSpec } from './workload-spec.js';

export type SingleKind = 'produce' | 'consume' | 'e2e';
export type BenchTarget = 'brook' | 'jetstream' | 'jetstream-lean';

export interface SingleRunOptions {
  readonly kind: SingleKind;
  readonly target: BenchTarget;
  readonly spec: WorkloadSpec;
  /** Brook bootstrap brokers (when not local). */
  readonly brokers: string;
  /** NATS server URLs (when not local). */
  readonly natsUrl: string;
  /** Start the servers for this run (one, or three when replication > 1) and stop them after. */
  readonly local: boolean;
  /** Topic configs for a Brook topic the run creates (flush.policy, ...). */
  readonly topicConfigs: Readonly<Record<string, string>>;
  /** consume: fill the topic with spec.records records first. */
  readonly prefill: boolean;
  readonly outDir: string;
  readonly charts: boolean;
  readonly jsonPath: string | undefined;
  readonly progress: boolean;
  readonly brokerCpuProfileDir: string | undefined;
  readonly log: (line: string) => void;
}

function brookDurabilityName(configs: Readonly<Record<string, string>>): string {
  const policy = configs['flush.policy'] ?? 'broker default';
  if (policy === 'always') return 'fsync before ack';
  if (policy === 'interval') return `ack before fsync (sync every ${configs['flush.interval.ms'] ?? 'flush.interval.ms'} ms)`;
  if (policy === 'never') return 'ack before fsync (no sync)';
  return `flush.policy: ${policy}`;
}

export async function runSingle(options: SingleRunOptions): Promise<RunResult> {
  const group = new ProcessGroup();
  try {
    const result = options.target === 'brook' ? await runAgainstBrook(options, group) : await runAgainstJetStream(options, group);
    options.log(formatRunTable([result]));
    if (options.jsonPath !== undefined) writeJsonFile(options.jsonPath, result);
    if (options.charts) {
      const name = `${options.target}-${options.kind}`;
      const files = [writeChart(options.outDir, `${name}-throughput`, throughputChartOption(`${result.label}: ${options.kind === 'produce' ? 'acked' : 'received'} records/s`, [result], 'records/s')).png];
      if (result.latency !== null) files.push(writeChart(options.outDir, `${name}-latency`, latencyChartOption(`${result.label}: latency by percentile`, [result])).png);
      writeJsonFile(join(options.outDir, `${name}.json`), result);
      options.log(`charts: ${files.map((file) => file.replace(/\.png$/, '.{svg,png}')).join(', ')}`);
    }
    return result;
  } finally {
    await group.close();
  }
}

async function runAgainstBrook(options: SingleRunOptions, group: ProcessGroup): Promise<RunResult> {
  const { spec } = options;
  let deployment: BrookDeployment | null = null;
  if (options.local) {
    deployment = spec.replication > 1
      ? await startBrookCluster({ group, cpuProfileDir: options.brokerCpuProfileDir })
      : await startBrookBroker({ group, cpuProfileDir: options.brokerCpuProfileDir });
  }
  const brokers = deployment?.brokers ?? options.brokers;
  const durability = brookDurabilityName(options.topicConfigs);
  if (deployment !== null) {
    await deployment.createTopic({ topic: spec.topic, numPartitions: spec.partitions, replicationFactor: spec.replication, configs: { ...options.topicConfigs } });
  } else {
    await createTopicWith(brokers, { topic: spec.topic, numPartitions: spec.partitions, replicationFactor: spec.replication, configs: { ...options.topicConfigs } });
  }
  const label = `Brook ${options.kind} R${spec.replication}`;
  const run = { label, durability, progress: options.progress };
  if (options.kind === 'produce') return produceToBrook(brokers, spec, run);
  if (options.kind === 'e2e') return endToEndWithBrook(brokers, spec, run);
  if (options.prefill) options.log(formatRunTable([await produceToBrook(brokers, { ...spec, ratePerSecond: null }, { label: 'prefill', durability, progress: options.progress })]));
  return consumeFromBrook(brokers, spec, run);
}

async function runAgainstJetStream(options: SingleRunOptions, group: ProcessGroup): Promise<RunResult> {
  const { spec } = options;
  let deployment: NatsDeployment;
  if (options.local) {
    deployment = spec.replication > 1 ? await startNatsCluster({ group, log: options.log }) : await startNatsServer({ group, log: options.log });
  } else {
    deployment = { servers: options.natsUrl, replication: spec.replication, stop: async () => undefined };
  }
  await createStreams(deployment, spec);
  const client = options.target === 'jetstream' ? 'npm' : 'lean';
  const run = { label: `JetStream ${client} ${options.kind} R${spec.replication}`, durability: NATS_DURABILITY, progress: options.progress };
  if (options.kind === 'produce') return produceToJetStream(deployment, client, spec, run);
  if (options.kind === 'e2e') return endToEndWithJetStream(deployment, client, spec, run);
  if (options.prefill) options.log(formatRunTable([await produceToJetStream(deployment, 'lean', { ...spec, ratePerSecond: null }, { label: 'prefill', durability: NATS_DURABILITY, progress: options.progress })]));
  return consumeFromJetStream(deployment, client, spec, run);
}
