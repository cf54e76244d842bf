/**
 * The broker's composition root: configuration, then the real disk (data dir, metadata database,
 * partition logs), clock, codec pool and network, wired together. `brook broker start` calls
 * startBroker; `node dist/broker/main.js [--flags]` runs it directly.
 *
 * @example
 * const config = loadBrokerConfig({ flags: { 'data-dir': '/tmp/brook', listen: '127.0.0.1:0' }, env: process.env });
 * const broker = await startBroker(config);
 * console.log(broker.address); // 127.0.0.1:40123
 * await broker.close();
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { BROOK_SERVICE_NAME, loadBrookProto } from '../proto/brook-proto.js';
import { CodecPool } from '../record/codec-pool.js';
import { DEFAULT_DECODE_LIMITS } from '../record/record-batch.js';
import type { ApiContext } from './api/api-context.js';
import { createBrookService, withTolerantDecoding } from './api/brook-service.js';
import { startGrpcServer, type RunningGrpcServer } from './api/grpc-server.js';
import type { TopicService } from './api/topic-service.js';
import {
  BROKER_SETTINGS,
  BrokerConfigError,
  isClusterMode,
  loadBrokerConfigWithSources,
  parseListen,
  type BrokerConfig,
  type SettingSource,
} from './config/broker-config.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { attachMetrics } from './metrics/context-metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { METADATA_FILE_NAME, MetadataStore } from './metadata/metadata-store.js';
import { FileHandleCache } from './storage/file-handle-cache.js';
import { TopicRegistry } from './topics/topic-registry.js';
import { ClusterTopics } from './cluster/cluster-topics.js';
import { cryptoSeededRandom, defaultPartitionRaftConfig } from './cluster/partition-raft-config.js';
import { ReplicaManager } from './cluster/replica-manager.js';
import { Controller } from './controller/controller.js';
import type { Replica } from './partition/replica.js';
import { GroupIdRegistry } from './transport/group-id-registry.js';
import { startGroupsService } from './groups/groups-service.js';
import { PeerTransport } from './transport/peer-transport.js';

export { BROKER_SETTINGS, BrokerConfigError, loadBrokerConfig, loadBrokerConfigWithSources } from './config/broker-config.js';
export type { BrokerConfig, BrokerConfigSources, BrokerSetting } from './config/broker-config.js';

/** A running broker. */
export interface RunningBroker {
  /** host:port clients connect to (the real port when the config asked for port 0). */
  readonly address: string;
  /**
   * Graceful shutdown: stop accepting calls, answer long polls, end subscriptions, let in-flight
   * calls finish (up to shutdown.timeout.ms), flush and close every log, close the database.
   * Idempotent.
   */
  close(): Promise<void>;
}

export interface StartBrokerOptions {
  /** Where each setting came from, for the start-up log. */
  readonly sources?: Readonly<Record<string, SettingSource>>;
  /** A logger to use instead of pino to stdout (tests). */
  readonly logger?: Logger;
  /** Codec worker threads (default: cores - 1, at least 1). */
  readonly codecThreads?: number;
}

const systemClock = { nowMs: () => Date.now() };
const LOCK_FILE_NAME = 'broker.lock';
/** A cluster broker's data dir: the controller's replica and store, the partition replicas, removed replicas. */
const CONTROLLER_DIR_NAME = 'controller';
const REPLICAS_DIR_NAME = 'replicas';
const TRASH_DIR_NAME = 'trash';
/** A single broker's partition logs (broker/topics/topic-registry.ts). */
const SINGLE_TOPICS_DIR_NAME = 'topics';

