/**
 * The Brook consumer. Either assign partitions with a start offset, or (with a `groupId`)
 * subscribe to topics and let the group share their partitions (consumer-group.ts: membership,
 * assignors, committed offsets, rebalance listeners); then read with
 * `for await (const message of consumer)` or `run({ eachMessage | eachBatch })`. A background
 * fetcher long-polls each partition leader, with the buffered (prefetched) bytes bounded by
 * `maxPrefetchBytes`; decompression runs in the codec pool. See consumer/README.md for examples.
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
import type { GroupsApi } from '../client/groups-api.js';
import { GroupsClient } from '../client/groups-client.js';
import { backoffMs, DEFAULT_RETRY, type RetryConfig } from '../client/retry.js';
import { assignorsFrom, type AssignorChoice } from './assignors/assignor-names.js';
import type { TopicPartition } from './assignors/partition-assignor.js';
import { ConsumerGroup, requireGroup, type ConsumerPartitions, type RebalanceListener } from './consumer-group.js';
import type { OffsetSpec, WireFetchPartition } from '../client/service.js';
import { CodecPool } from '../record/codec-pool.js';
import { nextFetchOffsetOf, readFetchedRecords, type ConsumerMessage } from './fetched-records.js';
import { PartitionState, type StartOffset } from './partition-state.js';
import { Signal } from './signal.js';

export type { ConsumerMessage } from './fetched-records.js';
export type { StartOffset } from './partition-state.js';
export type { RebalanceListener } from './consumer-group.js';
export type { PartitionAssignor, TopicPartition } from './assignors/partition-assignor.js';

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

  // ---- consumer groups (all need groupId) ----
  /** Join this group: subscribe() then shares the topics' partitions among the group's members. */
  groupId?: string;
  /** Static membership: a stable id of this instance; a restart within the session timeout causes no rebalance. */
  groupInstanceId?: string;
  /** The coordinator drops a member it has not heard from for this long. */
  sessionTimeoutMs?: number;
  /** How long a rebalance waits for members to rejoin (and for an eager member to finish its handler). */
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** A handler running longer than this makes the member leave the group (it rejoins afterwards). */
  maxPollIntervalMs?: number;
  /** Assignors in order of preference: objects or the names 'range', 'roundrobin', 'sticky', 'cooperative-sticky'. */
  partitionAssigners?: readonly AssignorChoice[];
  /** Where a partition without a committed offset starts: earliest, latest, or 'none' (an error). Also used when a position falls outside the log. */
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  /** Commit consumed positions every autoCommitIntervalMs, on revoke and on disconnect (default true). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** How often a RegExp subscription and (on the leader) partition counts are checked for changes. */
  metadataCheckIntervalMs?: number;
  /** Called around rebalances (also settable per subscribe()). */
  rebalanceListener?: RebalanceListener;
  /** The group coordinator to talk to; default: the cluster's, over gRPC. For tests and embedding. */
  groupsApi?: GroupsApi;
  /** Where membership events are logged (default: nowhere). */
  logger?: (message: string) => void;
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

export const CONSUMER_GROUP_DEFAULTS = {
  sessionTimeoutMs: 30_000,
  rebalanceTimeoutMs: 60_000,
  heartbeatIntervalMs: 3_000,
  maxPollIntervalMs: 300_000,
  autoOffsetReset: 'latest' as 'earliest' | 'latest' | 'none',
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
  metadataCheckIntervalMs: 30_000,
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
  /** Heartbeats run on their own timer; kept for handlers written for KafkaJS. */
  heartbeat(): Promise<void>;
}

export interface EachBatchPayload {
  batch: { topic: string; partition: number; highWatermark: number; messages: ConsumerMessage[] };
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True once the batch's partition was revoked, lost or seeked: stop processing it. */
  isStale(): boolean;
  heartbeat(): Promise<void>;
  /** In a group with autoCommit: commits the positions now if the interval is up. */
  commitOffsetsIfNecessary(): Promise<void>;
}

