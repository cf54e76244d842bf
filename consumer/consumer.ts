/**
 * The Brook consumer (without groups): assign partitions with a start offset, then read with
 * `for await (const message of consumer)` or `run({ eachMessage | eachBatch })`. A background
 * fetcher long-polls each partition leader, with the buffered (prefetched) bytes bounded by
 * `maxPrefetchBytes`; decompression runs in the codec pool. See client/README.md for examples.
 *
 * Lifecycle, as a table of allowed transitions (anything else throws StateError):
 *
 *   from           to
 *   idle           connecting
 *   connecting     connected, idle (connect failed)
 *   connected      running (run() started), disconnecting
 *   running        connected (run() ended), disconnecting
 *   disconnecting  disconnected
 *   disconnected   connecting
 */
import { Cluster, type ClusterOptions } from '../client/cluster.js';
import { Lifecycle } from '../client/lifecycle.js';
import { BrokerError, BrookError, InvalidArgumentError, isNoError, StateError } from '../client/errors.js';
import { backoffMs, DEFAULT_RETRY, type RetryConfig } from '../client/retry.js';
import type { OffsetSpec, WireFetchPartition } from '../client/service.js';
import { CodecPool } from '../record/codec-pool.js';
import { nextFetchOffsetOf, readFetchedRecords, type ConsumerMessage } from './fetched-records.js';
import { PartitionState, type StartOffset } from './partition-state.js';
import { Signal } from './signal.js';

export type { ConsumerMessage } from './fetched-records.js';
export type { StartOffset } from './partition-state.js';

export type ConsumerState = 'idle' | 'connecting' | 'connected' | 'running' | 'disconnecting' | 'disconnected';

export const CONSUMER_TRANSITIONS: Readonly<Record<ConsumerState, readonly ConsumerState[]>> = {
  idle: ['connecting'],
  connecting: ['connected', 'idle'],
  connected: ['running', 'disconnecting'],
  running: ['connected', 'disconnecting'],
  disconnecting: ['disconnected'],
  disconnected: ['connecting'],
};

export interface ConsumerConfig {
  brokers: readonly string[] | string;
  clientId?: string;
  /** Bound on fetched messages held before the application reads them (approximate, +1 batch). */
  maxPrefetchBytes?: number;
  /** Bound on one partition's data in one fetch response. */
  maxBytesPerPartition?: number;
  /** Longest a fetch waits on the broker for data (long poll). */
  maxWaitMs?: number;
  /** The broker answers a fetch once this many bytes are ready. */
  minBytes?: number;
  requestTimeoutMs?: number;
  /** What to do when the position is outside the log: go to the earliest or latest offset, or fail. */
  offsetResetPolicy?: 'earliest' | 'latest' | 'error';
  /** Messages handed to one eachBatch call at most. */
  batchMessagesMax?: number;
  /** Fetches outstanding to one broker at once, each for different partitions. */
  fetchesInFlightPerBrokerMax?: number;
  retry?: Partial<RetryConfig>;
  metadataMaxAgeMs?: number;
  /** Pool that decompresses large batches off the main thread; the consumer makes one if needed. */
  codecPool?: CodecPool;
}

export const CONSUMER_DEFAULTS = {
  clientId: 'brook-consumer',
  maxPrefetchBytes: 64 * 1024 * 1024,
  maxBytesPerPartition: 8 * 1024 * 1024,
  maxWaitMs: 500,
  minBytes: 1,
  requestTimeoutMs: 30_000,
  offsetResetPolicy: 'latest' as 'earliest' | 'latest' | 'error',
  batchMessagesMax: 10_000,
  fetchesInFlightPerBrokerMax: 2,
};

/** Messages taken from one partition before the reader moves on to the next (fairness). */
const MESSAGES_PER_TURN = 1_000;

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** Where to start; default 'latest'. */
  offset?: StartOffset;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: ConsumerMessage;
}

export interface EachBatchPayload {
  batch: { topic: string; partition: number; highWatermark: number; messages: ConsumerMessage[] };
}