/** Starts a broker with `config`; resolves once it accepts calls. */
export async function startBroker(config: BrokerConfig, options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const logger = options.logger ?? pino({ name: 'brook', level: config.logLevel });
  logSettings(logger, config, options.sources);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(dataDir);
  const closers: Array<() => Promise<void> | void> = [releaseLock];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        logger.error({ err: error }, 'shutdown step failed');
      }
    }
  };
  try {
    return await assemble(config, { ...config, dataDir }, logger, closers, closeAll, options);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function assemble(
  original: BrokerConfig,
  config: BrokerConfig,
  logger: Logger,
  closers: Array<() => Promise<void> | void>,
  closeAll: () => Promise<void>,
  options: StartBrokerOptions,
): Promise<RunningBroker> {
  checkDataDirMode(config);
  const files = new FileHandleCache(config.openFilesMax);
  closers.push(() => files.close());
  const pool = new CodecPool(options.codecThreads === undefined ? {} : { threads: options.codecThreads });
  closers.push(() => pool.close());
  const shutdown = new AbortController();
  const listen = parseListen(original.listen);
  const advertised = config.advertisedListener === '' ? undefined : parseListen(config.advertisedListener);
  let server: RunningGrpcServer | undefined;
  const advertisedAddress = () => (advertised !== undefined ? advertised : { host: listen.host, port: server?.port ?? listen.port });
  const mode = isClusterMode(config)
    ? await assembleCluster(config, advertisedAddress(), files, logger, closers)
    : await assembleSingle(config, advertisedAddress, files, logger, closers);
  const topics = mode.topics;

  const context: ApiContext = {
    config,
    topics,
    pool,
    decodeLimits: DEFAULT_DECODE_LIMITS,
    clock: systemClock,
    logger: logger.child({ component: 'api' }),
    shutdownSignal: shutdown.signal,
    advertised: advertisedAddress,
  };
  if (config.metricsEnabled) {
    const metrics = new BrokerMetrics({
      topics,
      topicLabelsMax: config.metricsTopicLabelsMax,
      partitionsMax: config.metricsPartitionsMax,
      processMetrics: true,
    });
    attachMetrics(context, metrics);
    const metricsListen = parseListen(config.metricsListen);
    const metricsServer = await startMetricsServer(metrics, metricsListen.host, metricsListen.port, logger.child({ component: 'metrics' }));
    if (metricsServer !== undefined) closers.push(() => metricsServer.close());
  }
  const groups = await startGroupsService({ context, logDeps: { clock: systemClock, files }, logger: logger.child({ component: 'groups' }) });
  closers.push(() => groups.close());
  const proto = loadBrookProto();
  server = await startGrpcServer({
    host: listen.host,
    port: listen.port,
    service: withTolerantDecoding(proto.service),
    implementation: createBrookService(context),
    extraServices: [groups],
    requestMaxBytes: config.requestMaxBytes,
    responseMaxBytes: config.responseMaxBytes,
    streamsPerConnectionMax: config.inFlightRequestsPerConnectionMax,
    flowControlWindowBytes: config.flowControlWindowBytes,
    logger: logger.child({ component: 'grpc' }),
  });
  const running = server;
  closers.push(() => running.shutdown(config.shutdownTimeoutMs));
  closers.push(() => shutdown.abort());
  // Group calls held open (JoinGroup, SyncGroup) are answered before the server waits for in-flight calls.
  closers.push(() => groups.coordinator.close());
  const address = listen.host.includes(':') ? `[${listen.host}]:${server.port}` : `${listen.host}:${server.port}`;
  mode.serving();
  logger.info({ address, service: BROOK_SERVICE_NAME, clusterId: topics.clusterId, nodeId: config.nodeId }, 'broker listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    close: () => {
      closing ??= (async () => {
        logger.info('broker shutting down');
        await closeAll();
        logger.info('broker stopped');
        logger.flush?.();
      })();
      return closing;
    },
  };
}

/** The mode-specific part of a broker: its TopicService, and what starts once clients are served. */
interface AssembledMode {
  readonly topics: TopicService;
  /** Called once the client listener serves. */
  serving(): void;
}

/** A single broker: topics in metadata.sqlite, one Partition per partition, retention on a timer. */
async function assembleSingle(
  config: BrokerConfig,
  advertised: () => { host: string; port: number },
  files: FileHandleCache,
  logger: Logger,
  closers: Array<() => Promise<void> | void>,
): Promise<AssembledMode> {
  const metadata = MetadataStore.open(join(config.dataDir, METADATA_FILE_NAME));
  closers.push(() => metadata.close());
  const topics = new TopicRegistry(config, metadata, { clock: systemClock, files }, logger.child({ component: 'topics' }), advertised);
  await topics.open();
  closers.push(() => topics.close());
  const retentionTimer = startRetention(topics, config.retentionCheckIntervalMs, logger.child({ component: 'retention' }));
  closers.push(() => clearInterval(retentionTimer));
  return { topics, serving: () => undefined };
}

/**
 * A cluster broker, assembled in this order (closed in reverse): the controller's directory, the
 * peer transport (serving the controller's RPCs, delivering Raft messages to the groups, telling
 * the replica manager of lost peers), the controller, the replica manager (its clock ticks every
 * group from now on), the internal listener. The caller then starts the client listener and
 * calls serving(), which makes every applied metadata change reconcile the replicas held here.
 */
