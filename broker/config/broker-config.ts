/**
 * The broker's settings: one table (BROKER_SETTINGS) names each setting, its flag, its
 * environment variable, its default, its unit and its allowed range. loadBrokerConfig resolves
 * them from, highest precedence first: flags, BROOK_* environment variables, a JSON config file,
 * defaults. Every limit is finite; there is no "0 means unlimited".
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** The resolved configuration of one broker process. */
export interface BrokerConfig {
  /** This broker's id in the cluster. */
  readonly nodeId: number;
  /** Directory for partition logs and the metadata database. */
  readonly dataDir: string;
  /** host:port the gRPC server binds; port 0 picks a free port. */
  readonly listen: string;
  /** host:port clients are told to connect to (Metadata); empty = the bound listen address. */
  readonly advertisedListener: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly topicPartitionsMax: number;
  readonly topicsMax: number;

  readonly segmentBytes: number;
  readonly segmentMs: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly retentionCheckIntervalMs: number;
  readonly flushPolicy: 'always' | 'interval' | 'never';
  readonly flushIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly messageTimestampType: 'CreateTime' | 'LogAppendTime';
  readonly indexIntervalBytes: number;
  readonly tailCacheBytes: number;
  /** After an unclean shutdown, replicas check their whole logs at most this fast (bytes/s, broker-wide). */
  readonly scrubBytesPerSecond: number;
  readonly openFilesMax: number;

  readonly requestMaxBytes: number;
  readonly responseMaxBytes: number;
  readonly inFlightRequestsPerConnectionMax: number;
  readonly inFlightProduceBytesMax: number;
  readonly produceTimeoutMsDefault: number;
  readonly produceTimeoutMsMax: number;
  readonly fetchMaxBytes: number;
  readonly fetchInFlightBytesMax: number;
  readonly fetchPartitionMaxBytesDefault: number;
  readonly fetchMaxWaitMsMax: number;
  readonly subscribeStreamsMax: number;
  readonly flowControlWindowBytes: number;
  readonly shutdownTimeoutMs: number;

  /** Whether the Prometheus endpoint runs. */
  readonly metricsEnabled: boolean;
  /** host:port of the Prometheus endpoint (GET /metrics); port 0 picks a free port. */
  readonly metricsListen: string;
  /** Most distinct topic label values on the produce counters; later topics count as "other". */
  readonly metricsTopicLabelsMax: number;
  /** Most partitions the per-partition gauges report. */
  readonly metricsPartitionsMax: number;

  /** cluster.peers as given: `id@host:port,...`; empty = a single broker. */
  readonly clusterPeers: string;
  /** Bind address of the internal listener; empty = this broker's entry in cluster.peers. */
  readonly internalListen: string;
  /** controller.voters as given: `1,2,3`; empty = the lowest min(5, n) broker ids. */
  readonly controllerVoters: string;
  /** This broker's rack or zone; empty when not configured. */
  readonly rack: string;
  /** The cluster's name, checked in the peer handshake. */
  readonly clusterId: string;
  readonly raftTickMs: number;
  readonly raftElectionTicks: number;
  readonly raftHeartbeatTicks: number;
  readonly brokerHeartbeatIntervalMs: number;
  readonly brokerLeaseMs: number;
  readonly leaderBalanceIntervalMs: number;
  /** Replicas of a topic created without a replication factor; 0 = min(3, brokers). */
  readonly defaultReplicationFactor: number;

  /** Partitions of the offsets topic (consumer groups); 0 = 16 in a cluster, 4 on a single broker. */
  readonly groupsOffsetsPartitions: number;
  /** How long the first join phase of an empty group waits for more members. */
  readonly groupsInitialRebalanceDelayMs: number;
  /** Range of session timeouts a group member may ask for. */
  readonly groupsMinSessionTimeoutMs: number;
  readonly groupsMaxSessionTimeoutMs: number;

  /** cluster.peers parsed: broker id -> internal host:port. Empty on a single broker. */
  readonly peers: ReadonlyMap<number, string>;
  /** The controller voters, ascending: controller.voters, or its default. Empty on a single broker. */
  readonly controllerVoterIds: readonly number[];
}