export interface RunOptions {
  eachMessage?: (payload: EachMessagePayload) => Promise<void> | void;
  eachBatch?: (payload: EachBatchPayload) => Promise<void> | void;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function offsetSpec(start: Exclude<StartOffset, number>): { spec: OffsetSpec; timestampMs: number } {
  if (start === 'earliest') return { spec: 'OFFSET_SPEC_EARLIEST', timestampMs: 0 };
  if (start === 'latest') return { spec: 'OFFSET_SPEC_LATEST', timestampMs: 0 };
  return { spec: 'OFFSET_SPEC_TIMESTAMP', timestampMs: start.timestamp };
}

function checkStartOffset(offset: StartOffset): void {
  if (typeof offset === 'number') {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`offset ${offset} is not a non-negative integer`);
  } else if (offset !== 'earliest' && offset !== 'latest' && !(typeof offset === 'object' && Number.isSafeInteger(offset.timestamp))) {
    throw new InvalidArgumentError(`offset must be a number, 'earliest', 'latest' or { timestamp }`);
  }
}

export class Consumer {
  private readonly lifecycle = new Lifecycle<ConsumerState>('consumer', CONSUMER_TRANSITIONS, 'idle');
  readonly cluster: Cluster;
  private readonly settings: typeof CONSUMER_DEFAULTS;
  private readonly retryConfig: RetryConfig;
  private readonly partitions = new Map<string, PartitionState>();
  private order: PartitionState[] = [];
  private turn = 0;
  private takenThisTurn = 0;
  private bufferedBytes = 0;
  private readonly dataAvailable = new Signal();
  private readonly fetcherWake = new Signal();
  private fetchLoop: Promise<void> | null = null;
  private stopping = false;
  private failures = 0;
  /** Decoding of fetched responses, chained so partitions get their messages in fetch order. */
  private decoding: Promise<void> = Promise.resolve();
  /** Raw bytes fetched but not yet decoded; they count against the prefetch bound. */
  private decodingBytes = 0;
  private decodesPending = 0;
  private readonly partitionsInFlight = new Set<PartitionState>();
  private readonly fetchesPerBroker = new Map<number, number>();
  private readonly fetchesInFlight = new Set<Promise<void>>();
  /** maxBytes of the fetches in flight: their answers count against the prefetch bound. */
  private reservedFetchBytes = 0;
  /** No fetch starts before this time (backoff after a failure). */
  private retryAtMs = 0;
  private codecPool: CodecPool | undefined;
  private readonly ownsCodecPool: boolean;

  constructor(config: ConsumerConfig) {
    this.settings = { ...CONSUMER_DEFAULTS };
    for (const key of Object.keys(CONSUMER_DEFAULTS) as Array<keyof typeof CONSUMER_DEFAULTS>) {
      if (config[key] !== undefined) (this.settings as Record<string, unknown>)[key] = config[key];
    }
    for (const name of ['maxPrefetchBytes', 'maxBytesPerPartition', 'batchMessagesMax', 'requestTimeoutMs', 'fetchesInFlightPerBrokerMax'] as const) {
      const value = this.settings[name];
      if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    }
    this.retryConfig = { ...DEFAULT_RETRY, ...config.retry };
    const clusterOptions: ClusterOptions = {
      brokers: config.brokers,
      clientId: this.settings.clientId,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      retry: this.retryConfig,
      allowAutoTopicCreation: false,
      ...(config.metadataMaxAgeMs !== undefined ? { metadataMaxAgeMs: config.metadataMaxAgeMs } : {}),
    };
    this.cluster = new Cluster(clusterOptions);
    this.codecPool = config.codecPool;
    this.ownsCodecPool = config.codecPool === undefined;
  }

  get currentState(): ConsumerState {
    return this.lifecycle.state;
  }

  async connect(): Promise<void> {
    this.lifecycle.moveTo('connecting');
    try {
      await this.cluster.connect();
    } catch (error) {
      this.lifecycle.moveTo('idle');
      throw error;
    }
    this.stopping = false;
    this.lifecycle.moveTo('connected');
  }

