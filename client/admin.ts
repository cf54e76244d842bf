/**
 * Topic administration and offset look-ups. Requests go to any live broker (every broker serves
 * every admin RPC) and are retried by the retry module on retriable errors.
 */
import { Cluster, type ClusterOptions } from './cluster.js';
import { BrokerError, InvalidArgumentError, isNoError, StateError } from './errors.js';
import { retry } from './retry.js';
import type { ClusterDescription, OffsetSpec, ReassignmentResult, TopicDescription, TopicResult } from './service.js';
import { GroupsClient, type GroupDescription, type ListedGroup, type ResetOffsetsOptions, type ResetPartitionResult } from './groups-client.js';

export type { ClusterBrokerDescription, ClusterDescription, ReassignmentResult, TopicDescription } from './service.js';
export type { GroupDescription, ListedGroup, ResetOffsetsOptions, ResetPartitionResult } from './groups-client.js';

/** A partition's new replica set, preferred leader first. */
export interface PartitionReassignment {
  topic: string;
  partition: number;
  replicas: number[];
}

/** Most partitions one reassignPartitions call may move (the broker's limit per request). */
export const REASSIGNMENTS_PER_REQUEST_MAX = 10_000;

export interface NewTopicSpec {
  topic: string;
  /** Default: the broker's num.partitions. */
  numPartitions?: number;
  /** Default: the broker's default replication factor. */
  replicationFactor?: number;
  /** Topic configuration overrides, e.g. { 'retention.ms': '3600000' }. */
  configs?: Record<string, string>;
}

export interface PartitionOffsets {
  partition: number;
  /** The offset found for the spec asked (-1 when a timestamp has no record at or after it). */
  offset: number;
}

export type AdminOptions = ClusterOptions;

/** Throws one BrokerError naming every topic that failed, when any did. */
function checkResults(operation: string, results: readonly TopicResult[], tolerate: readonly string[] = []): void {
  const failed = results.filter((r) => !isNoError(r.errorCode) && !tolerate.includes(r.errorCode));
  if (failed.length === 0) return;
  const detail = failed.map((r) => `${r.name}: ${r.errorCode}${r.errorMessage ? ` (${r.errorMessage})` : ''}`).join('; ');
  throw new BrokerError(failed[0].errorCode, `${operation} failed for ${detail}`);
}

/** Throws one BrokerError naming every refused reassignment, when any was. */
function checkReassignments(results: readonly ReassignmentResult[]): void {
  const failed = results.filter((r) => !isNoError(r.errorCode));
  if (failed.length === 0) return;
  const detail = failed.map((r) => `${r.topic}/${r.partition}: ${r.errorCode}${r.errorMessage ? ` (${r.errorMessage})` : ''}`).join('; ');
  throw new BrokerError(failed[0].errorCode, `reassignPartitions failed for ${detail}`);
}

export class Admin {
  readonly cluster: Cluster;
  private connected = false;

  constructor(options: AdminOptions) {
    this.cluster = new Cluster({ allowAutoTopicCreation: false, ...options });
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    this.cluster.close();
    this.connected = false;
  }

  private requireConnected(): void {
    if (!this.connected) throw new StateError('admin is not connected');
  }

  private timeoutMs(): number {
    return this.cluster.config.requestTimeoutMs;
  }

  /** Creates topics. Resolves to false when every topic already existed (as KafkaJS does). */
  async createTopics(request: { topics: NewTopicSpec[]; validateOnly?: boolean }): Promise<boolean> {
    this.requireConnected();
    const topics = request.topics.map((t) => {
      if (typeof t.topic !== 'string' || t.topic.length === 0) throw new InvalidArgumentError('topic name must be a non-empty string');
      return { name: t.topic, numPartitions: t.numPartitions ?? 0, replicationFactor: t.replicationFactor ?? 0, configs: t.configs ?? {} };
    });
    const results = await retry(() => this.cluster.wire.createTopics(this.cluster.anyConnection(), topics, request.validateOnly ?? false, this.timeoutMs()), this.cluster.config.retry);
    checkResults('createTopics', results, ['TOPIC_ALREADY_EXISTS']);
    return results.some((r) => isNoError(r.errorCode));
  }