/** True when cluster.peers names brokers: the broker runs as a member of a replicated cluster. */
export function isClusterMode(config: BrokerConfig): boolean {
  return config.peers.size > 0;
}

/** Controller voters when controller.voters is empty: the lowest ids, at most this many. */
export const CONTROLLER_VOTERS_DEFAULT_MAX = 5;
/** Largest cluster.peers list (brokers in one cluster). */
export const CLUSTER_BROKERS_MAX = 1000;

type Kind = 'integer' | 'boolean' | 'string';

/** One row of the settings table. */
export interface BrokerSetting {
  /** Field of BrokerConfig. */
  readonly key: keyof BrokerConfig;
  /** Name in the config file and in docs, e.g. "data.dir". */
  readonly name: string;
  /** Command-line flag, e.g. "--data-dir". */
  readonly flag: string;
  /** Environment variable, e.g. "BROOK_DATA_DIR". */
  readonly env: string;
  readonly kind: Kind;
  readonly defaultValue: number | boolean | string;
  /** For integers: the allowed range, inclusive. */
  readonly min?: number;
  readonly max?: number;
  /** For strings with a fixed set of values. */
  readonly choices?: readonly string[];
  /** For strings: whether the empty string is a value (it then has a documented meaning). */
  readonly emptyAllowed?: boolean;
  readonly description: string;
}

function setting(
  key: keyof BrokerConfig,
  name: string,
  kind: Kind,
  defaultValue: number | boolean | string,
  description: string,
  range: { min?: number; max?: number; choices?: readonly string[]; emptyAllowed?: boolean; flag?: string } = {},
): BrokerSetting {
  const dashed = name.replaceAll('.', '-');
  const env = `BROOK_${name.replaceAll('.', '_').toUpperCase()}`;
  return Object.freeze({ key, name, env, kind, defaultValue, description, ...range, flag: range.flag ?? `--${dashed}` });
}

const INT32_MAX = 0x7fffffff;