  /**
   * Reads these partitions from the given offsets, in addition to those already assigned (an
   * assigned partition named again moves to its new offset).
   */
  async assign(assignments: readonly TopicPartitionOffset[]): Promise<void> {
    this.requireConnected('assign');
    for (const assignment of assignments) {
      const offset = assignment.offset ?? 'latest';
      checkStartOffset(offset);
      if (!Number.isInteger(assignment.partition) || assignment.partition < 0) throw new InvalidArgumentError(`partition ${assignment.partition} is not valid`);
    }
    await this.cluster.refreshMetadata([...new Set(assignments.map((a) => a.topic))]);
    for (const assignment of assignments) {
      const key = partitionKey(assignment.topic, assignment.partition);
      let state = this.partitions.get(key);
      if (state === undefined) {
        state = new PartitionState(assignment.topic, assignment.partition);
        this.partitions.set(key, state);
        this.order.push(state);
      }
      this.bufferedBytes -= state.seek(assignment.offset ?? 'latest');
    }
    this.ensureFetching();
    this.fetcherWake.notify();
  }

  /** The assigned partitions. */
  assignment(): Array<{ topic: string; partition: number }> {
    return this.order.map((state) => ({ topic: state.topic, partition: state.partition }));
  }

  /** Moves an assigned partition to `offset`; buffered messages of it are dropped. */
  seek(target: { topic: string; partition: number; offset: StartOffset | string }): void {
    const state = this.partitionState(target.topic, target.partition);
    const offset = typeof target.offset === 'string' && /^\d+$/.test(target.offset) ? Number(target.offset) : target.offset as StartOffset;
    checkStartOffset(offset);
    this.bufferedBytes -= state.seek(offset);
    this.fetcherWake.notify();
  }

  /** The offset of the next message the application will get from a partition. */
  position(topic: string, partition: number): number {
    return this.partitionState(topic, partition).position;
  }

  /** Stops fetching and delivering these partitions (all of a topic when `partitions` is absent). */
  pause(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): void {
    for (const state of this.matching(targets)) state.paused = true;
  }

  resume(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): void {
    for (const state of this.matching(targets)) state.paused = false;
    this.fetcherWake.notify();
    this.dataAvailable.notify();
  }

