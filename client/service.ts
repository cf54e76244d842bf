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
}

export type OffsetSpec = 'OFFSET_SPEC_LATEST' | 'OFFSET_SPEC_EARLIEST' | 'OFFSET_SPEC_TIMESTAMP';

export interface WireListOffsetsResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly offset: number;
  readonly timestampMs: number;
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
    errorCode: raw.errorCode,
  };
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
        results.push({ topic: topic.name, partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage, baseOffset: p.baseOffset });
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
        results.push({ topic: topic.name, partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage, offset: p.offset, timestampMs: p.timestampMs });
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