/** Every broker setting, in the order they are printed at start and documented in README.md. */
export const BROKER_SETTINGS: readonly BrokerSetting[] = Object.freeze([
  setting('nodeId', 'node.id', 'integer', 1, 'This broker\'s id in the cluster.', { min: 0, max: INT32_MAX }),
  setting('dataDir', 'data.dir', 'string', './data', 'Directory for partition logs and the metadata database.'),
  setting('listen', 'listen', 'string', '127.0.0.1:9092', 'host:port the gRPC server binds (port 0 picks a free port).'),
  setting('advertisedListener', 'advertised.listener', 'string', '', 'host:port clients are told to connect to (in Metadata); empty means the bound listen address. Set it when listening on 0.0.0.0.', {
    emptyAllowed: true,
  }),
  setting('logLevel', 'log.level', 'string', 'info', 'pino log level.', {
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  }),
  setting('autoCreateTopics', 'auto.create.topics', 'boolean', true, 'Create unknown topics on first produce (and on Metadata when asked).'),
  setting('defaultPartitions', 'num.partitions', 'integer', 3, 'Partitions of an auto-created topic, and of a created one that asks for 0.', { min: 1, max: 10_000 }),
  setting('topicPartitionsMax', 'topic.partitions.max', 'integer', 10_000, 'Most partitions one topic may have.', { min: 1, max: 100_000 }),
  setting('topicsMax', 'topics.max', 'integer', 10_000, 'Most topics the broker holds.', { min: 1, max: 1_000_000 }),
  setting('segmentBytes', 'segment.bytes', 'integer', 1 * GIB, 'Default topic segment.bytes: a segment rolls before growing past this.', { min: 1 * KIB, max: INT32_MAX }),
  setting('segmentMs', 'segment.ms', 'integer', 7 * DAY_MS, 'Default topic segment.ms: a segment rolls when its first append is this old.', { min: 1, max: Number.MAX_SAFE_INTEGER }),
  setting('retentionMs', 'retention.ms', 'integer', 7 * DAY_MS, 'Default topic retention.ms: segments older than this are deleted.', { min: 1, max: Number.MAX_SAFE_INTEGER }),
  setting('retentionBytes', 'retention.bytes', 'integer', Number.MAX_SAFE_INTEGER, 'Default topic retention.bytes per partition.', { min: 1, max: Number.MAX_SAFE_INTEGER }),
  setting('retentionCheckIntervalMs', 'retention.check.interval.ms', 'integer', 5 * MINUTE_MS, 'How often retention runs over all partitions.', { min: 10, max: DAY_MS }),
  setting('flushPolicy', 'flush.policy', 'string', 'always', 'Default topic flush.policy: always (fdatasync per append group), interval, never.', {
    choices: ['always', 'interval', 'never'],
  }),
  setting('flushIntervalMs', 'flush.interval.ms', 'integer', 1 * SECOND_MS, 'Default topic flush.interval.ms, under flush.policy=interval.', { min: 1, max: DAY_MS }),
  setting('maxMessageBytes', 'max.message.bytes', 'integer', 1 * MIB, 'Default topic max.message.bytes: the largest record batch accepted.', { min: 61, max: 256 * MIB }),
  setting('messageTimestampType', 'message.timestamp.type', 'string', 'CreateTime', 'Default topic message.timestamp.type.', {
    choices: ['CreateTime', 'LogAppendTime'],
  }),
  setting('indexIntervalBytes', 'index.interval.bytes', 'integer', 4 * KIB, 'Default topic index.interval.bytes: offset index density.', { min: 1, max: INT32_MAX }),
  setting('tailCacheBytes', 'tail.cache.bytes', 'integer', 1 * MIB, 'Recently appended bytes each partition keeps in memory for tail reads.', { min: 0, max: 1 * GIB }),
  setting('openFilesMax', 'open.files.max', 'integer', 1024, 'Most segment files held open for reading, across partitions.', { min: 16, max: 1_000_000 }),
  setting('scrubBytesPerSecond', 'storage.scrub.bytes.per.second', 'integer', 128 * MIB, 'After an unclean shutdown, replicas read their whole logs back and check every CRC in the background, at most this fast across the broker; damage found is fetched again from the other replicas.', { min: 1 * MIB, max: 64 * GIB }),
  setting('requestMaxBytes', 'request.max.bytes', 'integer', 64 * MIB, 'Largest gRPC request accepted; larger ones fail with RESOURCE_EXHAUSTED.', { min: 1 * KIB, max: 1 * GIB }),
  setting('responseMaxBytes', 'response.max.bytes', 'integer', 128 * MIB, 'Largest gRPC response the broker sends.', { min: 1 * KIB, max: 1 * GIB }),
  setting('inFlightRequestsPerConnectionMax', 'in.flight.requests.per.connection.max', 'integer', 256, 'Concurrent calls per client connection (HTTP/2 max concurrent streams); more wait in the client.', { min: 1, max: 100_000 }),
  setting('inFlightProduceBytesMax', 'in.flight.produce.bytes.max', 'integer', 256 * MIB, 'Produce payload bytes being appended at once, across connections; beyond it Produce fails with RESOURCE_EXHAUSTED.', { min: 1 * MIB, max: 16 * GIB }),
  setting('produceTimeoutMsDefault', 'produce.timeout.ms', 'integer', 30 * SECOND_MS, 'Produce timeout when a request gives 0.', { min: 1, max: 10 * MINUTE_MS }),
  setting('produceTimeoutMsMax', 'produce.timeout.max.ms', 'integer', 5 * MINUTE_MS, 'Largest produce timeout honoured.', { min: 1, max: DAY_MS }),
  setting('fetchMaxBytes', 'fetch.max.bytes', 'integer', 50 * MIB, 'Largest data of one Fetch response (also the default when a request gives 0).', { min: 1 * KIB, max: 1 * GIB }),
  setting('fetchInFlightBytesMax', 'fetch.in.flight.bytes.max', 'integer', 256 * MIB, 'Fetch response bytes being read and assembled at once, across calls; under load fetches get smaller answers (or, when none is left, an empty one at max_wait_ms).', { min: 1 * MIB, max: 16 * GIB }),
  setting('fetchPartitionMaxBytesDefault', 'fetch.partition.max.bytes', 'integer', 1 * MIB, 'Per-partition fetch size when a request gives 0.', { min: 1 * KIB, max: 1 * GIB }),
  setting('fetchMaxWaitMsMax', 'fetch.max.wait.ms', 'integer', 30 * SECOND_MS, 'Longest long-poll wait honoured.', { min: 0, max: 10 * MINUTE_MS }),
  setting('subscribeStreamsMax', 'subscribe.streams.max', 'integer', 1024, 'Subscribe calls open at once, across connections.', { min: 1, max: 1_000_000 }),
  setting('flowControlWindowBytes', 'flow.control.window.bytes', 'integer', 16 * MIB, 'HTTP/2 receive window the server grants per connection and per stream.', { min: 64 * KIB, max: INT32_MAX }),
  setting('shutdownTimeoutMs', 'shutdown.timeout.ms', 'integer', 10 * SECOND_MS, 'How long shutdown waits for in-flight calls before cancelling them.', { min: 0, max: 10 * MINUTE_MS }),
  setting('metricsEnabled', 'metrics.enabled', 'boolean', true, 'Serve Prometheus metrics on metrics.listen. When the address cannot be bound the broker logs a warning and runs without them.'),
  setting('metricsListen', 'metrics.listen', 'string', '127.0.0.1:9644', 'host:port of the Prometheus endpoint, GET /metrics (port 0 picks a free port).'),
  setting('metricsTopicLabelsMax', 'metrics.topic.labels.max', 'integer', 1000, 'Most distinct topic labels on the produce counters; later topics count under topic="other".', { min: 1, max: 100_000 }),
  setting('metricsPartitionsMax', 'metrics.partitions.max', 'integer', 10_000, 'Most partitions the per-partition gauges report (the rest are counted in brook_partition_metrics_omitted).', { min: 1, max: 1_000_000 }),
  setting('clusterPeers', 'cluster.peers', 'string', '', 'Internal addresses of every broker of the cluster, this one included: id@host:port,... Empty: a single broker.', {
    emptyAllowed: true,
    flag: '--peers',
  }),
  setting('internalListen', 'internal.listen', 'string', '', "host:port the internal (broker-to-broker) listener binds; empty means this broker's entry in cluster.peers.", { emptyAllowed: true }),
  setting('controllerVoters', 'controller.voters', 'string', '', 'Broker ids that vote in the controller group, e.g. 1,2,3; empty means the lowest min(5, brokers) ids of cluster.peers.', { emptyAllowed: true }),
  setting('rack', 'rack', 'string', '', "This broker's rack or zone; replicas of a partition are spread over racks.", { emptyAllowed: true }),
  setting('clusterId', 'cluster.id', 'string', 'brook', 'Name of the cluster; brokers refuse peers that give another.'),
  setting('raftTickMs', 'raft.tick.ms', 'integer', 50, 'One Raft tick (every group of the broker ticks together).', { min: 1, max: 10 * SECOND_MS }),
  setting('raftElectionTicks', 'raft.election.ticks', 'integer', 12, 'Election timeout in ticks (randomized between t and 2t).', { min: 2, max: 10_000 }),
  setting('raftHeartbeatTicks', 'raft.heartbeat.ticks', 'integer', 3, 'Leader heartbeat interval in ticks; below raft.election.ticks.', { min: 1, max: 10_000 }),
  setting('brokerHeartbeatIntervalMs', 'broker.heartbeat.interval.ms', 'integer', 500, 'How often a broker heartbeats to the controller.', { min: 10, max: MINUTE_MS }),
  setting('brokerLeaseMs', 'broker.lease.ms', 'integer', 9 * SECOND_MS, 'A broker not heard from for this long is fenced (shown unavailable).', { min: 20, max: 10 * MINUTE_MS }),
  setting('leaderBalanceIntervalMs', 'leader.balance.interval.ms', 'integer', 10 * SECOND_MS, 'How often a leader checks whether its partition\'s preferred replica should lead instead.', { min: 100, max: DAY_MS }),
  setting('defaultReplicationFactor', 'default.replication.factor', 'integer', 0, 'Replicas of a topic created without a replication factor (auto-created ones too); 0 means min(3, brokers).', { min: 0, max: 16 }),
  setting('groupsOffsetsPartitions', 'groups.offsets.partitions', 'integer', 0, 'Partitions of the consumer-group offsets topic, fixed when it is first created; 0 means 16 in a cluster, 4 on a single broker.', { min: 0, max: 1000 }),
  setting('groupsInitialRebalanceDelayMs', 'groups.initial.rebalance.delay.ms', 'integer', 1 * SECOND_MS, 'How long the first rebalance of an empty consumer group waits for more members to join.', { min: 0, max: 5 * MINUTE_MS }),
  setting('groupsMinSessionTimeoutMs', 'groups.min.session.timeout.ms', 'integer', 1 * SECOND_MS, 'Shortest session timeout a consumer-group member may ask for.', { min: 100, max: 30 * MINUTE_MS }),
  setting('groupsMaxSessionTimeoutMs', 'groups.max.session.timeout.ms', 'integer', 5 * MINUTE_MS, 'Longest session timeout a consumer-group member may ask for.', { min: 100, max: 30 * MINUTE_MS }),
]);