  paused(): Array<{ topic: string; partition: number }> {
    return this.order.filter((s) => s.paused).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  private matching(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): PartitionState[] {
    const result: PartitionState[] = [];
    for (const target of targets) {
      for (const state of this.order) {
        if (state.topic === target.topic && (target.partitions === undefined || target.partitions.includes(state.partition))) result.push(state);
      }
    }
    return result;
  }

  private partitionState(topic: string, partition: number): PartitionState {
    const state = this.partitions.get(partitionKey(topic, partition));
    if (state === undefined) throw new StateError(`${topic}/${partition} is not assigned`);
    return state;
  }

  private requireConnected(operation: string): void {
    const state = this.lifecycle.state;
    if (state !== 'connected' && state !== 'running') throw new StateError(`${operation} needs a connected consumer (state: ${state})`);
  }

  /** Messages one at a time, across assigned partitions; ends when the consumer disconnects. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerMessage, void, undefined> {
    this.requireConnected('iteration');
    for (;;) {
      const message = this.nextMessage();
      if (message !== undefined) {
        yield message;
        continue;
      }
      if (this.stopping) return;
      await this.dataAvailable.wait();
    }
  }

  /**
   * Hands messages to `eachMessage` (one at a time) or `eachBatch` (per partition) until the
   * consumer disconnects; then resolves. A handler that throws stops the loop: the failed
   * message (or batch) is not consumed, its partition is moved back to it, and run() rejects.
   */
  async run(options: RunOptions): Promise<void> {
    this.requireConnected('run');
    if ((options.eachMessage === undefined) === (options.eachBatch === undefined)) throw new InvalidArgumentError('run needs exactly one of eachMessage and eachBatch');
    this.lifecycle.moveTo('running');
    try {
      while (!this.stopping) {
        const state = this.nextReadyPartition();
        if (state === undefined) {
          await this.dataAvailable.wait();
          continue;
        }
        const epoch = state.epoch;
        const messages = state.takeMany(options.eachBatch !== undefined ? this.settings.batchMessagesMax : MESSAGES_PER_TURN);
        this.released(messages);
        await this.handle(state, epoch, messages, options);
      }
    } finally {
      if (this.lifecycle.state === 'running') this.lifecycle.moveTo('connected');
    }
  }

  private async handle(state: PartitionState, epoch: number, messages: ConsumerMessage[], options: RunOptions): Promise<void> {
    let done = 0;
    try {
      if (options.eachBatch !== undefined) {
        await options.eachBatch({ batch: { topic: state.topic, partition: state.partition, highWatermark: state.highWatermark, messages } });
        done = messages.length;
      } else {
        for (const message of messages) {
          await options.eachMessage!({ topic: state.topic, partition: state.partition, message });
          done++;
          if (state.epoch === epoch) state.position = message.offset + 1;
          if (this.stopping || state.paused || state.epoch !== epoch) break;
        }
      }
    } catch (error) {
      if (state.epoch === epoch) this.bufferedBytes -= state.seek(messages[done].offset);
      this.fetcherWake.notify();
      throw error;
    }
    if (state.epoch !== epoch) return;
    if (done > 0) state.position = messages[done - 1].offset + 1;
    // Messages taken but not handled (stopped or paused mid-way) are fetched again.
    if (done < messages.length) this.bufferedBytes -= state.seek(messages[done].offset);
  }

  private released(messages: ConsumerMessage[]): void {
    let bytes = 0;
    for (const message of messages) bytes += message.sizeBytes;
    this.bufferedBytes -= bytes;
    this.fetcherWake.notify();
  }

  /** The next deliverable message, round robin over partitions a turn at a time. */
  private nextMessage(): ConsumerMessage | undefined {
    const state = this.nextReadyPartition();
    if (state === undefined) return undefined;
    const message = state.take()!;
    this.takenThisTurn++;
    this.bufferedBytes -= message.sizeBytes;
    if (this.bufferedBytes < this.settings.maxPrefetchBytes) this.fetcherWake.notify();
    return message;
  }

  /** A partition with buffered messages that is not paused; throws a partition's stored error. */
  private nextReadyPartition(): PartitionState | undefined {
    const count = this.order.length;
    if (count === 0) return undefined;
    if (this.takenThisTurn >= MESSAGES_PER_TURN) {
      this.turn++;
      this.takenThisTurn = 0;
    }
    for (let i = 0; i < count; i++) {
      const state = this.order[(this.turn + i) % count];
      if (state.paused) continue;
      if (state.bufferedCount > 0) {
        if (i !== 0) {
          this.turn = (this.turn + i) % count;
          this.takenThisTurn = 0;
        }
        return state;
      }
      if (state.error !== null) {
        const error = state.error;
        state.error = null;
        throw error;
      }
    }
    return undefined;
  }

  /** Stops fetching, ends iteration and run(), and closes connections. */
  async disconnect(): Promise<void> {
    if (this.lifecycle.state === 'idle' || this.lifecycle.state === 'disconnected') return;
    this.lifecycle.moveTo('disconnecting');
    this.stopping = true;
    this.fetcherWake.notify();
    this.dataAvailable.notify();
    // Closing the channels cancels a fetch that is long-polling, so the fetcher ends at once.
    this.cluster.close();
    await this.fetchLoop;
    this.fetchLoop = null;
    await this.decoding;
    if (this.ownsCodecPool && this.codecPool !== undefined) {
      await this.codecPool.close();
      this.codecPool = undefined;
    }
    this.lifecycle.moveTo('disconnected');
  }

  // ---- the fetcher ---------------------------------------------------------------------------

  private ensureFetching(): void {
    this.fetchLoop ??= this.fetchUntilStopped();
  }

  /**
   * The fetcher: keeps up to `fetchesInFlightPerBrokerMax` fetches outstanding to each leader, each
   * for partitions no other fetch holds, so one response is read from disk and sent while another
   * is decoded. Waits when nothing can be fetched (all paused, in flight, or the prefetch bound
   * reached) until something changes.
   */
  private async fetchUntilStopped(): Promise<void> {
    while (!this.stopping) {
      try {
        const waitUntilMs = this.retryAtMs - Date.now();
        if (waitUntilMs > 0) {
          await this.fetcherWake.waitAtMost(waitUntilMs);
          continue;
        }
        await this.resolvePendingResets();
        if (!this.startFetches()) await this.fetcherWake.wait();
      } catch (error) {
        if (this.stopping) break;
        this.fetchFailed(error);
      }
    }
    await Promise.allSettled(this.fetchesInFlight);
  }

  private fetchFailed(error: unknown): void {
    this.failures++;
    if (error instanceof BrookError && error.refreshMetadata) this.cluster.invalidate();
    this.retryAtMs = Date.now() + backoffMs(this.retryConfig, Math.min(this.failures, 10), Math.random());
  }

  /** Starts the fetches that may start now; false when none could. */
  private startFetches(): boolean {
    // One response decodes while the next fetches are on the wire; never more than that.
    if (this.decodesPending > 1) return false;
    const budgetBytes = this.settings.maxPrefetchBytes - this.bufferedBytes - this.decodingBytes - this.reservedFetchBytes;
    if (budgetBytes <= 0) return false;
    const byLeader = new Map<number, PartitionState[]>();
    let leaderMissing = false;
    for (const state of this.order) {
      if (!state.fetchable() || this.partitionsInFlight.has(state)) continue;
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader < 0) {
        leaderMissing = true;
        continue;
      }
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(state);
    }
    if (leaderMissing) {
      this.cluster.invalidate();
      void this.cluster.refreshMetadata(this.order.map((s) => s.topic)).then(() => this.fetcherWake.notify(), (error: unknown) => this.fetchFailed(error));
    }
    let started = false;
    for (const [leader, states] of byLeader) {
      const freeSlots = this.settings.fetchesInFlightPerBrokerMax - (this.fetchesPerBroker.get(leader) ?? 0);
      if (freeSlots <= 0) continue;
      // Spread the free partitions over the free slots so the fetches overlap.
      const groups = Math.min(freeSlots, states.length);
      for (let g = 0; g < groups; g++) {
        const group = states.filter((_, i) => i % groups === g);
        const maxBytes = Math.max(1, Math.floor(budgetBytes / (byLeader.size * groups)));
        this.launchFetch(leader, group, maxBytes);
        started = true;
      }
    }
    return started;
  }

