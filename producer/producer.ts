/**
 * The Brook producer: `send` puts records into per-partition batches (the accumulator) and a
 * sender ships them, one Produce request per broker. See client/README.md for examples.
 *
 * Lifecycle, as a table of allowed transitions (anything else throws StateError):
 *
 *   from           to
 *   idle           connecting
 *   connecting     connected, idle (connect failed)
 *   connected      disconnecting
 *   disconnecting  disconnected
 *   disconnected   connecting
 */
import assert from 'node:assert';
import { CodecPool } from '../record/codec-pool.js';
import { Cluster, type ClusterOptions } from '../client/cluster.js';
import { Lifecycle } from '../client/lifecycle.js';
import { InvalidArgumentError, StateError } from '../client/errors.js';
import { DEFAULT_RETRY, type RetryConfig } from '../client/retry.js';
import type { Acks } from '../client/service.js';
import { Codec } from '../record/record-batch.js';
import { RecordAccumulator, estimateRecordBytes, type BatchOptions, type PendingRecord, type ProducerBatch, type RecordHeader } from './accumulator.js';
import { MemoryBudget } from './memory-budget.js';
import { createDefaultPartitioner, type Partitioner } from './partitioner.js';
import { Sender } from './sender.js';

export type ProducerState = 'idle' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';

export const PRODUCER_TRANSITIONS: Readonly<Record<ProducerState, readonly ProducerState[]>> = {
  idle: ['connecting'],
  connecting: ['connected', 'idle'],
  connected: ['disconnecting'],
  disconnecting: ['disconnected'],
  disconnected: ['connecting'],
};

export type AcksSetting = 'all' | 'leader' | 'none' | -1 | 0 | 1;
export type CompressionSetting = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd' | Codec;

export interface ProducerConfig {
  /** Bootstrap brokers, "host:port" (an array or a comma-separated string). */
  brokers: readonly string[] | string;
  clientId?: string;
  /** Default acks for send(): 'all' (durable), 'leader', or 'none'. */
  acks?: AcksSetting;
  /** Default compression for send(). */
  compression?: CompressionSetting;
  /** A partition's batch is sent once it holds this many bytes. */
  batchBytes?: number;
  /** Upper bound of records in one batch. */
  batchRecordsMax?: number;
  /** How long a batch that is not full waits for more records before it is sent. */
  lingerMs?: number;
  /** Bound on memory held by records not yet acknowledged; send() waits when it is spent. */
  bufferMemoryBytes?: number;
  /** Longest send() waits for buffer memory before failing with a TimeoutError. */
  maxBlockMs?: number;
  maxInFlightRequestsPerBroker?: number;
  /** 1 (default) keeps each partition in send order even across retries; more pipelines writes. */
  maxInFlightRequestsPerPartition?: number;
  /** Batches are combined into one request up to this many bytes. */
  maxRequestBytes?: number;
  requestTimeoutMs?: number;
  /** A record not acknowledged this long after send() fails with a TimeoutError. */
  deliveryTimeoutMs?: number;
  retry?: Partial<RetryConfig>;
  /** Chooses the partition of records sent without one. Default: murmur2 of key, sticky without key. */
  partitioner?: Partitioner;
  allowAutoTopicCreation?: boolean;
  metadataMaxAgeMs?: number;
  /** Pool that compresses large batches off the main thread; the producer makes one if needed. */
  codecPool?: CodecPool;
}

export const PRODUCER_DEFAULTS = {
  clientId: 'brook-producer',
  acks: 'all' as AcksSetting,
  compression: 'none' as CompressionSetting,
  batchBytes: 256 * 1024,
  batchRecordsMax: 100_000,
  lingerMs: 0,
  bufferMemoryBytes: 64 * 1024 * 1024,
  maxBlockMs: 60_000,
  maxInFlightRequestsPerBroker: 5,
  maxInFlightRequestsPerPartition: 1,
  maxRequestBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  deliveryTimeoutMs: 120_000,
};