  async deleteTopics(request: { topics: string[] }): Promise<void> {
    this.requireConnected();
    const results = await retry(() => this.cluster.wire.deleteTopics(this.cluster.anyConnection(), request.topics, this.timeoutMs()), this.cluster.config.retry);
    checkResults('deleteTopics', results);
  }

  /** Names of all topics, sorted. */
  async listTopics(): Promise<string[]> {
    this.requireConnected();
    const topics = await retry(() => this.cluster.wire.describeTopics(this.cluster.anyConnection(), [], this.timeoutMs()), this.cluster.config.retry);
    return topics.map((t) => t.name).sort();
  }

  /** Partitions, leaders and effective configs; all topics when `topics` is empty or absent. */
  async describeTopics(request: { topics?: string[] } = {}): Promise<TopicDescription[]> {
    this.requireConnected();
    const topics = await retry(() => this.cluster.wire.describeTopics(this.cluster.anyConnection(), request.topics ?? [], this.timeoutMs()), this.cluster.config.retry);
    checkResults('describeTopics', topics);
    return topics;
  }

  /** Sets and removes topic config entries; entries not named keep their value. */
  async alterTopicConfigs(request: { topics: Array<{ topic: string; set?: Record<string, string>; remove?: string[] }>; validateOnly?: boolean }): Promise<void> {
    this.requireConnected();
    const topics = request.topics.map((t) => ({ name: t.topic, set: t.set ?? {}, remove: t.remove ?? [] }));
    const results = await retry(() => this.cluster.wire.alterTopicConfigs(this.cluster.anyConnection(), topics, request.validateOnly ?? false, this.timeoutMs()), this.cluster.config.retry);
    checkResults('alterTopicConfigs', results);
  }

  /** Grows topics to `count` partitions in total. */
  async createPartitions(request: { topicPartitions: Array<{ topic: string; count: number }>; validateOnly?: boolean }): Promise<void> {
    this.requireConnected();
    const topics = request.topicPartitions.map((t) => ({ name: t.topic, totalCount: t.count }));
    const results = await retry(() => this.cluster.wire.createPartitions(this.cluster.anyConnection(), topics, request.validateOnly ?? false, this.timeoutMs()), this.cluster.config.retry);
    checkResults('createPartitions', results);
  }

  /** The cluster's brokers (state, replica and leader counts), its controller and controller voters. */
  async describeCluster(): Promise<ClusterDescription> {
    this.requireConnected();
    return retry(() => this.cluster.wire.describeCluster(this.cluster.anyConnection(), this.timeoutMs()), this.cluster.config.retry);
  }

  /**
   * Moves partitions to new replica sets, online. Resolves once the controller accepted every
   * change (the moves then run in the background; describeTopics shows `targetReplicas` until
   * each is done). Throws one BrokerError naming every partition refused (INVALID_REPLICA_ASSIGNMENT,
   * REASSIGNMENT_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST on a single broker); the
   * others were started.
   */
  async reassignPartitions(request: { reassignments: PartitionReassignment[] }): Promise<void> {
    this.requireConnected();
    const list = request.reassignments;
    if (list.length === 0) return;
    if (list.length > REASSIGNMENTS_PER_REQUEST_MAX) throw new InvalidArgumentError(`at most ${REASSIGNMENTS_PER_REQUEST_MAX} reassignments per call`);
    for (const item of list) {
      if (!Number.isInteger(item.partition) || item.partition < 0) throw new InvalidArgumentError(`partition must be an integer >= 0, got ${item.partition}`);
      if (item.replicas.length === 0 || !item.replicas.every((id) => Number.isInteger(id) && id >= 0)) {
        throw new InvalidArgumentError(`replicas of ${item.topic}/${item.partition} must be a non-empty list of broker ids`);
      }
    }
    const results = await retry(async () => {
      const answers = await this.cluster.wire.reassignPartitions(this.cluster.anyConnection(), list, this.timeoutMs());
      // Retried only when the request failed as a whole (no controller): a partial success must
      // not be sent again, or its started moves would come back as REASSIGNMENT_IN_PROGRESS.
      const first = answers[0];
      if (first !== undefined && answers.every((answer) => answer.errorCode === first.errorCode)) {
        const error = new BrokerError(first.errorCode, first.errorMessage);
        if (error.retriable) throw error;
      }
      return answers;
    }, this.cluster.config.retry);
    checkReassignments(results);
  }

