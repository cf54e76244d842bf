/**
 * Brook as the benchmark runs it: one broker (R1) or a three-broker cluster on loopback (R3), each
 * broker a `brook broker start` child process with a temporary data dir, stopped at the end.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Admin, type NewTopicSpec } from '../../client/admin.js';
import { freePorts, ProcessStartError, type ProcessGroup, type StartedProcess } from './process-group.js';

/** The CLI of the same build as this module (<out>/bench/compare -> <out>/cli/main.js). */
export const BROOK_CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const BROKER_START_TIMEOUT_MS = 30_000;
/** How long a new cluster may take to accept a replicated topic (elections, registration). */
const CLUSTER_READY_TIMEOUT_MS = 60_000;
const CLUSTER_BROKERS = 3;

/** Brook's durability settings, as topic configs, and how a result row names them. */
export interface BrookDurability {
  readonly name: string;
  readonly configs: Readonly<Record<string, string>>;
}

/** Brook's default: every append group is fdatasync'ed before it is acknowledged. */
export const FSYNC_BEFORE_ACK: BrookDurability = { name: 'fsync before ack', configs: { 'flush.policy': 'always' } };

/**
 * Relaxed to match the peer: acknowledged once written to the page cache (and, at R3, replicated
 * to a majority), synced every 2 minutes as Debian's nats-server 2.9 does (its sync interval).
 */
export const SYNC_EVERY_TWO_MINUTES: BrookDurability = { name: 'ack before fsync (sync every 2 min)', configs: { 'flush.policy': 'interval', 'flush.interval.ms': '120000' } };

/** The cluster could not be started or used; the message says why (e.g. the build has no cluster mode). */
export class ClusterUnavailableError extends Error {
  override readonly name = 'ClusterUnavailableError';
}

export interface BrookDeployment {
  /** Bootstrap addresses, comma-separated. */
  readonly brokers: string;
  readonly replication: number;
  createTopic(spec: NewTopicSpec): Promise<void>;
  stop(): Promise<void>;
}

export interface BrookStartOptions {
  readonly group: ProcessGroup;
  /** Profile each broker with node --cpu-prof into this dir. */
  readonly cpuProfileDir?: string;
  /** Extra `brook broker start` flags. */
  readonly extraArgs?: readonly string[];
}

function brokerArgs(options: BrookStartOptions, flags: readonly string[]): string[] {
  const nodeFlags = options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir];
  return [...nodeFlags, BROOK_CLI, 'broker', 'start', '--log-level', 'warn', '--metrics-listen', '127.0.0.1:0', ...flags, ...(options.extraArgs ?? [])];
}

const READY_PATTERN = /brook broker listening on (\S+)/;

/** How long a new topic may take to be created and to elect its partitions' leaders. */
const LEADERS_TIMEOUT_MS = 60_000;
const LEADERS_POLL_MS = 200;

/**
 * Creates the topic (retrying while the cluster refuses it) and waits until every partition has a leader, so a measurement starts with a
 * topic that can take writes (a replicated partition elects its leader after creation; a run that
 * started at once would time the election, and the producer's backoff while it lasts).
 */
export async function createTopicWith(brokers: string, spec: NewTopicSpec): Promise<void> {
  const admin = new Admin({ brokers });
  await admin.connect();
  try {
    const deadlineMs = Date.now() + LEADERS_TIMEOUT_MS;
    // A cluster refuses a replicated topic while a broker is fenced (a missed heartbeat on a busy
    // machine): retry until it is back, within the deadline.
    for (;;) {
      try {
        await admin.createTopics({ topics: [spec] });
        break;
      } catch (error) {
        if (Date.now() > deadlineMs) throw error;
        await new Promise((resolve) => setTimeout(resolve, LEADERS_POLL_MS * 5));
      }
    }
    for (;;) {
      const [description] = await admin.describeTopics({ topics: [spec.topic] }).catch(() => []);
      const partitions = description?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((partition) => partition.leader >= 0)) return;
      if (Date.now() > deadlineMs) throw new Error(`topic ${spec.topic}: not every partition has a leader after ${LEADERS_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, LEADERS_POLL_MS));
    }
  } finally {
    await admin.disconnect();
  }
}

/** One broker on a free port with a fresh data dir. */
export async function startBrookBroker(options: BrookStartOptions): Promise<BrookDeployment> {
  const dataDir = options.group.makeTempDir('brook-bench-r1-');
  const broker = await options.group.start({
    name: 'brook broker',
    command: process.execPath,
    args: brokerArgs(options, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]),
    readyPattern: READY_PATTERN,
    startTimeoutMs: BROKER_START_TIMEOUT_MS,
  });
  const brokers = broker.ready[1];
  return { brokers, replication: 1, createTopic: (spec) => createTopicWith(brokers, { replicationFactor: 1, ...spec }), stop: () => broker.stop() };
}

/**
 * Three brokers forming one cluster (`--peers`), each with its own data dir, client port and
 * internal port. Resolves once the cluster accepts a topic of replication factor 3; throws
 * ClusterUnavailableError when the build has no cluster mode or the cluster does not form.
 */
export async function startBrookCluster(options: BrookStartOptions): Promise<BrookDeployment> {
  const ports = await freePorts(CLUSTER_BROKERS * 2);
  const clientPorts = ports.slice(0, CLUSTER_BROKERS);
  const internalPorts = ports.slice(CLUSTER_BROKERS);
  const peers = internalPorts.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  const root = options.group.makeTempDir('brook-bench-r3-');
  let started: StartedProcess[];
  try {
    started = await Promise.all(clientPorts.map((port, i) => options.group.start({
      name: `brook broker ${i + 1}`,
      command: process.execPath,
      args: brokerArgs(options, [
        '--node-id', String(i + 1),
        '--data-dir', join(root, `broker-${i + 1}`),
        '--listen', `127.0.0.1:${port}`,
        '--internal-listen', `127.0.0.1:${internalPorts[i]}`,
        '--peers', peers,
      ]),
      readyPattern: READY_PATTERN,
      startTimeoutMs: BROKER_START_TIMEOUT_MS,
    })));
  } catch (error) {
    if (error instanceof ProcessStartError && /unknown option '--(peers|internal-listen)'/.test(error.output)) {
      throw new ClusterUnavailableError('cluster not available: this build of `brook broker start` has no --peers (cluster mode is not built yet)');
    }
    throw new ClusterUnavailableError(`cluster not available: a broker did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const brokers = clientPorts.map((port) => `127.0.0.1:${port}`).join(',');
  const deployment: BrookDeployment = {
    brokers,
    replication: CLUSTER_BROKERS,
    createTopic: (spec) => createTopicWith(brokers, { replicationFactor: CLUSTER_BROKERS, ...spec }),
    stop: async () => {
      await Promise.all(started.map((broker) => broker.stop()));
    },
  };
  await waitForReplicatedTopic(deployment);
  return deployment;
}

/** Creates (and keeps) a small R3 topic, retrying until the cluster takes it. */
async function waitForReplicatedTopic(deployment: BrookDeployment): Promise<void> {
  const deadlineMs = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadlineMs) {
    try {
      await deployment.createTopic({ topic: 'bench-cluster-ready', numPartitions: 1 });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  await deployment.stop();
  throw new ClusterUnavailableError(`cluster not available: no replicated topic could be created within ${CLUSTER_READY_TIMEOUT_MS} ms (${lastError instanceof Error ? lastError.message : String(lastError)})`);
}