/** A setting's value was not accepted; the message names the setting, its source and the rule. */
export class BrokerConfigError extends Error {
  override readonly name = 'BrokerConfigError';
}

/** Where loadBrokerConfig reads settings from. */
export interface BrokerConfigSources {
  /**
   * Command-line values, keyed by setting name ("data.dir"), flag without dashes ("data-dir")
   * or BrokerConfig field ("dataDir"). Undefined values are ignored. `config` names a config file.
   */
  readonly flags?: { readonly [name: string]: string | number | boolean | undefined };
  /** Environment, normally process.env; BROOK_* variables are read, BROOK_CONFIG names a file. */
  readonly env?: { readonly [name: string]: string | undefined };
  /** Path of a JSON config file whose keys are setting names ("data.dir"); optional. */
  readonly configFile?: string;
}

export type SettingSource = 'flag' | 'env' | 'file' | 'default';

export interface LoadedBrokerConfig {
  readonly config: BrokerConfig;
  /** Where each setting's value came from, for the start-up log. */
  readonly sources: Readonly<Record<string, SettingSource>>;
  /** The config file read, if any. */
  readonly configFile: string | undefined;
}

/** Resolves the broker configuration; throws BrokerConfigError for any bad value or unknown key. */
export function loadBrokerConfig(sources: BrokerConfigSources = {}): BrokerConfig {
  return loadBrokerConfigWithSources(sources).config;
}

