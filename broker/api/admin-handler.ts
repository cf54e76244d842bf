/**
 * Topic and cluster administration: CreateTopics, DeleteTopics, DescribeTopics,
 * AlterTopicConfigs, CreatePartitions, DescribeCluster, ReassignPartitions, DecommissionBroker.
 * Each topic (or partition) of a request succeeds or fails on its own; results come back in
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
  DecommissionBrokerRequest,
  DecommissionBrokerResponse,
  DeleteTopicsResponse,
  DescribeClusterResponse,
  DescribeTopicsRequest,
  DescribeTopicsResponse,
  ReassignPartitionsRequest,
  ReassignPartitionsResponse,
  TopicDescription,
  TopicResult,
} from '../../proto/brook-types.js';
import { effectiveTopicConfig } from '../topics/topic-config.js';
import { refuseInternal } from './internal-topic-guard.js';
import type { ApiContext } from './api-context.js';
import { mapError } from './error-codes.js';

/** Most topics one admin request may name. */
export const ADMIN_TOPICS_PER_REQUEST_MAX = 1000;
/** Most partitions one ReassignPartitions request may name. */
export const ADMIN_PARTITIONS_PER_REQUEST_MAX = 10_000;

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
    return { results: await this.each(request.names ?? [], (name) => name, (name) => this.context.topics.deleteTopic(refuseInternal(name))) };
  }

  async alterTopicConfigs(request: AlterTopicConfigsRequest): Promise<AlterTopicConfigsResponse> {
    const validateOnly = request.validateOnly === true;
    return {
      results: await this.each(request.topics ?? [], (alter) => alter.name, (alter) =>
        this.context.topics.alterTopicConfigs(refuseInternal(alter.name), alter.set ?? {}, alter.remove ?? [], validateOnly),
      ),
    };
  }

  async createPartitions(request: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
    const validateOnly = request.validateOnly === true;
    return {
      results: await this.each(request.topics ?? [], (grow) => grow.name, (grow) =>
        this.context.topics.createPartitions(refuseInternal(grow.name), grow.totalCount, validateOnly),
      ),
    };
  }

  describeTopics(request: DescribeTopicsRequest): DescribeTopicsResponse {
    const names = request.names ?? [];
    const topics = names.length === 0 ? this.context.topics.list().map((topic) => topic.name) : names;
    return { topics: topics.map((name) => this.describe(name)) };
  }

  describeCluster(): DescribeClusterResponse {
    return this.context.topics.describeCluster();
  }

  async reassignPartitions(request: ReassignPartitionsRequest): Promise<ReassignPartitionsResponse> {
    const reassignments = request.reassignments ?? [];
    if (reassignments.length > ADMIN_PARTITIONS_PER_REQUEST_MAX) {
      return {
        results: reassignments.map((item) => ({
          topic: item.topic,
          partition: item.partition,
          errorCode: 'INVALID_REQUEST',
          errorMessage: `at most ${ADMIN_PARTITIONS_PER_REQUEST_MAX} partitions per request`,
        })),
      };
    }
    const list = reassignments.map((item) => ({ topic: item.topic, partition: item.partition, replicas: item.replicaIds ?? [] }));
    try {
      return { results: await this.context.topics.reassign(list) };
    } catch (error) {
      const mapped = this.mapped(error);
      return { results: list.map((item) => ({ topic: item.topic, partition: item.partition, errorCode: mapped.errorCode, errorMessage: mapped.errorMessage })) };
    }
  }

  async decommissionBroker(request: DecommissionBrokerRequest): Promise<DecommissionBrokerResponse> {
    try {
      return await this.context.topics.decommission(request.nodeId ?? 0);
    } catch (error) {
      const mapped = this.mapped(error);
      return { errorCode: mapped.errorCode, errorMessage: mapped.errorMessage, partitionsMoved: 0 };
    }
  }

  private describe(name: string): TopicDescription {
    const topic = this.context.topics.get(name);
    const partitions = this.context.topics.describe(name);
    if (topic === undefined || partitions === undefined) return unknownTopic(name);
    return {
      name: topic.name,
      errorCode: 'NONE',
      errorMessage: '',
      topicId: topic.topicId,
      partitions,
      configs: effectiveTopicConfig(topic.configs, this.context.config),
    };
  }

  private mapped(error: unknown): ReturnType<typeof mapError> {
    const mapped = mapError(error);
    if (!mapped.expected) this.context.logger.error({ err: error }, 'unexpected admin error');
    return mapped;
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
        const mapped = this.mapped(error);
        results.push({ name: nameOf(item), errorCode: mapped.errorCode, errorMessage: mapped.errorMessage });
      }
    }
    return results;
  }
}

function unknownTopic(name: string): TopicDescription {
  return { name, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${name} does not exist`, topicId: '', partitions: [], configs: [] };
}