interface Placements {
  readonly batches: ProducerBatch[];
  readonly indexes: Int32Array;
}

export type HeaderValue = string | Buffer | null;

/** A record to send. Strings are encoded as UTF-8. */
export interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue> | Array<{ key: string; value: HeaderValue }>;
  /** Explicit partition; otherwise the partitioner chooses. */
  partition?: number;
  /** CreateTime, milliseconds since the epoch (number or numeric string); defaults to now. */
  timestamp?: number | string;
}

export interface SendRequest {
  topic: string;
  messages: readonly Message[];
  acks?: AcksSetting;
  compression?: CompressionSetting;
}

/** Where one record went. `offset` is -1 with acks 'none' (the broker does not say). */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

const ACKS_BY_SETTING: Record<string, Acks> = { all: 'ACKS_ALL', '-1': 'ACKS_ALL', leader: 'ACKS_LEADER', '1': 'ACKS_LEADER', none: 'ACKS_NONE', '0': 'ACKS_NONE' };
const CODEC_BY_NAME: Record<string, Codec> = { none: Codec.None, gzip: Codec.Gzip, snappy: Codec.Snappy, lz4: Codec.Lz4, zstd: Codec.Zstd };

export function acksFromSetting(setting: AcksSetting): Acks {
  const acks = ACKS_BY_SETTING[String(setting)];
  if (acks === undefined) throw new InvalidArgumentError(`acks must be all, leader or none (or -1, 1, 0), not ${setting}`);
  return acks;
}

export function codecFromSetting(setting: CompressionSetting): Codec {
  const codec = typeof setting === 'number' ? setting : CODEC_BY_NAME[setting];
  if (codec === undefined || codec < Codec.None || codec > Codec.Zstd) throw new InvalidArgumentError(`compression must be none, gzip, snappy, lz4 or zstd, not ${setting}`);
  return codec;
}

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

/** Records without headers share this array; the encoder only reads it. */
const NO_HEADERS: RecordHeader[] = [];

function toHeaders(headers: Message['headers']): RecordHeader[] {
  if (headers === undefined) return NO_HEADERS;
  if (Array.isArray(headers)) return headers.map((h) => ({ key: h.key, value: toBuffer(h.value) }));
  return Object.entries(headers).map(([key, value]) => ({ key, value: toBuffer(value) }));
}

function toTimestamp(timestamp: Message['timestamp'], nowMs: number): number {
  if (timestamp === undefined) return nowMs;
  const value = typeof timestamp === 'string' ? Number(timestamp) : timestamp;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`timestamp ${timestamp} is not a non-negative integer of milliseconds`);
  return value;
}

export class Producer {
  private readonly lifecycle = new Lifecycle<ProducerState>('producer', PRODUCER_TRANSITIONS, 'idle');
  readonly cluster: Cluster;
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly partitioner: Partitioner;
  private readonly defaults: { acks: Acks; codec: Codec };
  private readonly maxBlockMs: number;
  private codecPool: CodecPool | undefined;
  private readonly ownsCodecPool: boolean;

