/**
 * The topics this broker holds and their partitions: the one place that creates, alters, grows
 * and deletes them. Metadata goes to the MetadataStore first (one transaction), then the partition
 * logs follow; on start the logs are opened from the metadata and stray partition directories
 * (left by a crash in the middle of a delete) are moved to the trash.
 *
 * Directory layout under data.dir:
 *   metadata.sqlite            topics, partitions, configs (see metadata-store.ts)
 *   topics/<topic>-<partition>/ one PartitionLog each
 *   trash/                     directories of deleted partitions, removed in the background
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerInfo, DescribeClusterResponse, PartitionMetadata, ReassignmentResult } from '../../proto/brook-types.js';
import type {
  DecommissionOutcome,
  LeadershipRefusal,
  NewTopicSpec,
  ReassignmentSpec,
  TopicService,
} from '../api/topic-service.js';
import { parseListen, type BrokerConfig } from '../config/broker-config.js';
import type { MetadataStore, StoredPartition, StoredTopic } from '../metadata/metadata-store.js';
import { Partition } from '../partition/partition.js';
import { PartitionLog, type PartitionLogDeps } from '../storage/partition-log.js';
import { TopicConfigError, topicLogConfig, validateTopicConfigEntries } from './topic-config.js';
import { TopicError } from './topic-error.js';
import { topicNameProblem } from './topic-name.js';

/** A topic as the broker serves it. */
export interface Topic {
  readonly name: string;
  readonly topicId: string;
  /** Config entries set on the topic; defaults are not included. */
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly Partition[];
}

export type { NewTopicSpec } from '../api/topic-service.js';

/** Cluster administration a single broker refuses, with the reason it gives. */
const SINGLE_BROKER_REFUSAL = 'this broker runs alone (no cluster.peers configured): there is no other broker to move replicas to';

/** A single broker stores one replica of each partition. */
const REPLICATION_FACTOR_MAX = 1;
/** Leader epoch of every partition on a single broker. */
const SINGLE_BROKER_LEADER_EPOCH = 0;

