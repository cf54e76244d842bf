/**
 * The offsets topic (`__consumer_offsets`) as the coordinator needs it: how many partitions it
 * has, the partitions held here, and which broker leads (coordinates) each one.
 *
 * - Single broker: the partitions are this broker's own logs under `<data.dir>/consumer-offsets/`
 *   (not a user-visible topic), flushed on every append (flush.policy=always), kept forever. The
 *   partition count is fixed when they are first created (groups.offsets.partitions); a later
 *   different setting is ignored with a warning, since it would move groups to other partitions.
 * - Cluster: a replicated topic created through the controller on first use, with
 *   RF = min(3, brokers); each partition's Raft leader coordinates its groups.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerInfo, ErrorCode } from '../../proto/brook-types.js';
import type { ServedPartition, TopicService } from '../api/topic-service.js';
import type { BrokerConfig } from '../config/broker-config.js';
import { Partition } from '../partition/partition.js';
import { PartitionLog, type PartitionLogDeps } from '../storage/partition-log.js';
import { TopicError } from '../topics/topic-error.js';
import { topicLogConfig } from '../topics/topic-config.js';
import {
  CONSUMER_OFFSETS_TOPIC,
  OFFSETS_APPEND_BYTES_MAX,
  OFFSETS_PARTITIONS_CLUSTER_DEFAULT,
  OFFSETS_PARTITIONS_SINGLE_DEFAULT,
  OFFSETS_REPLICATION_FACTOR_MAX,
} from './group-limits.js';

/** Topic configuration of the offsets topic: kept forever, room for large group records. */
export const OFFSETS_TOPIC_CONFIGS: Readonly<Record<string, string>> = Object.freeze({
  'retention.ms': String(Number.MAX_SAFE_INTEGER),
  'retention.bytes': String(Number.MAX_SAFE_INTEGER),
  'max.message.bytes': String(OFFSETS_APPEND_BYTES_MAX),
  'segment.bytes': String(128 * 1024 * 1024),
  'message.timestamp.type': 'CreateTime',
});

/** Minimum time between two attempts to create the offsets topic in a cluster. */
const CREATE_RETRY_INTERVAL_MS = 1000;

export type CoordinatorAnswer =
  | { readonly broker: BrokerInfo; readonly errorCode?: undefined }
  | { readonly broker?: undefined; readonly errorCode: ErrorCode; readonly errorMessage: string };

export interface OffsetsTopic {
  /** The partition count; undefined while the topic does not exist yet (its creation is started). */
  partitionCount(): number | undefined;
  /** Partition `index` when this broker holds a replica of it. */
  partition(index: number): ServedPartition | undefined;
  /** The broker that leads partition `index`, or why none can be named. */
  coordinator(index: number): CoordinatorAnswer;
  close(): Promise<void>;
}

/** The offsets partitions of a single broker: its own logs. */
export class SingleBrokerOffsetsTopic implements OffsetsTopic {
  private constructor(
    private readonly partitions: readonly Partition[],
    private readonly self: () => BrokerInfo,
  ) {}

  static async open(options: {
    readonly config: BrokerConfig;
    readonly logDeps: PartitionLogDeps;
    readonly logger: Logger;
    readonly self: () => BrokerInfo;
  }): Promise<SingleBrokerOffsetsTopic> {
    const { config, logger } = options;
    const dir = join(config.dataDir, 'consumer-offsets');
    await mkdir(dir, { recursive: true });
    const existing = (await readdir(dir)).filter((name) => name.startsWith(`${CONSUMER_OFFSETS_TOPIC}-`)).length;
    const configured = config.groupsOffsetsPartitions === 0 ? OFFSETS_PARTITIONS_SINGLE_DEFAULT : config.groupsOffsetsPartitions;
    const count = existing > 0 ? existing : configured;
    if (existing > 0 && existing !== configured) {
      logger.warn({ existing, configured }, 'groups.offsets.partitions differs from the offsets partitions on disk: keeping those on disk (changing it would move groups)');
    }
    const logConfig = topicLogConfig({ ...OFFSETS_TOPIC_CONFIGS, 'flush.policy': 'always' }, config);
    const partitions: Partition[] = [];
    try {
      for (let index = 0; index < count; index++) {
        const log = await PartitionLog.open(join(dir, `${CONSUMER_OFFSETS_TOPIC}-${index}`), logConfig, options.logDeps);
        partitions.push(new Partition(CONSUMER_OFFSETS_TOPIC, index, log, 0, logger));
      }
    } catch (error) {
      await Promise.allSettled(partitions.map((partition) => partition.close()));
      throw error;
    }
    return new SingleBrokerOffsetsTopic(partitions, options.self);
  }