/** As loadBrokerConfig, also reporting where each value came from. */
export function loadBrokerConfigWithSources(sources: BrokerConfigSources = {}): LoadedBrokerConfig {
  const flags = normalizeFlags(sources.flags ?? {});
  const env = sources.env ?? {};
  const configFile = flagString(flags.get('config')) ?? sources.configFile ?? env.BROOK_CONFIG;
  const file = configFile === undefined ? new Map<string, unknown>() : readConfigFile(configFile);
  const values: Record<string, unknown> = {};
  const origin: Record<string, SettingSource> = {};
  for (const item of BROKER_SETTINGS) {
    let raw: unknown;
    let source: SettingSource;
    if (flags.has(item.name)) {
      raw = flags.get(item.name);
      source = 'flag';
    } else if (env[item.env] !== undefined && env[item.env] !== '') {
      raw = env[item.env];
      source = 'env';
    } else if (file.has(item.name)) {
      raw = file.get(item.name);
      source = 'file';
    } else {
      raw = item.defaultValue;
      source = 'default';
    }
    values[item.key] = parseValue(item, raw, source);
    origin[item.name] = source;
  }
  const cluster = parseClusterSettings(values as unknown as ClusterSettingValues);
  values.peers = cluster.peers;
  values.controllerVoterIds = cluster.controllerVoterIds;
  const config = Object.freeze(values) as unknown as BrokerConfig;
  checkListen(config.listen);
  if (config.advertisedListener !== '') checkListen(config.advertisedListener);
  checkListen(config.metricsListen);
  if (config.defaultPartitions > config.topicPartitionsMax) {
    throw new BrokerConfigError(`num.partitions (${config.defaultPartitions}) exceeds topic.partitions.max (${config.topicPartitionsMax})`);
  }
  if (config.fetchMaxBytes > config.responseMaxBytes) {
    throw new BrokerConfigError(`fetch.max.bytes (${config.fetchMaxBytes}) exceeds response.max.bytes (${config.responseMaxBytes}): a full fetch could not be sent`);
  }
  if (config.maxMessageBytes > config.requestMaxBytes) {
    throw new BrokerConfigError(`max.message.bytes (${config.maxMessageBytes}) exceeds request.max.bytes (${config.requestMaxBytes}): the largest batch could not be sent`);
  }
  if (config.maxMessageBytes > config.segmentBytes) {
    throw new BrokerConfigError(`max.message.bytes (${config.maxMessageBytes}) exceeds segment.bytes (${config.segmentBytes})`);
  }
  return { config, sources: Object.freeze(origin), configFile: configFile === undefined ? undefined : resolve(configFile) };
}

