/**
 * One chaos run against real broker processes: start a cluster (each broker with its fsync journal
 * and disk-full switch), create an RF=3 topic, run the workload while the nemesis injects faults
 * for the given duration, heal everything, check the cluster serves writes again, then record what
 * every replica holds below the high watermark and read every partition from the start. The
 * history goes to `<outDir>/history.jsonl`, the report to `report.txt` and `report.json`.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../../client/admin.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { Consumer } from '../../consumer/consumer.js';
import { ClusterHarness, waitUntil } from '../fixtures/cluster-harness.js';
import { TestRandom } from '../fixtures/test-random.js';
import { readReplica, replicaDirOf } from '../cluster/replica-files.js';
import { ChaosRecorder } from './chaos-recorder.js';
import { ChaosWorkload } from './chaos-workload.js';
import { prefixHash } from './history.js';
import { Nemesis, type FaultKind } from './nemesis.js';
import { buildReport, formatReportJson, formatReportText, type ChaosReport } from './report.js';

export interface ChaosRunOptions {
  readonly brokers: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly outDir: string;
  readonly kinds: readonly FaultKind[];
  readonly partitions?: number;
  readonly producers?: number;
  readonly consumers?: number;
  /** Members of the consumer group (default 2; 0 leaves groups out). */
  readonly groupMembers?: number;
  readonly sendsPerSecondPerProducer?: number;
  readonly log?: (line: string) => void;
}

export interface ChaosRunResult {
  readonly report: ChaosReport;
  /** Failures outside the history: brokers that crashed or did not restart, no progress after healing. */
  readonly problems: string[];
  readonly text: string;
  readonly passed: boolean;
  readonly historyPath: string;
}