/** The single broker's TopicService: it holds and leads every partition of every topic. */
export class TopicRegistry implements TopicService {
  private readonly topics = new Map<string, Topic>();
  /** Topic creations in progress, so concurrent auto-creates of one name create it once. */
  private readonly creating = new Map<string, Promise<Topic>>();
  /** Serializes admin changes: each reads the registry, then changes metadata and logs. */
  private adminChain: Promise<unknown> = Promise.resolve();
  private readonly topicsDir: string;
  private readonly trashDir: string;

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: MetadataStore,
    private readonly logDeps: PartitionLogDeps,
    private readonly logger: Logger,
    /** Where clients reach this broker (Metadata, DescribeCluster); default: the listen setting. */
    private readonly advertised: () => { host: string; port: number } = () => parseListen(config.listen),
  ) {
    this.topicsDir = join(config.dataDir, 'topics');
    this.trashDir = join(config.dataDir, 'trash');
  }

  /** Opens every partition log named by the metadata; moves stray partition directories to the trash. */
  async open(): Promise<void> {
    await mkdir(this.topicsDir, { recursive: true });
    await mkdir(this.trashDir, { recursive: true });
    const stored = this.store.loadTopics();
    const expected = new Set<string>();
    for (const topic of stored) for (const p of topic.partitions) expected.add(partitionDirName(topic.name, p.partition));
    for (const name of await readdir(this.topicsDir)) {
      if (!expected.has(name)) {
        this.logger.warn({ dir: name }, 'partition directory without a topic (an interrupted delete): moving to trash');
        await rename(join(this.topicsDir, name), join(this.trashDir, `${name}.${randomUUID()}`));
      }
    }
    this.emptyTrash();
    for (const topic of stored) {
      const partitions = await this.openPartitions(topic.name, topic.configs, topic.partitions);
      this.topics.set(topic.name, { name: topic.name, topicId: topic.topicId, configs: topic.configs, partitions });
    }
    this.logger.info({ topics: stored.length, partitions: this.partitionCount() }, 'topics opened');
  }

  get clusterId(): string {
    return this.store.clusterId;
  }

  /** The topic, or undefined. */
  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  /** The partition, or undefined when the topic or partition does not exist. */
  partition(topic: string, index: number): Partition | undefined {
    return this.topics.get(topic)?.partitions[index];
  }

  /** Every topic, sorted by name. */
  list(): Topic[] {
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  partitionCount(): number {
    let count = 0;
    for (const topic of this.topics.values()) count += topic.partitions.length;
    return count;
  }

  /**
   * The topic, created with the broker defaults when missing and auto-creation is on. Throws
   * TopicError: INVALID_TOPIC_EXCEPTION for an illegal name, UNKNOWN_TOPIC_OR_PARTITION when
   * missing and auto-creation is off.
   */
  async getOrAutoCreate(name: string): Promise<Topic> {
    const existing = this.topics.get(name);
    if (existing !== undefined) return existing;
    checkTopicName(name);
    if (!this.config.autoCreateTopics) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist (auto.create.topics is off)`);
    const pending = this.creating.get(name);
    if (pending !== undefined) return pending;
    const created = this.createTopic({ name, numPartitions: 0, replicationFactor: 0, configs: {} }, false).catch((error: unknown) => {
      // Lost a race with an explicit create: the topic is there, which is all we wanted.
      const raced = this.topics.get(name);
      if (raced !== undefined) return raced;
      throw error;
    });
    this.creating.set(name, created);
    try {
      const topic = await created;
      this.logger.info({ topic: name, partitions: topic.partitions.length }, 'topic auto-created');
      return topic;
    } finally {
      this.creating.delete(name);
    }
  }

  /** Creates a topic (or only validates the request). Throws TopicError. */
  createTopic(spec: NewTopicSpec, validateOnly: boolean): Promise<Topic> {
    return this.serialize(async () => {
      checkTopicName(spec.name);
      const numPartitions = spec.numPartitions === 0 ? this.config.defaultPartitions : spec.numPartitions;
      this.checkPartitionCount(numPartitions);
      const replicationFactor = spec.replicationFactor === 0 ? 1 : spec.replicationFactor;
      if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > REPLICATION_FACTOR_MAX) {
        throw new TopicError('INVALID_REPLICATION_FACTOR', `replication factor must be 1 on a single broker, got ${spec.replicationFactor}`);
      }
      this.checkConfigs(spec.configs);
      if (this.topics.has(spec.name)) throw new TopicError('TOPIC_ALREADY_EXISTS', `topic ${spec.name} already exists`);
      if (this.topics.size >= this.config.topicsMax) {
        throw new TopicError('INVALID_REQUEST', `the broker holds topics.max=${this.config.topicsMax} topics already`);
      }
      const stored: StoredTopic = {
        name: spec.name,
        topicId: randomUUID(),
        createdMs: this.logDeps.clock.nowMs(),
        partitions: this.newPartitions(0, numPartitions),
        configs: { ...spec.configs },
      };
      if (validateOnly) return { name: stored.name, topicId: stored.topicId, configs: stored.configs, partitions: [] };
      this.store.createTopic(stored);
      const partitions = await this.openPartitions(stored.name, stored.configs, stored.partitions);
      const topic: Topic = { name: stored.name, topicId: stored.topicId, configs: stored.configs, partitions };
      this.topics.set(topic.name, topic);
      this.logger.info({ topic: topic.name, partitions: numPartitions, configs: stored.configs }, 'topic created');
      return topic;
    });
  }

  /** Deletes a topic and its data. Throws TopicError (UNKNOWN_TOPIC_OR_PARTITION). */
  deleteTopic(name: string): Promise<void> {
    return this.serialize(async () => {
      const topic = this.topics.get(name);
      if (topic === undefined) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
      this.topics.delete(name);
      this.store.deleteTopic(name);
      await Promise.allSettled(topic.partitions.map((partition) => partition.close()));
      for (const partition of topic.partitions) {
        const dir = partitionDirName(name, partition.index);
        await rename(join(this.topicsDir, dir), join(this.trashDir, `${dir}.${topic.topicId}`));
      }
      this.emptyTrash();
      this.logger.info({ topic: name }, 'topic deleted');
    });
  }

  /**
   * Sets and removes config entries. The partition logs are reopened with the new settings (the
   * log's settings are fixed while it is open); requests caught in between see the partition as
   * briefly unavailable and retry.
   */
  alterTopicConfigs(name: string, set: Readonly<Record<string, string>>, remove: readonly string[], validateOnly: boolean): Promise<void> {
    return this.serialize(async () => {
      const topic = this.topics.get(name);
      if (topic === undefined) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
      const configs: Record<string, string> = { ...topic.configs, ...set };
      for (const key of remove) {
        if (Object.hasOwn(set, key)) throw new TopicError('INVALID_CONFIG', `config ${key} is both set and removed`);
        delete configs[key];
      }
      validateTopicConfigEntries({ ...set });
      this.checkConfigs(configs);
      if (validateOnly) return;
      this.store.alterTopicConfigs(name, set, remove);
      await Promise.allSettled(topic.partitions.map((partition) => partition.close()));
      const stored = topic.partitions.map((partition) => this.storedPartition(partition.index));
      const partitions = await this.openPartitions(name, configs, stored);
      this.topics.set(name, { ...topic, configs, partitions });
      this.logger.info({ topic: name, set, remove }, 'topic configs altered');
    });
  }

  /** Grows a topic to `totalCount` partitions. Throws TopicError. */
  createPartitions(name: string, totalCount: number, validateOnly: boolean): Promise<void> {
    return this.serialize(async () => {
      const topic = this.topics.get(name);
      if (topic === undefined) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
      if (totalCount <= topic.partitions.length) {
        throw new TopicError('INVALID_PARTITIONS', `topic ${name} has ${topic.partitions.length} partitions; the new count ${totalCount} must be larger`);
      }
      this.checkPartitionCount(totalCount);
      if (validateOnly) return;
      const added = this.newPartitions(topic.partitions.length, totalCount);
      this.store.addPartitions(name, added);
      const opened = await this.openPartitions(name, topic.configs, added);
      this.topics.set(name, { ...topic, partitions: [...topic.partitions, ...opened] });
      this.logger.info({ topic: name, partitions: totalCount }, 'partitions created');
    });
  }

  /** This broker leads every partition, at the constant single-broker epoch. */
  describe(name: string): PartitionMetadata[] | undefined {
    const topic = this.topics.get(name);
    if (topic === undefined) return undefined;
    const nodeId = this.config.nodeId;
    return topic.partitions.map((partition) => ({
      errorCode: 'NONE',
      partition: partition.index,
      leaderId: nodeId,
      leaderEpoch: partition.leaderEpoch,
      replicaIds: [nodeId],
      inSyncReplicaIds: [nodeId],
      targetReplicaIds: [],
    }));
  }

  /** Never asked on a single broker (it holds every partition); answers as a missing partition. */
  notHeldHere(topic: string, index: number): LeadershipRefusal {
    return { errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${topic} partition ${index} does not exist` };
  }

  brokers(): BrokerInfo[] {
    const { host, port } = this.advertised();
    return [{ nodeId: this.config.nodeId, host, port, rack: '' }];
  }

  controllerId(): number {
    return this.config.nodeId;
  }

  /** This broker alone: live, the controller, holding and leading every partition. */
  describeCluster(): DescribeClusterResponse {
    const partitions = this.partitionCount();
    return {
      clusterId: this.clusterId,
      controllerId: this.config.nodeId,
      controllerVoterIds: [this.config.nodeId],
      brokers: [{ broker: this.brokers()[0], state: 'LIVE', replicaCount: partitions, leaderCount: partitions, internalAddress: '' }],
    };
  }

  async reassign(list: readonly ReassignmentSpec[]): Promise<ReassignmentResult[]> {
    return list.map((item) => ({ topic: item.topic, partition: item.partition, errorCode: 'INVALID_REQUEST', errorMessage: SINGLE_BROKER_REFUSAL }));
  }

  async decommission(_brokerId: number): Promise<DecommissionOutcome> {
    return { errorCode: 'INVALID_REQUEST', errorMessage: SINGLE_BROKER_REFUSAL, partitionsMoved: 0 };
  }

  /** Closes every partition log (flushing it). */
  async close(): Promise<void> {
    await this.serialize(async () => {
      const partitions = [...this.topics.values()].flatMap((topic) => topic.partitions);
      this.topics.clear();
      const results = await Promise.allSettled(partitions.map((partition) => partition.close()));
      for (const result of results) {
        if (result.status === 'rejected') this.logger.error({ err: result.reason }, 'closing a partition failed');
      }
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.adminChain.then(work, work);
    this.adminChain = next.catch(() => undefined);
    return next;
  }

  private checkPartitionCount(count: number): void {
    if (!Number.isInteger(count) || count < 1 || count > this.config.topicPartitionsMax) {
      throw new TopicError('INVALID_PARTITIONS', `partition count must be in [1, ${this.config.topicPartitionsMax}], got ${count}`);
    }
  }

  private checkConfigs(configs: Readonly<Record<string, string>>): void {
    try {
      topicLogConfig(configs, this.config);
    } catch (error) {
      if (error instanceof TopicConfigError) throw new TopicError('INVALID_CONFIG', error.message);
      throw error;
    }
  }

  private newPartitions(from: number, to: number): StoredPartition[] {
    const partitions: StoredPartition[] = [];
    for (let index = from; index < to; index++) partitions.push(this.storedPartition(index));
    return partitions;
  }

  private storedPartition(index: number): StoredPartition {
    const nodeId = this.config.nodeId;
    return { partition: index, leaderId: nodeId, leaderEpoch: SINGLE_BROKER_LEADER_EPOCH, replicas: [nodeId] };
  }

  private async openPartitions(topic: string, configs: Readonly<Record<string, string>>, stored: readonly StoredPartition[]): Promise<Partition[]> {
    const logConfig = topicLogConfig(configs, this.config);
    const partitions: Partition[] = [];
    for (const p of stored) {
      const log = await PartitionLog.open(join(this.topicsDir, partitionDirName(topic, p.partition)), logConfig, this.logDeps);
      partitions.push(new Partition(topic, p.partition, log, p.leaderEpoch, this.logger));
    }
    return partitions;
  }

  /** Removes the trash in the background; a failure only leaves files for the next start. */
  private emptyTrash(): void {
    void readdir(this.trashDir)
      .then((names) => Promise.all(names.map((name) => rm(join(this.trashDir, name), { recursive: true, force: true }))))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'emptying the trash failed'));
  }
}

/** Directory name of a partition's log. */
export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

function checkTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== null) throw new TopicError('INVALID_TOPIC_EXCEPTION', problem);
}