  private launchFetch(brokerId: number, states: PartitionState[], maxBytes: number): void {
    for (const state of states) this.partitionsInFlight.add(state);
    this.fetchesPerBroker.set(brokerId, (this.fetchesPerBroker.get(brokerId) ?? 0) + 1);
    this.reservedFetchBytes += maxBytes;
    const fetch = this.fetchFromBroker(brokerId, states, maxBytes).then(
      () => { this.failures = 0; },
      (error: unknown) => { if (!this.stopping) this.fetchFailed(error); },
    ).finally(() => {
      for (const state of states) this.partitionsInFlight.delete(state);
      this.fetchesPerBroker.set(brokerId, this.fetchesPerBroker.get(brokerId)! - 1);
      this.reservedFetchBytes -= maxBytes;
      this.fetchesInFlight.delete(fetch);
      this.fetcherWake.notify();
    });
    this.fetchesInFlight.add(fetch);
  }

  private async fetchFromBroker(brokerId: number, states: PartitionState[], budgetBytes: number): Promise<void> {
    const topics = new Map<string, WireFetchPartition[]>();
    const epochs = new Map<PartitionState, number>();
    for (const state of states) {
      let list = topics.get(state.topic);
      if (list === undefined) topics.set(state.topic, (list = []));
      list.push({ partition: state.partition, fetchOffset: state.fetchOffset, partitionMaxBytes: this.settings.maxBytesPerPartition, currentLeaderEpoch: -1 });
      epochs.set(state, state.epoch);
    }
    const connection = this.cluster.connectionToBroker(brokerId);
    const results = await this.cluster.wire.fetch(connection, {
      maxWaitMs: this.settings.maxWaitMs,
      minBytes: this.settings.minBytes,
      maxBytes: Math.max(1, Math.min(budgetBytes, 2 ** 31 - 1)),
      topics,
    }, this.settings.requestTimeoutMs + this.settings.maxWaitMs);
    let retriableError: BrookError | null = null;
    const decodes: Array<{ state: PartitionState; epoch: number; fetchOffset: number; recordBatches: Buffer }> = [];
    for (const result of results) {
      const state = this.partitions.get(partitionKey(result.topic, result.partition));
      const epoch = state === undefined ? undefined : epochs.get(state);
      if (state === undefined || epoch !== state.epoch) continue;
      if (!isNoError(result.errorCode)) {
        const error = this.partitionError(state, new BrokerError(result.errorCode, `${result.topic}/${result.partition}: ${result.errorMessage}`));
        if (error !== null) retriableError = error;
        continue;
      }
      state.highWatermark = result.highWatermark;
      const fetchOffset = state.fetchOffset;
      state.advanceFetchOffset(epoch, nextFetchOffsetOf(result.recordBatches, fetchOffset));
      if (result.recordBatches.length > 0) decodes.push({ state, epoch, fetchOffset, recordBatches: result.recordBatches });
    }
    if (decodes.length > 0) this.decodeInOrder(decodes);
    if (retriableError !== null) throw retriableError;
  }

