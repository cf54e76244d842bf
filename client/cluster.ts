/**
 * What producer, consumer and admin share: bootstrap from a list of brokers, a metadata cache that
 * refreshes on demand and by age, routing a partition to its leader's connection, and retries.
 */
import { BrokerConnection } from './broker-connection.js';
import { BrokerError, BrookError, ConnectionError, InvalidArgumentError, isNoError } from './errors.js';
import { LeaderRoutedService, type LeaderCache } from './leader-routing.js';
import { DEFAULT_RETRY, retry, type RetryConfig } from './retry.js';
import { loadBrookService, type BrookService, type LeaderHint } from './service.js';

export interface BrokerInfo {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

export interface PartitionInfo {
  readonly partition: number;
  /** Broker id of the leader, or -1 when none is known. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** While a reassignment runs: the replica set it moves to; otherwise empty. */
  readonly targetReplicas?: readonly number[];
  readonly errorCode: string;
}

export interface TopicInfo {
  readonly name: string;
  readonly errorCode: string;
  readonly partitions: readonly PartitionInfo[];
}

export interface ClusterMetadata {
  readonly brokers: readonly BrokerInfo[];
  readonly controllerId: number;
  readonly topics: readonly TopicInfo[];
}

export interface ClusterConfig {
  /** Bootstrap brokers, "host:port". Any one that answers is enough. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Deadline of one request. */
  readonly requestTimeoutMs: number;
  /** Cached metadata older than this is refreshed before use. */
  readonly metadataMaxAgeMs: number;
  readonly retry: RetryConfig;
  /** Whether asking for an unknown topic's metadata creates it (when the broker allows). */
  readonly allowAutoTopicCreation: boolean;
}

/** ClusterConfig with defaults for everything but the brokers. */
export type ClusterOptions = Partial<Omit<ClusterConfig, 'brokers'>> & { brokers: readonly string[] | string };

export const DEFAULT_CLUSTER_CONFIG: Omit<ClusterConfig, 'brokers'> = {
  clientId: 'brook-client',
  requestTimeoutMs: 30_000,
  metadataMaxAgeMs: 300_000,
  retry: DEFAULT_RETRY,
  allowAutoTopicCreation: true,
};

/** Topics tracked per metadata request: a bound on what one refresh asks for. */
export const TRACKED_TOPICS_MAX = 10_000;

export function parseBrokerList(brokers: readonly string[] | string): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : brokers).map((b) => b.trim()).filter((b) => b.length > 0);
  if (list.length === 0) throw new InvalidArgumentError('no brokers given');
  for (const broker of list) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(broker)) {
      throw new InvalidArgumentError(`broker address "${broker}" is not host:port`);
    }
  }
  return list;
}

export class Cluster implements LeaderCache {
  readonly config: ClusterConfig;
  private readonly service: BrookService;
  private readonly connections = new Map<string, BrokerConnection>();
  private readonly bootstrap: string[];
  private brokersById = new Map<number, BrokerInfo>();
  private topics = new Map<string, TopicInfo>();
  /** The error of the last metadata answer for topics that had one (e.g. an invalid name). */
  private readonly topicErrors = new Map<string, string>();
  private readonly trackedTopics = new Set<string>();
  /**
   * Leaders learned from hints, by topic and partition, with their epoch: metadata naming an older
   * epoch (a broker that has not heard of the new leader yet) does not undo them.
   */
  private readonly hintedLeaders = new Map<string, { leader: number; leaderEpoch: number }>();
  private lastRefreshMs = 0;
  private refreshInFlight: Promise<void> | null = null;
  private bootstrapIndex = 0;
  private closed = false;

  constructor(config: ClusterOptions) {
    this.bootstrap = parseBrokerList(config.brokers);
    this.config = { ...DEFAULT_CLUSTER_CONFIG, ...config, brokers: this.bootstrap };
    this.service = new LeaderRoutedService(loadBrookService(), this);
  }

  get wire(): BrookService {
    return this.service;
  }

  /** Fetches metadata from the first bootstrap broker that answers, retrying while none does. */
  async connect(): Promise<void> {
    this.closed = false;
    // A broker that is restarting refuses connections for a moment: retry within the limits.
    await retry(() => this.refreshMetadata(), this.config.retry);
  }

  /** Closes every channel. */
  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  /** A connection to `address` ("host:port"), created on first use and then reused. */
  connectionTo(address: string): BrokerConnection {
    if (this.closed) throw new ConnectionError('the client is closed');
    let connection = this.connections.get(address);
    if (connection === undefined) {
      connection = new BrokerConnection(address, this.service.client);
      this.connections.set(address, connection);
    }
    return connection;
  }