  partitionCount(): number {
    return this.partitions.length;
  }

  partition(index: number): ServedPartition | undefined {
    return this.partitions[index];
  }

  coordinator(): CoordinatorAnswer {
    return { broker: this.self() };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.partitions.map((partition) => partition.close()));
  }
}

/** The offsets topic of a cluster: a replicated topic like any other, created on first use. */
export class ClusterOffsetsTopic implements OffsetsTopic {
  private creating: Promise<void> | undefined;
  private lastCreateAttemptMs = -Infinity;

  constructor(
    private readonly topics: TopicService,
    private readonly config: BrokerConfig,
    private readonly clock: { nowMs(): number },
    private readonly logger: Logger,
  ) {}

  partitionCount(): number | undefined {
    const topic = this.topics.get(CONSUMER_OFFSETS_TOPIC);
    if (topic !== undefined) return topic.partitions.length;
    this.startCreating();
    return undefined;
  }

  partition(index: number): ServedPartition | undefined {
    return this.topics.partition(CONSUMER_OFFSETS_TOPIC, index);
  }

  coordinator(index: number): CoordinatorAnswer {
    const described = this.topics.describe(CONSUMER_OFFSETS_TOPIC)?.[index];
    if (described === undefined) return { errorCode: 'COORDINATOR_NOT_AVAILABLE', errorMessage: `${CONSUMER_OFFSETS_TOPIC} partition ${index} does not exist yet` };
    const broker = described.leaderId > 0 ? this.topics.brokers().find((candidate) => candidate.nodeId === described.leaderId) : undefined;
    if (broker === undefined) {
      return { errorCode: 'COORDINATOR_NOT_AVAILABLE', errorMessage: `${CONSUMER_OFFSETS_TOPIC} partition ${index} has no leader right now` };
    }
    return { broker };
  }

  private startCreating(): void {
    const nowMs = this.clock.nowMs();
    if (this.creating !== undefined || nowMs - this.lastCreateAttemptMs < CREATE_RETRY_INTERVAL_MS) return;
    this.lastCreateAttemptMs = nowMs;
    const brokers = Math.max(1, this.config.peers.size);
    const numPartitions = this.config.groupsOffsetsPartitions === 0 ? OFFSETS_PARTITIONS_CLUSTER_DEFAULT : this.config.groupsOffsetsPartitions;
    const replicationFactor = Math.min(OFFSETS_REPLICATION_FACTOR_MAX, brokers);
    this.creating = this.topics
      .createTopic({ name: CONSUMER_OFFSETS_TOPIC, numPartitions, replicationFactor, configs: OFFSETS_TOPIC_CONFIGS, internal: true }, false)
      .then(
        () => this.logger.info({ topic: CONSUMER_OFFSETS_TOPIC, numPartitions, replicationFactor }, 'offsets topic created'),
        (error: unknown) => {
          if (error instanceof TopicError && error.errorCode === 'TOPIC_ALREADY_EXISTS') return;
          this.logger.warn({ err: error }, 'creating the offsets topic failed; retrying on the next group request');
        },
      )
      .finally(() => {
        this.creating = undefined;
      });
  }

  async close(): Promise<void> {
    await this.creating;
  }
}
