/**
 * Produce: validate each partition's data, route it to the partition, append, and answer per the
 * requested acks. record_batch bytes are checked by their headers (framing, codec, control bit;
 * the log checks CRCs) and appended as they are; plain records are encoded into one batch first.
 */
import { status } from '@grpc/grpc-js';
import type {
  Acks,
  ErrorCode,
  LeaderHint,
  PartitionProduceData,
  PartitionProduceResponse,
  ProduceRequest,
  ProduceResponse,
  TopicProduceResponse,
} from '../../proto/brook-types.js';
import { COMPRESSION_CODEC_IDS } from '../../proto/brook-types.js';
import { ATTR_COMPRESSION_MASK, ATTR_CONTROL, attributesAt, batchSizeAt, checkBatchAt, Codec } from '../../record/batch-header.js';
import { validateBatchRecords } from '../../record/record-batch.js';
import type { ProduceRecord } from '../../record/record.js';
import type { ApiContext } from './api-context.js';
import { ByteBudget } from './byte-budget.js';
import { metricsOf } from '../metrics/context-metrics.js';
import { mapError } from './error-codes.js';
import { refuseInternal } from './internal-topic-guard.js';
import { routePartition } from './partition-route.js';
import { StatusError } from './status-error.js';
import type { AppendOutcome, ServedPartition, ServedTopic } from './topic-service.js';

const ACKS: ReadonlySet<string> = new Set<Acks>(['ACKS_ALL', 'ACKS_LEADER', 'ACKS_NONE']);
/** Rough protobuf overhead counted per plain record against the in-flight byte budget. */
const PLAIN_RECORD_OVERHEAD_BYTES = 16;

/** A partition's outcome before the append: either an error or the bytes to append. */
type Prepared = { partition: ServedPartition; bytes: Buffer } | { errorCode: ErrorCode; errorMessage: string; currentLeader?: LeaderHint };

export class ProduceHandler {
  private readonly inFlight: ByteBudget;
  private readonly metrics: ReturnType<typeof metricsOf>;

  constructor(private readonly context: ApiContext) {
    this.inFlight = new ByteBudget(context.config.inFlightProduceBytesMax);
    this.metrics = metricsOf(context);
  }

  async produce(request: ProduceRequest): Promise<ProduceResponse> {
    const startedMs = performance.now();
    const response = await this.produceCounted(request);
    if (this.metrics !== undefined) {
      const acks = (request.acks ?? 'ACKS_ALL') as string;
      if (ACKS.has(acks)) this.metrics.produceAnswered(acks, (performance.now() - startedMs) / 1000);
      for (const topic of response.topics) {
        for (const partition of topic.partitions) if (partition.errorCode !== 'NONE') this.metrics.error('produce', partition.errorCode);
      }
    }
    return response;
  }

  private async produceCounted(request: ProduceRequest): Promise<ProduceResponse> {
    const acks = (request.acks ?? 'ACKS_ALL') as string;
    if (!ACKS.has(acks)) return rejectAll(request, 'INVALID_REQUIRED_ACKS', `acks must be one of ${[...ACKS].join(', ')}, got ${String(acks)}`);
    const payloadBytes = requestPayloadBytes(request);
    if (!this.inFlight.tryAcquire(payloadBytes)) {
      this.metrics?.error('produce', 'RESOURCE_EXHAUSTED');
      throw new StatusError(status.RESOURCE_EXHAUSTED, `the broker is appending ${this.inFlight.inUseBytes} bytes already (in.flight.produce.bytes.max)`);
    }
    const appends: Array<Promise<unknown>> = [];
    try {
      const response = await this.produceTopics(request, acks as Acks, appends);
      return response;
    } finally {
      void Promise.allSettled(appends).then(() => this.inFlight.release(payloadBytes));
    }
  }

  private async produceTopics(request: ProduceRequest, acks: Acks, appends: Array<Promise<unknown>>): Promise<ProduceResponse> {
    const { config } = this.context;
    const requested = request.timeoutMs ?? 0;
    const timeoutMs = requested <= 0 ? config.produceTimeoutMsDefault : Math.min(requested, config.produceTimeoutMsMax);
    const answers: Array<Promise<TopicProduceResponse>> = [];
    for (const topicData of request.topics ?? []) {
      answers.push(this.produceTopic(topicData.name, topicData.partitions ?? [], acks, timeoutMs, appends));
    }
    return { topics: await Promise.all(answers) };
  }