async function assembleCluster(
  config: BrokerConfig,
  advertised: { host: string; port: number },
  files: FileHandleCache,
  logger: Logger,
  closers: Array<() => Promise<void> | void>,
): Promise<AssembledMode> {
  const nodeId = config.nodeId;
  const ownInternalAddress = config.peers.get(nodeId);
  assert.ok(ownInternalAddress !== undefined, 'the config check puts this broker in cluster.peers');
  if (advertised.port === 0) {
    throw new BrokerConfigError('a cluster broker needs a fixed client port (listen, or advertised.listener): peers and clients are told it before the listener binds');
  }
  const controllerDir = join(config.dataDir, CONTROLLER_DIR_NAME);
  await mkdir(controllerDir, { recursive: true });
  const groups = new GroupIdRegistry<Replica>();
  let controller: Controller | undefined;
  let replicaManager: ReplicaManager | undefined;
  const otherPeers = new Map([...config.peers].filter(([id]) => id !== nodeId));
  const transport = new PeerTransport({
    selfId: nodeId,
    clusterId: config.clusterId,
    listenAddress: config.internalListen === '' ? ownInternalAddress : config.internalListen,
    peers: otherPeers,
    logger,
    onMessage: (groupId, message) => groups.handlerOf(groupId)?.receive(message),
    onPeerState: (peer, connected) => replicaManager?.onPeerState(peer, connected),
    services: [Controller.service(() => controller)],
  });
  closers.push(() => transport.close());
  const raftConfig = defaultPartitionRaftConfig(cryptoSeededRandom(), { electionTicks: config.raftElectionTicks, heartbeatTicks: config.raftHeartbeatTicks });
  const started = await Controller.start({
    dir: controllerDir,
    nodeId,
    voters: config.controllerVoterIds,
    learners: [...config.peers.keys()].filter((id) => !config.controllerVoterIds.includes(id)),
    self: { host: advertised.host, port: advertised.port, internalAddress: ownInternalAddress, rack: config.rack },
    peerAddresses: config.peers,
    groups,
    transport,
    raftConfig,
    config,
    clock: systemClock,
    files,
    logger,
    leaderships: () => replicaManager?.leaderships() ?? [],
    clusterId: config.clusterId,
    heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
    leaseMs: config.brokerLeaseMs,
    defaultReplicationFactor: config.defaultReplicationFactor,
  });
  controller = started;
  closers.push(() => started.close());
  const replicas = new ReplicaManager({
    nodeId,
    dir: join(config.dataDir, REPLICAS_DIR_NAME),
    trashDir: join(config.dataDir, TRASH_DIR_NAME),
    groups,
    transport,
    raftConfig,
    tickMs: config.raftTickMs,
    leaderBalanceIntervalMs: config.leaderBalanceIntervalMs,
    config,
    clock: systemClock,
    files,
    logger: logger.child({ component: 'replicas' }),
    topics: () => started.store.topics(),
    // Registered and not fenced: a decommissioning broker still serves what it holds.
    brokerLive: (id) => {
      const state = started.brokerState(id);
      return state === 'LIVE' || state === 'DECOMMISSIONING';
    },
    brokerAddress: (id) => {
      const broker = started.store.broker(id);
      return broker === undefined ? undefined : broker.host.includes(':') ? `[${broker.host}]:${broker.port}` : `${broker.host}:${broker.port}`;
    },
    reassignmentDone: (groupId, replicaIds) => started.reassignmentDone(groupId, replicaIds),
    onLeadershipChange: () => started.leadershipChanged(),
  });
  replicaManager = replicas;
  replicas.start();
  closers.push(() => replicas.close());
  const internalAddress = await transport.start();
  logger.info({ internalAddress, controllerVoters: config.controllerVoterIds }, 'internal listener serving');
  const topics = new ClusterTopics({ config, controller: started, replicas, advertised: () => advertised, logger: logger.child({ component: 'topics' }) });
  let unsubscribe: (() => void) | undefined;
  closers.push(() => unsubscribe?.());
  return {
    topics,
    serving: () => {
      unsubscribe = started.onApplied(() => void replicas.reconcile());
      // What the store held before the listener was attached.
      void replicas.reconcile();
    },
  };
}

/**
 * Refuses a data dir written by the other mode: a cluster broker keeps its metadata under
 * controller/ and its partitions under replicas/, a single broker in metadata.sqlite and
 * topics/. Starting one over the other's data would silently serve an empty broker.
 */
