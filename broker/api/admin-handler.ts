/**
 * Topic administration: CreateTopics, DeleteTopics, DescribeTopics, AlterTopicConfigs,
 * CreatePartitions. Each topic of a request succeeds or fails on its own; results come back in
 * request order.
 */
import type {
  AlterTopicConfigsRequest,
  AlterTopicConfigsResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  DescribeTopicsRequest,
  DescribeTopicsResponse,
  PartitionMetadata,
  TopicDescription,
  TopicResult,
} from '../../proto/brook-types.js';
import { effectiveTopicConfig } from '../topics/topic-config.js';
import type { Topic } from '../topics/topic-registry.js';
import type { ApiContext } from './api-context.js';
import { mapError } from './error-codes.js';

/** Most topics one admin request may name. */
export const ADMIN_TOPICS_PER_REQUEST_MAX = 1000;

export class AdminHandler {
  constructor(private readonly context: ApiContext) {}

  async createTopics(request: CreateTopicsRequest): Promise<CreateTopicsResponse> {
    const validateOnly = request.validateOnly === true;
    return {
      results: await this.each(request.topics ?? [], (spec) => spec.name, async (spec) => {
        await this.context.topics.createTopic(
          { name: spec.name, numPartitions: spec.numPartitions ?? 0, replicationFactor: spec.replicationFactor ?? 0, configs: spec.configs ?? {} },
          validateOnly,
        );
      }),
    };
  }

  async deleteTopics(request: DeleteTopicsRequest): Promise<DeleteTopicsResponse> {
    return { results: await this.each(request.names ?? [], (name) => name, (name) => this.context.topics.deleteTopic(name)) };
  }

  async alterTopicConfigs(request: AlterTopicConfigsRequest): Promise<AlterTopicConfigsResponse> {
    const validateOnly = request.validateOnly === true;
    return {
      results: await this.each(request.topics ?? [], (alter) => alter.name, (alter) =>
        this.context.topics.alterTopicConfigs(alter.name, alter.set ?? {}, alter.remove ?? [], validateOnly),
      ),
    };
  }

  async createPartitions(request: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
    const validateOnly = request.validateOnly === true;
    return {
      results: await this.each(request.topics ?? [], (grow) => grow.name, (grow) =>
        this.context.topics.createPartitions(grow.name, grow.totalCount, validateOnly),
      ),
    };
  }

  describeTopics(request: DescribeTopicsRequest): DescribeTopicsResponse {
    const names = request.names ?? [];
    const topics = names.length === 0 ? this.context.topics.list() : names.map((name) => this.context.topics.get(name) ?? name);
    return { topics: topics.map((topic) => (typeof topic === 'string' ? unknownTopic(topic) : this.describe(topic))) };
  }

  private describe(topic: Topic): TopicDescription {
    return {
      name: topic.name,
      errorCode: 'NONE',
      errorMessage: '',
      topicId: topic.topicId,
      partitions: describePartitions(topic, this.context.config.nodeId),
      configs: effectiveTopicConfig(topic.configs, this.context.config),
    };
  }

  /** Runs `work` per item in order (admin changes are serialized anyway), collecting results. */
  private async each<T>(items: readonly T[], nameOf: (item: T) => string, work: (item: T) => Promise<unknown>): Promise<TopicResult[]> {
    if (items.length > ADMIN_TOPICS_PER_REQUEST_MAX) {
      return items.map((item) => ({ name: nameOf(item), errorCode: 'INVALID_REQUEST', errorMessage: `at most ${ADMIN_TOPICS_PER_REQUEST_MAX} topics per request` }));
    }
    const results: TopicResult[] = [];
    for (const item of items) {
      try {
        await work(item);
        results.push({ name: nameOf(item), errorCode: 'NONE', errorMessage: '' });
      } catch (error) {
        const mapped = mapError(error);
        if (!mapped.expected) this.context.logger.error({ err: error }, 'unexpected admin error');
        results.push({ name: nameOf(item), errorCode: mapped.errorCode, errorMessage: mapped.errorMessage });
      }
    }
    return results;
  }
}

/** Partition metadata of a topic on this single broker: it leads every partition. */
export function describePartitions(topic: Topic, nodeId: number): PartitionMetadata[] {
  return topic.partitions.map((partition) => ({
    errorCode: 'NONE',
    partition: partition.index,
    leaderId: nodeId,
    leaderEpoch: partition.leaderEpoch,
    replicaIds: [nodeId],
    inSyncReplicaIds: [nodeId],
  }));
}

function unknownTopic(name: string): TopicDescription {
  return { name, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${name} does not exist`, topicId: '', partitions: [], configs: [] };
}
