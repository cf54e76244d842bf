/**
 * The only file that knows proto/brook.proto's message shapes: it loads the contract with
 * @grpc/proto-loader and turns the client's requests into wire messages and wire responses into
 * the client's types. Error codes arrive as the ErrorCode enum's names (enums: String).
 */
import * as grpc from '@grpc/grpc-js';
import { loadBrookProto } from '../proto/brook-proto.js';
import type { BrokerConnection } from './broker-connection.js';
import { encodeProduceRequest, ProduceRequestFrames } from './produce-request-encoder.js';
import type { ClusterMetadata, PartitionInfo } from './cluster.js';

export type Acks = 'ACKS_ALL' | 'ACKS_LEADER' | 'ACKS_NONE';

/** Where the answering broker believes a partition's leader is (with NOT_LEADER_OR_FOLLOWER). */
export interface LeaderHint {
  /** Broker id of the leader; -1 when unknown. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** host:port of the leader's client listener; empty when unknown. */
  readonly address: string;
}

/** A broker as DescribeCluster shows it. */
export interface ClusterBrokerDescription {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string;
  /** LIVE, FENCED (lease expired), DECOMMISSIONING (replicas moving away), DECOMMISSIONED. */
  readonly state: string;
  readonly replicaCount: number;
  readonly leaderCount: number;
  readonly internalAddress: string;
}

export interface ClusterDescription {
  readonly clusterId: string;
  /** The controller's leader; -1 when there is none. */
  readonly controllerId: number;
  readonly controllerVoterIds: readonly number[];
  readonly brokers: readonly ClusterBrokerDescription[];
}

export interface ReassignmentResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface WirePartitionProduce {
  partition: number;
  /** Batches sent back to back as the partition's record_batch (never concatenated here). */
  recordBatches: Buffer[];
}

export interface WireProduceResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly baseOffset: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  readonly currentLeader?: LeaderHint;
}

export interface WireFetchPartition {
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
}

export interface WireFetchResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly recordBatches: Buffer;
  readonly nextFetchOffset: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  readonly currentLeader?: LeaderHint;
}

export type OffsetSpec = 'OFFSET_SPEC_LATEST' | 'OFFSET_SPEC_EARLIEST' | 'OFFSET_SPEC_TIMESTAMP';

export interface WireListOffsetsResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly offset: number;
  readonly timestampMs: number;
  /** With NOT_LEADER_OR_FOLLOWER, when the broker knows the leader. */
  readonly currentLeader?: LeaderHint;
}