  constructor(config: ProducerConfig) {
    const settings = { ...PRODUCER_DEFAULTS, ...config };
    const retry = { ...DEFAULT_RETRY, ...config.retry };
    const clusterConfig: ClusterOptions = {
      brokers: config.brokers,
      clientId: settings.clientId,
      requestTimeoutMs: settings.requestTimeoutMs,
      retry,
      allowAutoTopicCreation: settings.allowAutoTopicCreation ?? true,
      ...(settings.metadataMaxAgeMs !== undefined ? { metadataMaxAgeMs: settings.metadataMaxAgeMs } : {}),
    };
    this.cluster = new Cluster(clusterConfig);
    for (const [name, value] of Object.entries({ batchBytes: settings.batchBytes, bufferMemoryBytes: settings.bufferMemoryBytes, maxInFlightRequestsPerBroker: settings.maxInFlightRequestsPerBroker, maxInFlightRequestsPerPartition: settings.maxInFlightRequestsPerPartition, maxRequestBytes: settings.maxRequestBytes, batchRecordsMax: settings.batchRecordsMax })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    }
    if (!(settings.lingerMs >= 0)) throw new InvalidArgumentError('lingerMs must be >= 0');
    this.defaults = { acks: acksFromSetting(settings.acks), codec: codecFromSetting(settings.compression) };
    this.maxBlockMs = settings.maxBlockMs;
    this.codecPool = config.codecPool;
    this.ownsCodecPool = config.codecPool === undefined;
    this.accumulator = new RecordAccumulator(
      { batchBytes: settings.batchBytes, lingerMs: settings.lingerMs, batchRecordsMax: settings.batchRecordsMax },
      new MemoryBudget(settings.bufferMemoryBytes),
    );
    this.sender = new Sender(this.cluster, this.accumulator, {
      requestTimeoutMs: settings.requestTimeoutMs,
      maxInFlightRequestsPerBroker: settings.maxInFlightRequestsPerBroker,
      maxInFlightRequestsPerPartition: settings.maxInFlightRequestsPerPartition,
      maxRequestBytes: settings.maxRequestBytes,
      deliveryTimeoutMs: settings.deliveryTimeoutMs,
      retry,
    }, (batch, nowMs) => this.encodeBatch(batch, nowMs));
    this.partitioner = config.partitioner ?? createDefaultPartitioner({ stickyBytes: settings.batchBytes });
  }

  get currentState(): ProducerState {
    return this.lifecycle.state;
  }

  /** Fetches cluster metadata from the bootstrap brokers. */
  async connect(): Promise<void> {
    this.lifecycle.moveTo('connecting');
    try {
      await this.cluster.connect();
    } catch (error) {
      this.lifecycle.moveTo('idle');
      throw error;
    }
    this.lifecycle.moveTo('connected');
  }

  /**
   * Sends records to one topic. Resolves once all of them are acknowledged as `acks` asks, with
   * each record's partition and offset in the order of `messages`. Waits (backpressure) while the
   * producer's buffer memory is full.
   */
  async send(request: SendRequest): Promise<RecordMetadata[]> {
    if (this.lifecycle.state !== 'connected') throw new StateError(`send needs a connected producer (state: ${this.lifecycle.state})`);
    if (typeof request.topic !== 'string' || request.topic.length === 0) throw new InvalidArgumentError('topic must be a non-empty string');
    if (!Array.isArray(request.messages)) throw new InvalidArgumentError('messages must be an array');
    const options: BatchOptions = {
      acks: request.acks === undefined ? this.defaults.acks : acksFromSetting(request.acks),
      codec: request.compression === undefined ? this.defaults.codec : codecFromSetting(request.compression),
    };
    const placements = await this.appendAll(request.topic, request.messages, options);
    this.sender.wakeup();
    return this.awaitPlacements(request.topic, placements);
  }

  /** Sends to several topics at once; resolves with every record's metadata, topic by topic. */
  async sendBatch(request: { topicMessages: Array<{ topic: string; messages: readonly Message[] }>; acks?: AcksSetting; compression?: CompressionSetting }): Promise<RecordMetadata[]> {
    const results = await Promise.all(request.topicMessages.map((entry) => this.send({ topic: entry.topic, messages: entry.messages, acks: request.acks, compression: request.compression })));
    return results.flat();
  }