export interface RunOptions {
  eachMessage?: (payload: EachMessagePayload) => Promise<void> | void;
  eachBatch?: (payload: EachBatchPayload) => Promise<void> | void;
  /** Group consumers: commit positions by interval, on revoke and on disconnect (default: the config's, true). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
}

export interface SubscribeOptions {
  /** Topic names, or a pattern matched against every topic (re-checked every metadataCheckIntervalMs). */
  topics?: readonly string[] | RegExp;
  /** One topic or pattern (as `topics`; KafkaJS's spelling). */
  topic?: string | RegExp;
  /** Partitions without a committed offset start at the earliest offset (else autoOffsetReset). */
  fromBeginning?: boolean;
  rebalanceListener?: RebalanceListener;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  /** The next offset to consume (as in Kafka: last processed + 1). */
  offset: number | string;
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
  /** The group side; null for a consumer without groupId. */
  private readonly group: ConsumerGroup | null = null;
  private groupsClient: GroupsClient | null = null;
  private readonly logger: (message: string) => void;
  /** run()'s loop, awaited by disconnect() so the handler in progress finishes first. */
  private runLoop: Promise<void> | null = null;
  private disconnecting: Promise<void> | null = null;
  /** The message `for await` handed out and the application is still processing. */
  private iterating: { state: PartitionState; offset: number } | null = null;

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
    this.logger = config.logger ?? (() => undefined);
    if (config.autoOffsetReset !== undefined) {
      if (!['earliest', 'latest', 'none'].includes(config.autoOffsetReset)) throw new InvalidArgumentError(`autoOffsetReset must be 'earliest', 'latest' or 'none'`);
      this.settings.offsetResetPolicy = config.autoOffsetReset === 'none' ? 'error' : config.autoOffsetReset;
    }
    if (config.groupId !== undefined) this.group = this.createGroup(config);
  }

  private createGroup(config: ConsumerConfig): ConsumerGroup {
    const settings = { ...CONSUMER_GROUP_DEFAULTS };
    for (const key of Object.keys(CONSUMER_GROUP_DEFAULTS) as Array<keyof typeof CONSUMER_GROUP_DEFAULTS>) {
      if (config[key] !== undefined) (settings as Record<string, unknown>)[key] = config[key];
    }
    for (const name of ['sessionTimeoutMs', 'rebalanceTimeoutMs', 'heartbeatIntervalMs', 'maxPollIntervalMs', 'autoCommitIntervalMs', 'metadataCheckIntervalMs'] as const) {
      const value = settings[name];
      if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    }
    if (settings.heartbeatIntervalMs >= settings.sessionTimeoutMs) throw new InvalidArgumentError('heartbeatIntervalMs must be below sessionTimeoutMs');
    const groupId = config.groupId!;
    if (typeof groupId !== 'string' || groupId.length === 0) throw new InvalidArgumentError('groupId must be a non-empty string');
    if (config.groupInstanceId !== undefined && (typeof config.groupInstanceId !== 'string' || config.groupInstanceId.length === 0)) throw new InvalidArgumentError('groupInstanceId must be a non-empty string');
    let api = config.groupsApi;
    if (api === undefined) api = this.groupsClient = new GroupsClient(this.cluster, this.settings.clientId);
    const group = new ConsumerGroup({
      ...settings,
      groupId,
      groupInstanceId: config.groupInstanceId ?? null,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      assignors: assignorsFrom(config.partitionAssigners),
      retry: this.retryConfig,
    }, api, this.cluster, this.partitionsForGroup());
    if (config.rebalanceListener !== undefined) group.useListener(config.rebalanceListener);
    return group;
  }

  get currentState(): ConsumerState {
    return this.lifecycle.state;
  }

  async connect(): Promise<void> {
    if (this.group?.membership.state === 'left') throw new StateError('a group consumer does not connect again after disconnect(): create a new Consumer');
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
    if (this.group?.subscribed) throw new StateError('assign and subscribe exclude each other');
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

  /**
   * Group consumers: reads these topics (names, or a RegExp matched against all topics) as a
   * member of the group; the group's leader assigns partitions, which arrive at the next run()
   * or `for await` turn. Calling it again adds topics (names) or replaces the pattern.
   */
  subscribe(options: SubscribeOptions): void {
    const group = requireGroup(this.group, 'subscribe');
    const state = this.lifecycle.state;
    if (state !== 'connected' && state !== 'running' && state !== 'idle') throw new StateError(`subscribe needs a connected consumer (state: ${state})`);
    if (this.order.length > 0 && !group.subscribed) throw new StateError('assign and subscribe exclude each other');
    if ((options.topics === undefined) === (options.topic === undefined)) throw new InvalidArgumentError('subscribe needs exactly one of topics and topic');
    const topics = options.topics ?? (options.topic instanceof RegExp ? options.topic : [options.topic!]);
    group.subscribe(topics, options.fromBeginning ?? false, options.rebalanceListener);
    this.dataAvailable.notify();
  }

  /**
   * Commits offsets for the group (each the next offset to consume). Without arguments: the
   * positions of every owned partition (what the application has processed). Throws a GroupError
   * when the member's generation is stale or the group is rebalancing (it then rejoins). A
   * consumer with a groupId that assigns its partitions itself (no subscribe) commits as a
   * non-member, which the coordinator accepts while the group has no members.
   */
  async commitOffsets(offsets?: readonly OffsetToCommit[]): Promise<void> {
    const group = requireGroup(this.group, 'commitOffsets');
    const list = offsets === undefined
      ? this.consumedOffsets(group.subscribed ? group.membership.owned : undefined)
      : offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: typeof o.offset === 'string' ? Number(o.offset) : o.offset }));
    await group.commit(list, offsets !== undefined);
  }

  /** The group's committed offsets of these partitions (-1 where none). */
  async committed(partitions: readonly TopicPartition[]): Promise<Array<{ topic: string; partition: number; offset: number }>> {
    return requireGroup(this.group, 'committed').committedOffsets(partitions);
  }

  /** Group consumers: member id, generation, membership state and how many rebalances completed. */
  groupMembership(): { memberId: string; generationId: number; state: string; rebalances: number; protocol: string } {
    const membership = requireGroup(this.group, 'groupMembership').membership;
    return { memberId: membership.memberId, generationId: membership.generationId, state: membership.state, rebalances: membership.rebalances, protocol: membership.protocolName };
  }

  /** The bridge the group uses to move partitions in and out of this consumer. */
  private partitionsForGroup(): ConsumerPartitions {
    return {
      addPartitions: (list) => {
        for (const item of list) {
          const key = partitionKey(item.topic, item.partition);
          let state = this.partitions.get(key);
          if (state === undefined) {
            state = new PartitionState(item.topic, item.partition);
            this.partitions.set(key, state);
            this.order.push(state);
          }
          if (item.start === null) {
            this.bufferedBytes -= state.seek('latest');
            state.pendingReset = null;
            state.error = new BrookError(`${item.topic}/${item.partition} has no committed offset and autoOffsetReset is 'none'`, { code: 'NO_COMMITTED_OFFSET', retriable: false });
          } else {
            this.bufferedBytes -= state.seek(item.start);
          }
        }
        if (this.lifecycle.state === 'connected' || this.lifecycle.state === 'running') this.ensureFetching();
        this.fetcherWake.notify();
        this.dataAvailable.notify();
      },
      removePartitions: (list) => this.removePartitions(list),
      consumedOffsets: (list) => this.consumedOffsets(list),
      wake: () => {
        this.dataAvailable.notify();
        this.fetcherWake.notify();
      },
      log: (message) => this.logger(message),
    };
  }

  private removePartitions(list: readonly TopicPartition[]): void {
    const removed = new Set<PartitionState>();
    for (const { topic, partition } of list) {
      const key = partitionKey(topic, partition);
      const state = this.partitions.get(key);
      if (state === undefined) continue;
      // The seek drops buffered messages and makes fetches in flight for it land nowhere.
      this.bufferedBytes -= state.seek('latest');
      this.partitions.delete(key);
      removed.add(state);
    }
    if (removed.size === 0) return;
    this.order = this.order.filter((state) => !removed.has(state));
    this.turn = 0;
    this.takenThisTurn = 0;
    this.fetcherWake.notify();
  }

  /** The next offset to process of each partition: its position, less a message `for await` is still on. */
  private consumedOffsets(list?: readonly TopicPartition[]): Array<{ topic: string; partition: number; offset: number }> {
    const states = list === undefined ? this.order : list.map((p) => this.partitions.get(partitionKey(p.topic, p.partition))).filter((s): s is PartitionState => s !== undefined);
    const offsets: Array<{ topic: string; partition: number; offset: number }> = [];
    for (const state of states) {
      let offset = state.position;
      if (this.iterating !== null && this.iterating.state === state && this.iterating.offset < offset) offset = this.iterating.offset;
      if (offset >= 0 && state.pendingReset === null) offsets.push({ topic: state.topic, partition: state.partition, offset });
    }
    return offsets;
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
    const group = this.group;
    try {
      for (;;) {
        if (group !== null && !this.stopping) await group.poll();
        const message = this.nextMessage();
        if (message !== undefined) {
          const state = this.partitions.get(partitionKey(message.topic, message.partition))!;
          // Until the loop body asks for the next message, this one is not processed yet.
          this.iterating = { state, offset: message.offset };
          group?.membership.processingStarted();
          yield message;
          group?.membership.processingEnded();
          this.iterating = null;
          continue;
        }
        if (this.stopping) return;
        await this.waitForData();
      }
    } finally {
      this.iterating = null;
      group?.membership.processingEnded();
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
    const group = this.group;
    if (group !== null) {
      if (options.autoCommit !== undefined) group.autoCommit = options.autoCommit;
      if (options.autoCommitIntervalMs !== undefined) group.autoCommitIntervalMs = options.autoCommitIntervalMs;
    }
    this.lifecycle.moveTo('running');
    const loop = this.runUntilStopped(options, group);
    this.runLoop = loop.catch(() => undefined);
    await loop;
  }

  /** Waits for messages; a group consumer wakes by the commit interval too, so idle members commit. */
  private waitForData(): Promise<void> {
    return this.group === null ? this.dataAvailable.wait() : this.dataAvailable.waitAtMost(this.group.autoCommitIntervalMs);
  }

  private async runUntilStopped(options: RunOptions, group: ConsumerGroup | null): Promise<void> {
    try {
      while (!this.stopping) {
        if (group !== null) await group.poll();
        const state = this.nextReadyPartition();
        if (state === undefined) {
          await this.waitForData();
          continue;
        }
        const epoch = state.epoch;
        const messages = state.takeMany(options.eachBatch !== undefined ? this.settings.batchMessagesMax : MESSAGES_PER_TURN);
        this.released(messages);
        group?.membership.processingStarted();
        try {
          await this.handle(state, epoch, messages, options);
        } finally {
          group?.membership.processingEnded();
        }
      }
    } finally {
      if (this.lifecycle.state === 'running') this.lifecycle.moveTo('connected');
    }
  }

  private async handle(state: PartitionState, epoch: number, messages: ConsumerMessage[], options: RunOptions): Promise<void> {
    let done = 0;
    try {
      if (options.eachBatch !== undefined) {
        await options.eachBatch({
          batch: { topic: state.topic, partition: state.partition, highWatermark: state.highWatermark, messages },
          isRunning: () => !this.stopping,
          isStale: () => state.epoch !== epoch || this.partitions.get(partitionKey(state.topic, state.partition)) !== state,
          heartbeat: async () => undefined,
          commitOffsetsIfNecessary: async () => {
            if (state.epoch === epoch && messages.length > 0) state.position = messages[messages.length - 1].offset + 1;
            if (this.group !== null) await this.group.poll();
          },
        });
        done = messages.length;
      } else {
        const heartbeat = async () => undefined;
        for (const message of messages) {
          await options.eachMessage!({ topic: state.topic, partition: state.partition, message, heartbeat });
          done++;
          if (state.epoch === epoch) state.position = message.offset + 1;
          if (this.stopping || state.paused || state.epoch !== epoch || this.group?.membership.pollNeeded) break;
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
    // A second caller (a signal handler and a finally block) waits for the first one's work.
    if (this.lifecycle.state === 'disconnecting') return this.disconnecting ?? undefined;
    this.disconnecting = this.disconnectNow().finally(() => {
      this.disconnecting = null;
    });
    return this.disconnecting;
  }

  private async disconnectNow(): Promise<void> {
    this.lifecycle.moveTo('disconnecting');
    this.stopping = true;
    this.fetcherWake.notify();
    this.dataAvailable.notify();
    if (this.group !== null) {
      // The handler in progress finishes, then the positions are committed (autoCommit) and
      // the member leaves: its partitions go to the others at once.
      await this.runLoop;
      try {
        await this.group.leave();
      } catch (error) {
        this.logger(`leaving the group failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.groupsClient?.close();
    }
    this.runLoop = null;
    this.fetcherWake.notify();
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
        // A disconnect may have notified while this loop was busy: check before sleeping.
        if (!this.startFetches() && !this.stopping) await this.fetcherWake.wait();
      } catch (error) {
        if (this.stopping) break;
        this.fetchFailed(error);
      }
    }
    await Promise.allSettled(this.fetchesInFlight);
  }

  private fetchFailed(error: unknown): void {
    this.failures++;
    if (error instanceof BrookError && error.refreshMetadata) {
      this.cluster.invalidate();
      // The cached leaders are suspect (a broker went away, a leadership moved): ask again now,
      // or every fetch would go on to the old leader.
      if (!this.stopping) void this.cluster.refreshMetadata([...new Set(this.order.map((state) => state.topic))]).then(() => this.fetcherWake.notify(), () => undefined);
    }
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