  private async produceTopic(
    name: string,
    partitionsData: readonly PartitionProduceData[],
    acks: Acks,
    timeoutMs: number,
    appends: Array<Promise<unknown>>,
  ): Promise<TopicProduceResponse> {
    this.metrics?.produceTopicRequest(name);
    let topic: ServedTopic;
    try {
      topic = await this.context.topics.getOrAutoCreate(refuseInternal(name));
    } catch (error) {
      const mapped = this.mapped(error);
      return { name, partitions: partitionsData.map((data) => failed(data.partition, mapped.errorCode, mapped.errorMessage)) };
    }
    const seen = new Set<number>();
    const prepared: Prepared[] = [];
    for (const data of partitionsData) {
      if (seen.has(data.partition)) {
        prepared.push({ errorCode: 'INVALID_REQUEST', errorMessage: `partition ${data.partition} appears twice in the request` });
        continue;
      }
      seen.add(data.partition);
      prepared.push(await this.prepare(topic, data));
    }
    const partitions = await Promise.all(
      prepared.map((item, index) => {
        const partitionIndex = partitionsData[index].partition;
        if (!('bytes' in item)) return failed(partitionIndex, item.errorCode, item.errorMessage, item.currentLeader);
        return this.append(item.partition, item.bytes, acks, timeoutMs, appends);
      }),
    );
    return { name, partitions };
  }