type ClusterSettingValues = Pick<
  BrokerConfig,
  'nodeId' | 'clusterPeers' | 'internalListen' | 'controllerVoters' | 'clusterId' | 'raftElectionTicks' | 'raftHeartbeatTicks' | 'brokerHeartbeatIntervalMs' | 'brokerLeaseMs' | 'defaultReplicationFactor'
>;

/** Checks the cluster settings against each other and parses cluster.peers and controller.voters. */
function parseClusterSettings(values: ClusterSettingValues): Pick<BrokerConfig, 'peers' | 'controllerVoterIds'> {
  if (values.raftHeartbeatTicks >= values.raftElectionTicks) {
    throw new BrokerConfigError(`raft.heartbeat.ticks (${values.raftHeartbeatTicks}) must be below raft.election.ticks (${values.raftElectionTicks}), or followers start elections between heartbeats`);
  }
  if (values.brokerHeartbeatIntervalMs >= values.brokerLeaseMs) {
    throw new BrokerConfigError(`broker.heartbeat.interval.ms (${values.brokerHeartbeatIntervalMs}) must be below broker.lease.ms (${values.brokerLeaseMs}), or every broker is fenced between heartbeats`);
  }
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(values.clusterId)) {
    throw new BrokerConfigError(`cluster.id must be 1 to 64 letters, digits, ".", "_" or "-", got ${JSON.stringify(values.clusterId)}`);
  }
  if (values.internalListen !== '') checkListen(values.internalListen);
  const peers = parsePeers(values.clusterPeers);
  if (peers.size === 0) {
    if (values.internalListen !== '' || values.controllerVoters !== '') {
      throw new BrokerConfigError('internal.listen and controller.voters need cluster.peers (a single broker has neither)');
    }
    return { peers, controllerVoterIds: [] };
  }
  if (!peers.has(values.nodeId)) {
    throw new BrokerConfigError(`cluster.peers must list this broker (node.id ${values.nodeId}); it lists ${[...peers.keys()].join(', ')}`);
  }
  if (values.defaultReplicationFactor > peers.size) {
    throw new BrokerConfigError(`default.replication.factor (${values.defaultReplicationFactor}) exceeds the ${peers.size} brokers of cluster.peers`);
  }
  return { peers, controllerVoterIds: parseVoters(values.controllerVoters, peers) };
}

/**
 * Parses cluster.peers, `id@host:port,...`, into id -> host:port (in the order given). Throws
 * BrokerConfigError for a malformed entry, an id below 1 (0 means "no broker" in leader fields),
 * a repeated id or a repeated address. Empty: no peers.
 */