const TOPIC = 'chaos';
/** After healing, the cluster must acknowledge a new write within this long. */
const RECOVERY_TIMEOUT_MS = 45_000;
/** After healing, every replica must hold the same committed prefix within this long. */
const CONVERGENCE_TIMEOUT_MS = 60_000;
const FINAL_READ_TIMEOUT_MS = 90_000;
/** The final read ends this long after its last message (the healed cluster answers fetches at once). */
const FINAL_READ_QUIET_MS = 5_000;

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const log = options.log ?? (() => undefined);
  const partitions = options.partitions ?? 4;
  mkdirSync(options.outDir, { recursive: true });
  const journalOf = (id: number): string => join(options.outDir, `fsync-journal-broker-${id}.txt`);
  const diskFullFlagOf = (id: number): string => join(options.outDir, `disk-full-broker-${id}`);
  const historyPath = join(options.outDir, 'history.jsonl');
  const recorder = new ChaosRecorder(historyPath, options.seed, `${options.brokers} brokers, ${options.durationMs} ms of ${options.kinds.join(',')}`);
  const problems: string[] = [];
  const random = new TestRandom(options.seed);

  const cluster = await ClusterHarness.start({
    brokers: options.brokers,
    // info: the brokers' output (kept in the run directory) is what explains an anomaly.
    logLevel: 'info',
    envOf: (id) => ({ BROOK_TEST_FSYNC_JOURNAL: journalOf(id), BROOK_TEST_FAIL_WRITES_FILE: diskFullFlagOf(id) }),
  });
  let workload: ChaosWorkload | undefined;
  let finalReadDone = false;
  try {
    const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: partitions, replicationFactor: Math.min(3, options.brokers) }] });
    await admin.disconnect();
    await cluster.leadersOf(TOPIC, partitions);
    log(`cluster of ${options.brokers} up in ${cluster.rootDir}; topic ${TOPIC} with ${partitions} partitions`);

    workload = new ChaosWorkload(
      {
        brokers: cluster.bootstrap,
        topic: TOPIC,
        partitions,
        producers: options.producers ?? 3,
        consumers: options.consumers ?? 2,
        inFlightPerProducerMax: 100,
        sendsPerSecondPerProducer: options.sendsPerSecondPerProducer ?? 200,
        groupMembers: options.groupMembers ?? 2,
      },
      recorder,
    );
    workload.start();
    await sleep(2_000);

    const nemesis = new Nemesis({ cluster, random, recorder, kinds: options.kinds, topic: TOPIC, partitions, fsyncJournalOf: journalOf, diskFullFlagOf, log });
    await nemesis.run(Date.now() + options.durationMs);
    await nemesis.healAll();
    const healedAtMs = Date.now();
    problems.push(...nemesis.problems);
    log(`healed; ${recorder.acknowledged} acknowledged so far`);

    const recovered = await waitUntil('an acknowledgement after healing', RECOVERY_TIMEOUT_MS, () => (recorder.lastAcknowledgedAtMs > healedAtMs ? true : undefined), 100).catch(() => false);
    if (!recovered) problems.push(`no write acknowledged within ${RECOVERY_TIMEOUT_MS} ms of healing`);
    await sleep(3_000);
    await workload.stopProducers();
    await workload.stopConsumers();
    // The brokers' data lives under the harness's temporary directory; a run whose directory was
    // removed from outside proves nothing about the brokers.
    if (!existsSync(cluster.rootDir)) problems.push(`the cluster's directory ${cluster.rootDir} was removed during the run (not by the brokers); run with a private TMPDIR`);
    for (const id of cluster.ids()) {
      if (cluster.broker(id).state !== 'running') problems.push(`broker ${id} is ${cluster.broker(id).state} at the end (exits ${cluster.exitCodes(id).join(',')})`);
    }

    const endOffsets = await highWatermarks(cluster.bootstrap, partitions);
    log(`high watermarks ${endOffsets.join(',')}`);
    problems.push(...(await recordReplicaPrefixes(cluster, recorder, endOffsets, Math.min(3, options.brokers))));
    const read = await readEverything(cluster.bootstrap, recorder, endOffsets);
    finalReadDone = true;
    log(`final read: ${read} records`);
  } catch (error) {
    problems.push(`the run failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n${cluster.logs(4_000)}`);
  } finally {
    await workload?.stopProducers().catch(() => undefined);
    await workload?.stopConsumers().catch(() => undefined);
    saveBrokerState(cluster, options.outDir);
    await cluster.close();
  }

  const report = buildReport(recorder.finish(), { seed: options.seed, historyPath, idempotence: false });
  // Without the final read, an acknowledged record the consumers had not reached yet counts as
  // lost although nothing says it is gone: say so next to the count.
  const finalReadNote = finalReadDone ? '' : `  final read: not done (the run failed before it); "lost" counts every acknowledged record not read during the run\n`;
  const passed = report.passed && problems.length === 0;
  const text =
    formatReportText(report) +
    `\nrun\n  brokers ${options.brokers}   duration ${Math.round(options.durationMs / 1000)} s   faults ${options.kinds.join(',')}\n` +
    `  sent ${workload?.sent ?? 0}   reads during the run ${workload?.reads ?? 0}   consumer restarts ${workload?.consumerRestarts ?? 0}\n` +
    `  consumer group: ${options.groupMembers ?? 2} members, ${workload?.commits ?? 0} commits\n` +
    finalReadNote +
    (problems.length === 0 ? '\nproblems: none\n' : `\nproblems (${problems.length}):\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n`) +
    `\nverdict: ${passed ? 'PASS' : 'FAIL'}\n`;
  writeFileSync(join(options.outDir, 'report.txt'), text);
  writeFileSync(join(options.outDir, 'report.json'), formatReportJson({ ...report, passed }).replace(/\n$/, '') + '\n');
  writeFileSync(join(options.outDir, 'problems.json'), JSON.stringify(problems, null, 2) + '\n');
  return { report, problems, text, passed, historyPath };
}

async function highWatermarks(brokers: readonly string[], partitions: number): Promise<number[]> {
  const admin = new Admin({ brokers: [...brokers], retry: { ...DEFAULT_RETRY, retries: 60, maxRetryTimeMs: 60_000 } });
  await admin.connect();
  try {
    const offsets = (await admin.listOffsets(TOPIC, 'latest')).sort((a, b) => a.partition - b.partition).map((entry) => entry.offset);
    if (offsets.length !== partitions) throw new Error(`listOffsets named ${offsets.length} partitions, expected ${partitions}`);
    return offsets;
  } finally {
    await admin.disconnect();
  }
}

interface ReplicaView {
  readonly id: number;
  readonly records?: Array<[number, string]>;
  readonly hash: string;
  readonly logEndOffset: number;
}

function viewOf(cluster: ClusterHarness, id: number, partition: number, endOffset: number): ReplicaView | undefined {
  const dir = replicaDirOf(cluster.broker(id).dataDir, TOPIC, partition);
  if (dir === undefined) return undefined;
  try {
    const content = readReplica(dir, endOffset);
    return { id, records: content.records, hash: prefixHash(content.records), logEndOffset: content.logEndOffset };
  } catch (error) {
    // Bytes that do not even parse (a flipped length, a batch across the high watermark) differ from every sound replica.
    return { id, hash: `unreadable: ${error instanceof Error ? error.message : String(error)}`, logEndOffset: -1 };
  }
}