  /** Checks one partition's data and produces the bytes to append, or the error to report. */
  private async prepare(topic: ServedTopic, data: PartitionProduceData): Promise<Prepared> {
    const route = routePartition(this.context.topics, topic, data.partition);
    if (route === undefined) {
      return { errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${topic.name} has no partition ${data.partition} (it has ${topic.partitions.length})` };
    }
    if (route.refusal !== undefined) return route.refusal;
    const partition = route.partition;
    const batch = data.recordBatch;
    const hasBatch = batch !== undefined && batch.length > 0;
    const hasRecords = data.records !== undefined && data.records.length > 0;
    if (hasBatch === hasRecords) {
      return { errorCode: 'INVALID_REQUEST', errorMessage: 'exactly one of record_batch and records must be set' };
    }
    if (hasBatch) {
      const bytes = Buffer.isBuffer(batch) ? batch : Buffer.from(batch.buffer, batch.byteOffset, batch.length);
      const problem = checkClientBatches(bytes) ?? (await this.checkRecords(bytes));
      return problem === null ? { partition, bytes } : problem;
    }
    try {
      const compression = data.compression ?? 'COMPRESSION_NONE';
      const codec = COMPRESSION_CODEC_IDS[compression as keyof typeof COMPRESSION_CODEC_IDS] as Codec | undefined;
      if (codec === undefined) return { errorCode: 'UNSUPPORTED_COMPRESSION_TYPE', errorMessage: `unknown compression ${String(compression)}` };
      const records: ProduceRecord[] = data.records!.map((record) => ({
        key: record.key === undefined ? null : toBuffer(record.key),
        value: record.value === undefined ? null : toBuffer(record.value),
        headers: (record.headers ?? []).map((header) => ({ key: header.key, value: header.value === undefined ? null : toBuffer(header.value) })),
        timestamp: record.timestampMs,
      }));
      const bytes = await this.context.pool.encodeBatch(records, { codec, nowMs: this.context.clock.nowMs() });
      return { partition, bytes };
    } catch (error) {
      const mapped = this.mapped(error);
      return { errorCode: mapped.errorCode, errorMessage: mapped.errorMessage };
    }
  }

  private async append(partition: ServedPartition, bytes: Buffer, acks: Acks, timeoutMs: number, appends: Array<Promise<unknown>>): Promise<PartitionProduceResponse> {
    let appended: Promise<AppendOutcome>;
    const metrics = this.metrics;
    // Counted before the append: the log takes the buffer over and stamps it.
    const count = metrics === undefined ? undefined : metrics.produced.bind(metrics, partition.topic, bytes.length, countBatches(bytes));
    try {
      // acks=none is appended as acks=leader: nobody waits for it, and the leader's write is the cheapest.
      appended = partition.append(bytes, acks === 'ACKS_ALL' ? 'all' : 'leader');
    } catch (error) {
      return this.appendFailed(partition, error);
    }
    if (count !== undefined) appended.then(count, () => undefined);
    appends.push(appended.catch(() => undefined));
    if (acks === 'ACKS_NONE') {
      appended.catch((error: unknown) => this.context.logger.warn({ err: error, topic: partition.topic, partition: partition.index }, 'acks=none append failed'));
      return { partition: partition.index, errorCode: 'NONE', errorMessage: '', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const result = await Promise.race([appended, timedOut]);
      if (result === 'timeout') {
        return failed(partition.index, 'REQUEST_TIMED_OUT', `the append was not acknowledged within ${timeoutMs} ms; it may still complete`);
      }
      return {
        partition: partition.index,
        errorCode: 'NONE',
        errorMessage: '',
        baseOffset: result.baseOffset,
        logAppendTimeMs: result.logAppendTimeMs,
        logStartOffset: partition.logStartOffset,
      };
    } catch (error) {
      return this.appendFailed(partition, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A failed append's answer; when leadership moved meanwhile, with the leader as known now. */
  private appendFailed(partition: ServedPartition, error: unknown): PartitionProduceResponse {
    const mapped = this.mapped(error);
    const carried = typeof error === 'object' && error !== null ? (error as { currentLeader?: LeaderHint }).currentLeader : undefined;
    const currentLeader = mapped.errorCode === 'NOT_LEADER_OR_FOLLOWER' ? (carried ?? partition.leadership()?.currentLeader) : undefined;
    return failed(partition.index, mapped.errorCode, mapped.errorMessage, currentLeader);
  }

  /**
   * Walks every record of batches whose headers already passed checkClientBatches, so a batch
   * whose CRC is right but whose records lie (a recordCount, a length, an offset delta) is refused
   * here instead of being stored and breaking every consumer later. Uncompressed batches are walked
   * inline without objects and without the CRC (the log checks that while it writes); compressed
   * ones go through the pool, which decompresses large ones on a worker.
   */
  private async checkRecords(bytes: Buffer): Promise<{ errorCode: ErrorCode; errorMessage: string } | null> {
    let position = 0;
    try {
      for (; position < bytes.length; position += batchSizeAt(bytes, position)) {
        if ((attributesAt(bytes, position) & ATTR_COMPRESSION_MASK) === Codec.None) validateBatchRecords(bytes, position);
        else await this.context.pool.validateBatch(bytes, position);
      }
      return null;
    } catch (error) {
      const mapped = this.mapped(error);
      return { errorCode: mapped.errorCode, errorMessage: `record batch at byte ${position}: ${mapped.errorMessage}` };
    }
  }

  private mapped(error: unknown): ReturnType<typeof mapError> {
    const mapped = mapError(error);
    if (!mapped.expected) this.context.logger.error({ err: error }, 'unexpected produce error');
    return mapped;
  }
}

/**
 * Checks what the log does not: every frame's header is sane, its codec is known, and it is not
 * a control batch (only the broker writes those). CRCs are checked by the log on append.
 */
function checkClientBatches(bytes: Buffer): { errorCode: ErrorCode; errorMessage: string } | null {
  for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
    const problem = checkBatchAt(bytes, position, bytes.length, false);
    if (problem !== null) return { errorCode: 'CORRUPT_MESSAGE', errorMessage: `record batch at byte ${position}: ${problem}` };
    const attributes = attributesAt(bytes, position);
    if ((attributes & ATTR_COMPRESSION_MASK) > Codec.Zstd) {
      return { errorCode: 'UNSUPPORTED_COMPRESSION_TYPE', errorMessage: `record batch at byte ${position}: unknown codec ${attributes & ATTR_COMPRESSION_MASK}` };
    }
    if ((attributes & ATTR_CONTROL) !== 0) {
      return { errorCode: 'INVALID_RECORD', errorMessage: `record batch at byte ${position} is a control batch; clients may not produce those` };
    }
  }
  return null;
}

/** Record batches in `bytes` (already checked whole), read from their headers. */
function countBatches(bytes: Buffer): number {
  let batches = 0;
  for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) batches++;
  return batches;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function failed(partition: number, errorCode: ErrorCode, errorMessage: string, currentLeader?: LeaderHint): PartitionProduceResponse {
  const response: PartitionProduceResponse = { partition, errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
  if (currentLeader !== undefined) response.currentLeader = currentLeader;
  return response;
}

function rejectAll(request: ProduceRequest, errorCode: ErrorCode, errorMessage: string): ProduceResponse {
  return {
    topics: (request.topics ?? []).map((topic) => ({
      name: topic.name,
      partitions: (topic.partitions ?? []).map((data) => failed(data.partition, errorCode, errorMessage)),
    })),
  };
}

/** Bytes a request holds while it is appended: its batches, or its plain records' fields. */
function requestPayloadBytes(request: ProduceRequest): number {
  let total = 0;
  for (const topic of request.topics ?? []) {
    for (const data of topic.partitions ?? []) {
      total += data.recordBatch?.length ?? 0;
      for (const record of data.records ?? []) {
        total += (record.key?.length ?? 0) + (record.value?.length ?? 0) + PLAIN_RECORD_OVERHEAD_BYTES;
        for (const header of record.headers ?? []) total += header.key.length + (header.value?.length ?? 0);
      }
    }
  }
  return total;
}