export interface TopicResult {
  readonly name: string;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface TopicDescription {
  readonly name: string;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly topicId: string;
  readonly partitions: PartitionInfo[];
  readonly configs: Array<{ name: string; value: string; isDefault: boolean }>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- wire objects are untyped by the loader */
type Wire = any;

function partitionInfo(raw: Wire): PartitionInfo {
  return {
    partition: raw.partition,
    leader: raw.leaderId,
    leaderEpoch: raw.leaderEpoch,
    replicas: raw.replicaIds ?? [],
    isr: raw.inSyncReplicaIds ?? [],
    targetReplicas: raw.targetReplicaIds ?? [],
    errorCode: raw.errorCode,
  };
}

/** A wire LeaderHint, when one was sent with a usable address. */
function leaderHint(raw: Wire): LeaderHint | undefined {
  if (raw === undefined || raw === null || typeof raw.address !== 'string' || raw.address === '') return undefined;
  return { leaderId: raw.leaderId ?? -1, leaderEpoch: raw.leaderEpoch ?? -1, address: raw.address };
}

/** The loaded Brook service: the client constructor and typed calls. */
export class BrookService {
  constructor(readonly client: grpc.ServiceClientConstructor) {}

  async metadata(connection: BrokerConnection, topics: string[], allowAutoTopicCreation: boolean, timeoutMs: number): Promise<ClusterMetadata> {
    const raw: Wire = await connection.call('Metadata', { topics, allowAutoTopicCreation }, timeoutMs);
    return {
      brokers: raw.brokers.map((b: Wire) => ({ id: b.nodeId, host: b.host, port: b.port })),
      controllerId: raw.controllerId,
      topics: raw.topics.map((t: Wire) => ({
        name: t.name,
        errorCode: t.errorCode,
        partitions: t.partitions.map(partitionInfo).sort((a: PartitionInfo, b: PartitionInfo) => a.partition - b.partition),
      })),
    };
  }

  async produce(connection: BrokerConnection, acks: Acks, timeoutMs: number, data: Map<string, WirePartitionProduce[]>): Promise<WireProduceResult[]> {
    const request = new ProduceRequestFrames(acks, timeoutMs, [...data].map(([name, partitions]) => ({ name, partitions })));
    const raw: Wire = await connection.call('Produce', request, timeoutMs + 5_000);
    const results: WireProduceResult[] = [];
    for (const topic of raw.topics) {
      for (const p of topic.partitions) {
        results.push({ topic: topic.name, partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage, baseOffset: p.baseOffset, currentLeader: leaderHint(p.currentLeader) });
      }
    }
    return results;
  }

  async fetch(
    connection: BrokerConnection,
    request: { maxWaitMs: number; minBytes: number; maxBytes: number; topics: Map<string, WireFetchPartition[]> },
    timeoutMs: number,
  ): Promise<WireFetchResult[]> {
    const topics = [...request.topics].map(([name, partitions]) => ({ name, partitions }));
    const raw: Wire = await connection.call('Fetch', { maxWaitMs: request.maxWaitMs, minBytes: request.minBytes, maxBytes: request.maxBytes, topics, decodeRecords: false }, timeoutMs);
    const results: WireFetchResult[] = [];
    for (const topic of raw.topics) {
      for (const p of topic.partitions) {
        results.push({
          topic: topic.name,
          partition: p.partition,
          errorCode: p.errorCode,
          errorMessage: p.errorMessage,
          highWatermark: p.highWatermark,
          logStartOffset: p.logStartOffset,
          recordBatches: p.recordBatches,
          nextFetchOffset: p.nextFetchOffset,
          currentLeader: leaderHint(p.currentLeader),
        });
      }
    }
    return results;
  }

  async listOffsets(
    connection: BrokerConnection,
    topics: Map<string, Array<{ partition: number; spec: OffsetSpec; timestampMs: number }>>,
    timeoutMs: number,
  ): Promise<WireListOffsetsResult[]> {
    const raw: Wire = await connection.call('ListOffsets', { topics: [...topics].map(([name, partitions]) => ({ name, partitions })) }, timeoutMs);
    const results: WireListOffsetsResult[] = [];
    for (const topic of raw.topics) {
      for (const p of topic.partitions) {
        results.push({
          topic: topic.name,
          partition: p.partition,
          errorCode: p.errorCode,
          errorMessage: p.errorMessage,
          offset: p.offset,
          timestampMs: p.timestampMs,
          currentLeader: leaderHint(p.currentLeader),
        });
      }
    }
    return results;
  }

  async createTopics(
    connection: BrokerConnection,
    topics: Array<{ name: string; numPartitions: number; replicationFactor: number; configs: Record<string, string> }>,
    validateOnly: boolean,
    timeoutMs: number,
  ): Promise<TopicResult[]> {
    const raw: Wire = await connection.call('CreateTopics', { topics, validateOnly }, timeoutMs);
    return raw.results;
  }

  async deleteTopics(connection: BrokerConnection, names: string[], timeoutMs: number): Promise<TopicResult[]> {
    const raw: Wire = await connection.call('DeleteTopics', { names }, timeoutMs);
    return raw.results;
  }

  async describeTopics(connection: BrokerConnection, names: string[], timeoutMs: number): Promise<TopicDescription[]> {
    const raw: Wire = await connection.call('DescribeTopics', { names }, timeoutMs);
    return raw.topics.map((t: Wire) => ({
      name: t.name,
      errorCode: t.errorCode,
      errorMessage: t.errorMessage,
      topicId: t.topicId,
      partitions: t.partitions.map(partitionInfo).sort((a: PartitionInfo, b: PartitionInfo) => a.partition - b.partition),
      configs: t.configs.map((c: Wire) => ({ name: c.name, value: c.value, isDefault: c.isDefault })),
    }));
  }

  async alterTopicConfigs(
    connection: BrokerConnection,
    topics: Array<{ name: string; set: Record<string, string>; remove: string[] }>,
    validateOnly: boolean,
    timeoutMs: number,
  ): Promise<TopicResult[]> {
    const raw: Wire = await connection.call('AlterTopicConfigs', { topics, validateOnly }, timeoutMs);
    return raw.results;
  }

  async createPartitions(connection: BrokerConnection, topics: Array<{ name: string; totalCount: number }>, validateOnly: boolean, timeoutMs: number): Promise<TopicResult[]> {
    const raw: Wire = await connection.call('CreatePartitions', { topics, validateOnly }, timeoutMs);
    return raw.results;
  }

  async describeCluster(connection: BrokerConnection, timeoutMs: number): Promise<ClusterDescription> {
    const raw: Wire = await connection.call('DescribeCluster', {}, timeoutMs);
    return {
      clusterId: raw.clusterId,
      controllerId: raw.controllerId,
      controllerVoterIds: raw.controllerVoterIds ?? [],
      brokers: (raw.brokers ?? []).map((b: Wire) => ({
        id: b.broker?.nodeId ?? -1,
        host: b.broker?.host ?? '',
        port: b.broker?.port ?? 0,
        rack: b.broker?.rack ?? '',
        state: b.state,
        replicaCount: b.replicaCount,
        leaderCount: b.leaderCount,
        internalAddress: b.internalAddress,
      })),
    };
  }

  async reassignPartitions(
    connection: BrokerConnection,
    reassignments: ReadonlyArray<{ topic: string; partition: number; replicas: readonly number[] }>,
    timeoutMs: number,
  ): Promise<ReassignmentResult[]> {
    const request = { reassignments: reassignments.map((item) => ({ topic: item.topic, partition: item.partition, replicaIds: [...item.replicas] })) };
    const raw: Wire = await connection.call('ReassignPartitions', request, timeoutMs);
    return raw.results;
  }

  async decommissionBroker(connection: BrokerConnection, nodeId: number, timeoutMs: number): Promise<{ errorCode: string; errorMessage: string; partitionsMoved: number }> {
    return connection.call('DecommissionBroker', { nodeId }, timeoutMs);
  }
}

let loaded: BrookService | undefined;

/** The Brook service, loaded from proto/brook.proto once per process. */
export function loadBrookService(): BrookService {
  loaded ??= new BrookService(withProduceEncoder(loadBrookProto().Client));
  return loaded;
}

/**
 * The Brook client constructor with Produce requests built as ProduceRequestFrames encoded by
 * encodeProduceRequest (one copy of the batches) and any other request by the generic encoder.
 */
function withProduceEncoder(client: grpc.ServiceClientConstructor): grpc.ServiceClientConstructor {
  const produce = client.service.Produce;
  const encode = produce.requestSerialize;
  const service: grpc.ServiceDefinition = {
    ...client.service,
    Produce: { ...produce, requestSerialize: (request: unknown) => (request instanceof ProduceRequestFrames ? encodeProduceRequest(request) : encode(request)) },
  };
  return grpc.makeGenericClientConstructor(service, client.serviceName);
}