function checkDataDirMode(config: BrokerConfig): void {
  const dataDir = config.dataDir;
  if (isClusterMode(config)) {
    for (const name of [METADATA_FILE_NAME, SINGLE_TOPICS_DIR_NAME]) {
      if (existsSync(join(dataDir, name))) {
        throw new BrokerConfigError(`data dir ${dataDir} holds a single broker's data (${name}); a cluster broker (cluster.peers set) cannot use it: start it without --peers, or give the cluster broker an empty data dir`);
      }
    }
    return;
  }
  for (const name of [CONTROLLER_DIR_NAME, REPLICAS_DIR_NAME]) {
    if (existsSync(join(dataDir, name))) {
      throw new BrokerConfigError(`data dir ${dataDir} holds a cluster broker's data (${name}/); a single broker cannot use it: start it with its --peers, or use another data dir`);
    }
  }
}

/** Logs every effective setting, with its source when known. */
function logSettings(logger: Logger, config: BrokerConfig, sources: StartBrokerOptions['sources']): void {
  const settings: Record<string, unknown> = {};
  for (const item of BROKER_SETTINGS) {
    const source = sources?.[item.name];
    settings[item.name] = source === undefined ? config[item.key] : `${String(config[item.key])} (${source})`;
  }
  logger.info({ settings }, 'broker settings');
  if (isClusterMode(config)) {
    logger.info({ nodeId: config.nodeId, peers: Object.fromEntries(config.peers), controllerVoters: config.controllerVoterIds }, 'cluster mode');
  }
}

/** Runs retention over every partition at a fixed interval; one pass at a time. */
function startRetention(topics: TopicService, intervalMs: number, logger: Logger): NodeJS.Timeout {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    const nowMs = systemClock.nowMs();
    const partitions = topics.list().flatMap((topic) => topic.partitions.filter((partition) => partition !== undefined));
    void Promise.allSettled(partitions.map((partition) => partition.log.applyRetention(nowMs)))
      .then((results) => {
        let deleted = 0;
        for (const result of results) {
          if (result.status === 'fulfilled') deleted += result.value.deletedSegments;
          else logger.debug({ err: result.reason }, 'retention skipped a partition');
        }
        if (deleted > 0) logger.info({ deletedSegments: deleted }, 'retention deleted segments');
      })
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return timer;
}

/**
 * Takes the data dir for this process: two brokers on one data dir would corrupt each other's
 * logs. A lock left by a dead process (crash, SIGKILL) is taken over. Returns the release.
 */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => unlinkSync(path);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new BrokerConfigError(`data dir ${dataDir} is in use by process ${owner} (${path})`);
      }
      unlinkSync(path);
    }
  }
  throw new BrokerConfigError(`cannot lock data dir ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/**
 * Parses `--name value`, `--name=value` and bare boolean `--name` / `--no-name` flags into the
 * flags object loadBrokerConfig takes. Throws BrokerConfigError for anything else.
 */
export function parseBrokerArgs(argv: readonly string[]): Record<string, string | boolean> {
  const booleans = new Set(BROKER_SETTINGS.filter((item) => item.kind === 'boolean').map((item) => item.flag.slice(2)));
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new BrokerConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (eq !== -1) flags[name] = arg.slice(eq + 1);
    else if (booleans.has(name)) flags[name] = true;
    else if (name.startsWith('no-') && booleans.has(name.slice(3))) flags[name.slice(3)] = false;
    else if (i + 1 < argv.length) flags[name] = argv[++i];
    else throw new BrokerConfigError(`flag --${name} needs a value`);
  }
  return flags;
}

/** `node broker/main.js [--flags]`: run until SIGINT or SIGTERM, then shut down gracefully. */
async function runFromCommandLine(): Promise<void> {
  let loaded;
  try {
    loaded = loadBrokerConfigWithSources({ flags: parseBrokerArgs(process.argv.slice(2)), env: process.env });
  } catch (error) {
    process.stderr.write(`brook broker: ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  let broker: RunningBroker;
  try {
    broker = await startBroker(loaded.config, { sources: loaded.sources });
  } catch (error) {
    // A refused setting or data dir is the operator's to fix: one line, no stack.
    if (!(error instanceof BrokerConfigError)) throw error;
    process.stderr.write(`brook broker: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`brook broker: second ${signal}, exiting without finishing shutdown\n`);
      process.exit(130);
    }
    broker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`brook broker: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runFromCommandLine().catch((error: unknown) => {
    process.stderr.write(`brook broker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