  /**
   * Takes a broker out of service: the controller moves every replica it holds to other brokers
   * (in the background) and shows it DECOMMISSIONED once it holds none. Resolves with how many
   * replicas are being moved.
   */
  async decommissionBroker(brokerId: number): Promise<{ partitionsMoved: number }> {
    this.requireConnected();
    if (!Number.isInteger(brokerId) || brokerId < 0) throw new InvalidArgumentError(`broker id must be an integer >= 0, got ${brokerId}`);
    const answer = await retry(async () => {
      const result = await this.cluster.wire.decommissionBroker(this.cluster.anyConnection(), brokerId, this.timeoutMs());
      if (!isNoError(result.errorCode)) throw new BrokerError(result.errorCode, `decommissioning broker ${brokerId}: ${result.errorMessage}`);
      return result;
    }, this.cluster.config.retry);
    return { partitionsMoved: answer.partitionsMoved };
  }

  /**
   * The earliest, latest (high watermark) or first-at-timestamp offset of every partition of a
   * topic, asking each partition's leader.
   */
  async listOffsets(topic: string, spec: 'earliest' | 'latest' | { timestamp: number } = 'latest'): Promise<PartitionOffsets[]> {
    this.requireConnected();
    const wireSpec: OffsetSpec = spec === 'earliest' ? 'OFFSET_SPEC_EARLIEST' : spec === 'latest' ? 'OFFSET_SPEC_LATEST' : 'OFFSET_SPEC_TIMESTAMP';
    const timestampMs = typeof spec === 'object' ? spec.timestamp : 0;
    return retry(async () => {
      const info = await this.cluster.topicMetadata(topic);
      const byLeader = new Map<number, number[]>();
      for (const partition of info.partitions) {
        const { brokerId } = await this.cluster.leaderConnection(topic, partition.partition);
        let list = byLeader.get(brokerId);
        if (list === undefined) byLeader.set(brokerId, (list = []));
        list.push(partition.partition);
      }
      const offsets: PartitionOffsets[] = [];
      for (const [brokerId, partitions] of byLeader) {
        const request = new Map([[topic, partitions.map((partition) => ({ partition, spec: wireSpec, timestampMs }))]]);
        const results = await this.cluster.wire.listOffsets(this.cluster.connectionToBroker(brokerId), request, this.timeoutMs());
        for (const result of results) {
          if (!isNoError(result.errorCode)) {
            const error = new BrokerError(result.errorCode, `${topic}/${result.partition}: ${result.errorMessage}`);
            if (error.refreshMetadata) this.cluster.invalidate();
            throw error;
          }
          offsets.push({ partition: result.partition, offset: result.offset });
        }
      }
      return offsets.sort((a, b) => a.partition - b.partition);
    }, this.cluster.config.retry);
  }

  // ---- consumer groups (the Groups service; see client/groups-client.ts) ----------------------
  // Each call uses its own short-lived Groups channels, closed when it returns.

  private async withGroups<T>(action: (groups: GroupsClient) => Promise<T>): Promise<T> {
    this.requireConnected();
    const groups = new GroupsClient(this.cluster);
    try {
      return await action(groups);
    } finally {
      groups.close();
    }
  }

  /** Every consumer group of the cluster (each broker lists those it coordinates), sorted by id. */
  async listGroups(): Promise<ListedGroup[]> {
    return this.withGroups((groups) => groups.listGroups());
  }

  /**
   * A group's state, members (assignment bytes decode with consumer/assignors/consumer-protocol.ts),
   * committed offsets, log end offsets and lag. Throws GROUP_ID_NOT_FOUND for an unknown group.
   */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    return this.withGroups((groups) => groups.describeGroup(groupId, true));
  }

  /** Deletes groups without members, with their committed offsets (NON_EMPTY_GROUP otherwise). */
  async deleteGroups(groupIds: string[]): Promise<void> {
    return this.withGroups((groups) => groups.deleteGroups(groupIds));
  }

  /** Moves a group's committed offsets; refused with NON_EMPTY_GROUP while it has members. */
  async resetOffsets(options: ResetOffsetsOptions): Promise<ResetPartitionResult[]> {
    return this.withGroups((groups) => groups.resetOffsets(options));
  }
}