/**
 * Waits until every replica of each partition holds the same records below the high watermark
 * (followers may still be catching up or cutting a stale suffix), then records each replica's
 * records; after the timeout it records what they hold, and the checker reports the divergence.
 */
async function recordReplicaPrefixes(cluster: ClusterHarness, recorder: ChaosRecorder, endOffsets: readonly number[], replicationFactor: number): Promise<string[]> {
  const problems: string[] = [];
  const deadlineMs = Date.now() + CONVERGENCE_TIMEOUT_MS;
  for (let partition = 0; partition < endOffsets.length; partition++) {
    let views: ReplicaView[];
    for (;;) {
      views = cluster.ids().flatMap((id) => viewOf(cluster, id, partition, endOffsets[partition]) ?? []);
      const same = views.length === replicationFactor && views.every((view) => view.hash === views[0].hash && view.logEndOffset >= endOffsets[partition]);
      if (same || Date.now() >= deadlineMs) break;
      await sleep(250);
    }
    if (views.length !== replicationFactor) {
      problems.push(`${TOPIC}/${partition}: replica directories on brokers [${views.map((view) => view.id).join(',')}], expected ${replicationFactor} replicas`);
    }
    for (const view of views) {
      const base = { type: 'replica-prefix' as const, broker: `broker-${view.id}`, topic: TOPIC, partition, endOffset: endOffsets[partition], timeMs: Date.now() };
      recorder.record(view.records === undefined ? { ...base, hash: view.hash } : { ...base, records: view.records });
    }
  }
  return problems;
}

/** Keeps what explains a run after the cluster is gone: each broker's output and its replica and trash directories. */
function saveBrokerState(cluster: ClusterHarness, outDir: string): void {
  for (const id of cluster.ids()) {
    const dataDir = cluster.broker(id).dataDir;
    const listing = ['replicas', 'trash'].map((sub) => {
      const dir = join(dataDir, sub);
      return `${sub}/: ${existsSync(dir) ? readdirSync(dir).sort().join(' ') : '(none)'}`;
    });
    writeFileSync(join(outDir, `broker-${id}.log`), `${listing.join('\n')}\n\n${cluster.output(id)}`);
  }
}

/** Reads every partition from the earliest offset to its high watermark with a fresh consumer. */
async function readEverything(brokers: readonly string[], recorder: ChaosRecorder, endOffsets: readonly number[]): Promise<number> {
  const consumer = new Consumer({ brokers: [...brokers], clientId: 'final-reader', maxWaitMs: 100, retry: { initialRetryMs: 50, maxRetryMs: 500 } });
  await consumer.connect();
  let read = 0;
  let assigned = false;
  const done = (): boolean => assigned && endOffsets.every((end, partition) => end <= 0 || consumer.position(TOPIC, partition) >= end);
  let disconnecting: Promise<void> | undefined;
  const disconnect = (): Promise<void> => (disconnecting ??= consumer.disconnect());
  // Control batches leave gaps, so the last data record may lie below end - 1: the consumer's
  // position, which moves past control batches too, says when a partition is read to its end.
  // or, when a partition ends in control batches, a quiet spell after the last message.
  let lastMessageAtMs = Date.now();
  const watcher = setInterval(() => {
    if (done() || (assigned && Date.now() - lastMessageAtMs > FINAL_READ_QUIET_MS)) void disconnect();
  }, 200);
  const timer = setTimeout(() => void disconnect(), FINAL_READ_TIMEOUT_MS);
  try {
    await consumer.assign(endOffsets.map((_, partition) => ({ topic: TOPIC, partition, offset: 'earliest' as const })));
    assigned = true;
    if (!done()) {
      for await (const message of consumer) {
        lastMessageAtMs = Date.now();
        if (message.offset >= endOffsets[message.partition]) continue;
        recorder.record({ type: 'read', consumer: 'final-reader', topic: TOPIC, partition: message.partition, offset: message.offset, value: message.value === null ? '' : message.value.toString(), timeMs: Date.now() });
        read++;
      }
    }
  } finally {
    clearInterval(watcher);
    clearTimeout(timer);
    await disconnect();
  }
  return read;
}