  /** The connection to broker `id` as the metadata knows it. */
  connectionToBroker(id: number): BrokerConnection {
    const broker = this.brokersById.get(id);
    if (broker === undefined) throw new BrokerError('BROKER_NOT_AVAILABLE', `broker ${id} is not in the metadata`);
    return this.connectionTo(`${broker.host}:${broker.port}`);
  }

  /** Some live broker: a known one, else a bootstrap address (round robin over failures). */
  anyConnection(): BrokerConnection {
    const known = [...this.brokersById.values()];
    if (known.length > 0) {
      const broker = known[this.bootstrapIndex++ % known.length];
      return this.connectionTo(`${broker.host}:${broker.port}`);
    }
    return this.connectionTo(this.bootstrap[this.bootstrapIndex++ % this.bootstrap.length]);
  }

  /**
   * Refreshes metadata for the tracked topics plus `topics`. Concurrent callers share one request.
   * Tries every known broker and bootstrap address before failing with a ConnectionError.
   */
  async refreshMetadata(topics: readonly string[] = []): Promise<void> {
    for (const topic of topics) this.track(topic);
    if (this.refreshInFlight !== null) {
      const missing = topics.some((topic) => !this.topics.has(topic));
      await this.refreshInFlight;
      if (!missing || topics.every((topic) => this.topics.has(topic))) return;
    }
    this.refreshInFlight = this.fetchMetadataFromAnyBroker().finally(() => {
      this.refreshInFlight = null;
    });
    await this.refreshInFlight;
  }

  private track(topic: string): void {
    if (this.trackedTopics.has(topic)) return;
    if (this.trackedTopics.size >= TRACKED_TOPICS_MAX) throw new InvalidArgumentError(`more than ${TRACKED_TOPICS_MAX} topics in use`);
    this.trackedTopics.add(topic);
  }

  private async fetchMetadataFromAnyBroker(): Promise<void> {
    const candidates = [
      ...[...this.brokersById.values()].map((broker) => `${broker.host}:${broker.port}`),
      ...this.bootstrap,
    ];
    const addresses = [...new Set(candidates)];
    // Each refresh starts at the next broker: a broker that answers but is cut off from the
    // cluster (it sees no leader, or an old one) must not be the only one ever asked.
    const start = this.bootstrapIndex++;
    let lastError: unknown = undefined;
    for (let i = 0; i < addresses.length; i++) {
      const address = addresses[(start + i) % addresses.length];
      try {
        const metadata = await this.service.metadata(this.connectionTo(address), [...this.trackedTopics], this.config.allowAutoTopicCreation, this.config.requestTimeoutMs);
        this.applyMetadata(metadata);
        return;
      } catch (error) {
        lastError = error;
        if (!(error instanceof BrookError) || !error.retriable) throw error;
      }
    }
    throw new ConnectionError(`no broker answered (${addresses.join(', ')})`, lastError);
  }

  private applyMetadata(metadata: ClusterMetadata): void {
    const hintedBrokers = new Map<number, BrokerInfo>();
    for (const { leader } of this.hintedLeaders.values()) {
      const broker = this.brokersById.get(leader);
      if (broker !== undefined) hintedBrokers.set(leader, broker);
    }
    this.brokersById = new Map(metadata.brokers.map((broker) => [broker.id, broker]));
    for (const topic of metadata.topics) {
      if (isNoError(topic.errorCode)) {
        this.topics.set(topic.name, this.withHints(topic, hintedBrokers));
        this.topicErrors.delete(topic.name);
      } else {
        this.topics.delete(topic.name);
        this.topicErrors.set(topic.name, topic.errorCode);
      }
    }
    this.lastRefreshMs = Date.now();
  }

  /**
   * `topic` with the leaders that hints gave at a newer epoch than this metadata names (and their
   * brokers, when the metadata does not list them yet). A hint the metadata caught up with is dropped.
   */
  private withHints(topic: TopicInfo, hintedBrokers: ReadonlyMap<number, BrokerInfo>): TopicInfo {
    if (this.hintedLeaders.size === 0) return topic;
    let changed = false;
    const partitions = topic.partitions.map((info) => {
      const key = hintKey(topic.name, info.partition);
      const hinted = this.hintedLeaders.get(key);
      if (hinted === undefined) return info;
      if (info.leaderEpoch >= hinted.leaderEpoch) {
        this.hintedLeaders.delete(key);
        return info;
      }
      const broker = this.brokersById.get(hinted.leader) ?? hintedBrokers.get(hinted.leader);
      if (broker === undefined) return info;
      this.brokersById.set(hinted.leader, broker);
      changed = true;
      return { ...info, leader: hinted.leader, leaderEpoch: hinted.leaderEpoch };
    });
    return changed ? { ...topic, partitions } : topic;
  }