export function parsePeers(list: string): ReadonlyMap<number, string> {
  const peers = new Map<number, string>();
  if (list.trim() === '') return peers;
  const entries = list.split(',').map((entry) => entry.trim());
  if (entries.length > CLUSTER_BROKERS_MAX) throw new BrokerConfigError(`cluster.peers lists ${entries.length} brokers; at most ${CLUSTER_BROKERS_MAX}`);
  const addresses = new Set<string>();
  for (const entry of entries) {
    const match = /^(\d{1,10})@(.+)$/.exec(entry);
    const id = match === null ? NaN : Number(match[1]);
    if (match === null || !Number.isSafeInteger(id) || id < 1 || id > INT32_MAX) {
      throw new BrokerConfigError(`cluster.peers entry ${JSON.stringify(entry)} must be id@host:port with an id in [1, ${INT32_MAX}]`);
    }
    let address;
    try {
      address = parseListen(match[2]);
    } catch {
      throw new BrokerConfigError(`cluster.peers entry ${JSON.stringify(entry)}: ${JSON.stringify(match[2])} is not host:port`);
    }
    if (address.port === 0) throw new BrokerConfigError(`cluster.peers entry ${JSON.stringify(entry)}: port 0 cannot be reached by peers`);
    if (peers.has(id)) throw new BrokerConfigError(`cluster.peers names broker ${id} twice`);
    if (addresses.has(match[2])) throw new BrokerConfigError(`cluster.peers gives ${match[2]} to two brokers`);
    addresses.add(match[2]);
    peers.set(id, match[2]);
  }
  return peers;
}

/** controller.voters parsed and checked against the peers, ascending; empty = the default. */
function parseVoters(list: string, peers: ReadonlyMap<number, string>): readonly number[] {
  const ids = [...peers.keys()].sort((a, b) => a - b);
  if (list.trim() === '') return Object.freeze(ids.slice(0, CONTROLLER_VOTERS_DEFAULT_MAX));
  const voters: number[] = [];
  for (const text of list.split(',').map((entry) => entry.trim())) {
    const id = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(id)) throw new BrokerConfigError(`controller.voters must be broker ids separated by commas, got ${JSON.stringify(list)}`);
    if (!peers.has(id)) throw new BrokerConfigError(`controller.voters names broker ${id}, which cluster.peers does not list`);
    if (voters.includes(id)) throw new BrokerConfigError(`controller.voters names broker ${id} twice`);
    voters.push(id);
  }
  return Object.freeze(voters.sort((a, b) => a - b));
}

/** Splits "host:port" (or "[v6]:port"); throws BrokerConfigError when malformed. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65535) throw new BrokerConfigError(`listen must be host:port, got ${JSON.stringify(listen)}`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

function checkListen(listen: string): void {
  parseListen(listen);
}

function normalizeFlags(flags: BrokerConfigSources['flags'] & object): Map<string, unknown> {
  const byAlias = new Map<string, string>();
  for (const item of BROKER_SETTINGS) {
    byAlias.set(item.name, item.name);
    byAlias.set(item.flag.slice(2), item.name);
    byAlias.set(item.name.replaceAll('.', '-'), item.name);
    byAlias.set(item.key, item.name);
  }
  const out = new Map<string, unknown>();
  for (const [alias, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    if (alias === 'config') {
      out.set('config', value);
      continue;
    }
    const name = byAlias.get(alias);
    if (name === undefined) throw new BrokerConfigError(`unknown broker setting ${JSON.stringify(alias)} (flag)`);
    out.set(name, value);
  }
  return out;
}

function flagString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function readConfigFile(path: string): Map<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new BrokerConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BrokerConfigError(`config file ${path} must hold a JSON object of setting names to values`);
  }
  const known = new Set(BROKER_SETTINGS.map((item) => item.name));
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(parsed)) {
    if (!known.has(name)) throw new BrokerConfigError(`unknown broker setting ${JSON.stringify(name)} in ${path}`);
    out.set(name, value);
  }
  return out;
}

function parseValue(item: BrokerSetting, raw: unknown, source: SettingSource): number | boolean | string {
  const where = `${item.name} (from ${source})`;
  if (item.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new BrokerConfigError(`${where} must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (item.kind === 'integer') {
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    const min = item.min ?? Number.MIN_SAFE_INTEGER;
    const max = item.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new BrokerConfigError(`${where} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    }
    return value;
  }
  if (typeof raw === 'string' && raw === '' && item.emptyAllowed === true) return raw;
  if (typeof raw !== 'string' || raw === '') throw new BrokerConfigError(`${where} must be a non-empty string, got ${JSON.stringify(raw)}`);
  if (item.choices !== undefined && !item.choices.includes(raw)) {
    throw new BrokerConfigError(`${where} must be one of ${item.choices.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}
