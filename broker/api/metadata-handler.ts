/** Metadata: the brokers clients may connect to and the requested topics' partitions and leaders. */
import type { MetadataRequest, MetadataResponse, TopicMetadata } from '../../proto/brook-types.js';
import { topicNameProblem } from '../topics/topic-name.js';
import type { ApiContext } from './api-context.js';
import { mapError } from './error-codes.js';

export class MetadataHandler {
  constructor(private readonly context: ApiContext) {}

  async metadata(request: MetadataRequest): Promise<MetadataResponse> {
    const { config, topics } = this.context;
    const names = request.topics ?? [];
    const autoCreate = request.allowAutoTopicCreation === true && config.autoCreateTopics;
    const described: TopicMetadata[] =
      names.length === 0 ? topics.list().map((topic) => this.describe(topic.name)) : await Promise.all(names.map((name) => this.lookUp(name, autoCreate)));
    return {
      brokers: topics.brokers(),
      clusterId: topics.clusterId,
      controllerId: topics.controllerId(),
      topics: described,
    };
  }

  private async lookUp(name: string, autoCreate: boolean): Promise<TopicMetadata> {
    const problem = topicNameProblem(name);
    if (problem !== null && this.context.topics.get(name) === undefined) {
      return { name, errorCode: 'INVALID_TOPIC_EXCEPTION', topicId: '', partitions: [] };
    }
    if (autoCreate) {
      try {
        await this.context.topics.getOrAutoCreate(name);
      } catch (error) {
        return { name, errorCode: mapError(error).errorCode, topicId: '', partitions: [] };
      }
    }
    return this.describe(name);
  }

  private describe(name: string): TopicMetadata {
    const topic = this.context.topics.get(name);
    const partitions = this.context.topics.describe(name);
    if (topic === undefined || partitions === undefined) return { name, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', topicId: '', partitions: [] };
    return { name, errorCode: 'NONE', topicId: topic.topicId, partitions };
  }
}