  /** Cached metadata of `topic`, refreshed when missing or older than metadataMaxAgeMs. */
  async topicMetadata(topic: string): Promise<TopicInfo> {
    const cached = this.topics.get(topic);
    if (cached !== undefined && Date.now() - this.lastRefreshMs < this.config.metadataMaxAgeMs) return cached;
    return retry(async () => {
      await this.refreshMetadata([topic]);
      const info = this.topics.get(topic);
      // A non-retriable answer (an invalid topic name) ends the wait at once.
      if (info === undefined || info.partitions.length === 0) throw new BrokerError(this.topicErrors.get(topic) ?? 'UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic}`);
      return info;
    }, this.config.retry);
  }

  /** The cached topic, without a request; undefined when not known. */
  cachedTopic(topic: string): TopicInfo | undefined {
    return this.topics.get(topic);
  }

  /** Broker id of the partition's leader per the cache; -1 when unknown. */
  leaderOf(topic: string, partition: number): number {
    const partitions = this.topics.get(topic)?.partitions;
    if (partitions === undefined) return -1;
    // Partitions are sorted; a gap in what the broker listed falls back to a search.
    let partitionInfo: PartitionInfo | undefined = partitions[partition];
    if (partitionInfo?.partition !== partition) partitionInfo = partitions.find((p) => p.partition === partition);
    return partitionInfo === undefined ? -1 : partitionInfo.leader;
  }

  /** The partition leader's connection; refreshes metadata first when no leader is known. */
  async leaderConnection(topic: string, partition: number): Promise<{ brokerId: number; connection: BrokerConnection }> {
    let leader = this.leaderOf(topic, partition);
    if (leader < 0 || !this.brokersById.has(leader)) {
      await this.refreshMetadata([topic]);
      leader = this.leaderOf(topic, partition);
      if (leader < 0) {
        const known = this.topics.get(topic);
        if (known !== undefined && partition >= known.partitions.length) {
          throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has ${known.partitions.length} partitions, not ${partition + 1}`);
        }
        throw new BrokerError('LEADER_NOT_AVAILABLE', `${topic}/${partition}`);
      }
    }
    return { brokerId: leader, connection: this.connectionToBroker(leader) };
  }

  /**
   * A broker answered NOT_LEADER_OR_FOLLOWER naming the partition's leader: cache that leader (and
   * its address, when the metadata does not know the broker yet) so the next request goes there,
   * and refresh the metadata in the background. False when the hint has no usable address.
   */
  applyLeaderHint(topic: string, partition: number, hint: LeaderHint): boolean {
    if (hint.leaderId < 0 || hint.address === '') return false;
    const address = parseAddress(hint.address);
    if (address === undefined) return false;
    const known = this.brokersById.get(hint.leaderId);
    if (known === undefined || known.host !== address.host || known.port !== address.port) {
      this.brokersById = new Map(this.brokersById).set(hint.leaderId, { id: hint.leaderId, ...address });
    }
    if (this.hintedLeaders.size >= TRACKED_TOPICS_MAX) this.hintedLeaders.clear();
    this.hintedLeaders.set(hintKey(topic, partition), { leader: hint.leaderId, leaderEpoch: hint.leaderEpoch });
    const cached = this.topics.get(topic);
    if (cached !== undefined) {
      const partitions = cached.partitions.map((info) => (info.partition === partition ? { ...info, leader: hint.leaderId, leaderEpoch: hint.leaderEpoch } : info));
      this.topics.set(topic, { ...cached, partitions });
    }
    // The hint names one partition's leader; others of that broker may have moved too.
    if (this.refreshInFlight === null && !this.closed) void this.refreshMetadata([topic]).catch(() => undefined);
    return true;
  }

  /** Marks cached metadata stale so the next use refreshes it. */
  invalidate(): void {
    this.lastRefreshMs = 0;
  }

  /** All cached brokers. */
  brokers(): BrokerInfo[] {
    return [...this.brokersById.values()];
  }
}

function hintKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** "host:port" or "[v6]:port" split; undefined when malformed. */
function parseAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(address);
  if (match === null || Number(match[2]) > 65535) return undefined;
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}