  /** Where each message of a send went: its batch and index there, in parallel arrays. */
  private async appendAll(topic: string, messages: readonly Message[], options: BatchOptions): Promise<Placements> {
    const info = await this.cluster.topicMetadata(topic);
    const partitionCount = info.partitions.length;
    const available = info.partitions.filter((p) => p.leader >= 0).map((p) => p.partition);
    const placements: Placements = { batches: new Array(messages.length), indexes: new Int32Array(messages.length) };
    // One input object for every partitioner call of this send: no allocation per record.
    const input = { topic, partitionCount, availablePartitions: available, key: null as Buffer | null, value: null as Buffer | null, recordBytes: 0 };
    let nowMs = Date.now();
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      const record: PendingRecord = { key: toBuffer(message.key), value: toBuffer(message.value), headers: toHeaders(message.headers), timestamp: toTimestamp(message.timestamp, nowMs) };
      const recordBytes = estimateRecordBytes(record);
      let partition = message.partition;
      if (partition === undefined) {
        input.key = record.key;
        input.value = record.value;
        input.recordBytes = recordBytes;
        partition = this.partitioner(input);
      }
      if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
        throw new InvalidArgumentError(`partition ${partition} is not in 0..${partitionCount - 1} of topic ${topic}`);
      }
      let batch = this.accumulator.tryAppend(topic, partition, record, recordBytes, nowMs, options)?.batch;
      if (batch === undefined) {
        // Buffer memory is spent: make every batch sendable now, then wait for acks to free some.
        this.sender.wakeup();
        await this.accumulator.memory.reserve(recordBytes, this.maxBlockMs);
        nowMs = Date.now();
        batch = this.accumulator.appendReserved(topic, partition, record, recordBytes, nowMs, options).batch;
      }
      placements.batches[i] = batch;
      placements.indexes[i] = batch.recordCount - 1;
    }
    return placements;
  }

  private async awaitPlacements(topic: string, placements: Placements): Promise<RecordMetadata[]> {
    const distinct = [...new Set(placements.batches)];
    const baseOffsets = await Promise.all(distinct.map((batch) => batch.result));
    const baseOffsetOf = new Map<ProducerBatch, number>();
    distinct.forEach((batch, i) => baseOffsetOf.set(batch, baseOffsets[i]));
    const results: RecordMetadata[] = new Array(placements.batches.length);
    let lastBatch: ProducerBatch | undefined = undefined;
    let baseOffset = -1;
    for (let i = 0; i < results.length; i++) {
      const batch = placements.batches[i];
      if (batch !== lastBatch) {
        lastBatch = batch;
        baseOffset = baseOffsetOf.get(batch)!;
      }
      results[i] = { topic, partition: batch.partition, offset: baseOffset < 0 ? -1 : baseOffset + placements.indexes[i] };
    }
    return results;
  }

  /** Sends every buffered record now and resolves when all have completed (ack or failure). */
  async flush(): Promise<void> {
    this.accumulator.beginFlush();
    try {
      for (;;) {
        const pending = this.accumulator.pendingBatches();
        if (pending.length === 0) return;
        this.sender.wakeup();
        await Promise.allSettled(pending.map((batch) => batch.result));
      }
    } finally {
      this.accumulator.endFlush();
    }
  }

  /** Flushes buffered records, then closes connections. */
  async disconnect(): Promise<void> {
    if (this.lifecycle.state === 'idle' || this.lifecycle.state === 'disconnected') return;
    this.lifecycle.moveTo('disconnecting');
    try {
      await this.flush();
    } finally {
      this.sender.stop();
      this.accumulator.memory.failWaiters(new StateError('producer disconnected'));
      this.accumulator.abortQueued(new StateError('producer disconnected'));
      this.cluster.close();
      if (this.ownsCodecPool && this.codecPool !== undefined) {
        await this.codecPool.close();
        this.codecPool = undefined;
      }
      this.lifecycle.moveTo('disconnected');
    }
  }

  /** Encodes a batch; the pool compresses large compressed batches on a worker thread. */
  private encodeBatch(batch: ProducerBatch, nowMs: number): Promise<Buffer> {
    assert(batch.records.length > 0 && batch.records.length === batch.recordCount, 'a batch is encoded once, with all its records');
    // Workers start only when a compressed batch is large enough to go to one.
    this.codecPool ??= new CodecPool();
    return this.codecPool.encodeBatch(batch.records, { codec: batch.options.codec as Codec, nowMs });
  }
}