  /** Decodes fetched partitions after any earlier response, so each partition stays in order. */
  private decodeInOrder(decodes: Array<{ state: PartitionState; epoch: number; fetchOffset: number; recordBatches: Buffer }>): void {
    let rawBytes = 0;
    for (const decode of decodes) rawBytes += decode.recordBatches.length;
    this.decodingBytes += rawBytes;
    this.decodesPending++;
    const pool = (this.codecPool ??= new CodecPool());
    this.decoding = this.decoding.then(async () => {
      for (const { state, epoch, fetchOffset, recordBatches } of decodes) {
        try {
          const fetched = await readFetchedRecords(state.topic, state.partition, recordBatches, fetchOffset, pool);
          if (state.appendMessages(epoch, fetched.messages, fetched.bytes)) {
            this.bufferedBytes += fetched.bytes;
            if (fetched.messages.length > 0) this.dataAvailable.notify();
          }
        } catch (error) {
          // Corrupt or undecodable data: the application hears of it on its next read.
          if (state.epoch === epoch) {
            state.error = error instanceof Error ? error : new Error(String(error));
            this.dataAvailable.notify();
          }
        }
      }
    }).finally(() => {
      this.decodingBytes -= rawBytes;
      this.decodesPending--;
      this.fetcherWake.notify();
    });
  }

  /** Applies a partition's fetch error; returns it when the fetcher should back off and retry. */
  private partitionError(state: PartitionState, error: BrokerError): BrookError | null {
    if (error.code === 'OFFSET_OUT_OF_RANGE') {
      const policy = this.settings.offsetResetPolicy;
      if (policy === 'error') {
        state.error = error;
        this.dataAvailable.notify();
      } else {
        this.bufferedBytes -= state.seek(policy);
      }
      return null;
    }
    if (error.retriable) return error;
    state.error = error;
    this.dataAvailable.notify();
    return null;
  }

  /** Looks up 'earliest', 'latest' and timestamp start offsets, one ListOffsets per leader. */
  private async resolvePendingResets(): Promise<void> {
    const pending = this.order.filter((state) => state.pendingReset !== null);
    if (pending.length === 0) return;
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of pending) {
      const { brokerId } = await this.cluster.leaderConnection(state.topic, state.partition);
      let list = byLeader.get(brokerId);
      if (list === undefined) byLeader.set(brokerId, (list = []));
      list.push(state);
    }
    for (const [brokerId, states] of byLeader) {
      const request = new Map<string, Array<{ partition: number; spec: OffsetSpec; timestampMs: number }>>();
      const asked = new Map<PartitionState, { epoch: number; reset: Exclude<StartOffset, number> }>();
      for (const state of states) {
        let list = request.get(state.topic);
        if (list === undefined) request.set(state.topic, (list = []));
        list.push({ partition: state.partition, ...offsetSpec(state.pendingReset!) });
        asked.set(state, { epoch: state.epoch, reset: state.pendingReset! });
      }
      const results = await this.cluster.wire.listOffsets(this.cluster.connectionToBroker(brokerId), request, this.settings.requestTimeoutMs);
      for (const result of results) {
        const state = this.partitions.get(partitionKey(result.topic, result.partition));
        if (state === undefined || asked.get(state)?.epoch !== state.epoch) continue;
        if (!isNoError(result.errorCode)) {
          const error = new BrokerError(result.errorCode, `${result.topic}/${result.partition}: ${result.errorMessage}`);
          if (error.retriable) throw error;
          state.error = error;
          state.pendingReset = null;
          this.dataAvailable.notify();
          continue;
        }
        // No record at or after the timestamp: start at the end, as Kafka does.
        if (result.offset < 0) {
          state.pendingReset = 'latest';
          continue;
        }
        state.seek(result.offset);
      }
    }
  }
}

