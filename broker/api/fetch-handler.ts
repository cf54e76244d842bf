/**
 * Fetch: reads committed data of many partitions under a total byte budget, and long-polls: when
 * less than min_bytes is available it waits (up to max_wait_ms) for any of the partitions to
 * commit more, then reads again. A partition error answers at once.
 */
import type { ErrorCode, FetchRequest, FetchResponse, PartitionFetchData, PartitionFetchResponse } from '../../proto/brook-types.js';
import { OffsetOutOfRangeError } from '../storage/storage-errors.js';
import type { ApiContext } from './api-context.js';
import { ByteBudget } from './byte-budget.js';
import { metricsOf } from '../metrics/context-metrics.js';
import { mapError } from './error-codes.js';
import { readPartition } from './partition-reader.js';
import { routePartition } from './partition-route.js';
import type { LeadershipRefusal, ServedPartition } from './topic-service.js';

/** A requested partition, resolved (or not) to the broker's Partition. */
interface Target {
  readonly topic: string;
  readonly data: PartitionFetchData;
  /** The partition held here, also when refused (its offsets are reported with the refusal). */
  readonly partition: ServedPartition | undefined;
  /** Set when the request for this partition is refused before any read. */
  readonly refusal?: LeadershipRefusal;
}

export class FetchHandler {
  /** Bytes of fetch responses being read and assembled, across all calls (fetch.in.flight.bytes.max); released when the handler returns, before gRPC has sent them. */
  private readonly responseBytes: ByteBudget;
  private readonly metrics: ReturnType<typeof metricsOf>;

  constructor(private readonly context: ApiContext) {
    this.responseBytes = new ByteBudget(context.config.fetchInFlightBytesMax);
    this.metrics = metricsOf(context);
  }

  async fetch(request: FetchRequest, cancelled: AbortSignal): Promise<FetchResponse> {
    const { config, clock } = this.context;
    const maxWaitMs = clamp(request.maxWaitMs ?? 0, 0, config.fetchMaxWaitMsMax);
    const minBytes = Math.max(1, request.minBytes ?? 0);
    const maxBytes = (request.maxBytes ?? 0) <= 0 ? config.fetchMaxBytes : Math.min(request.maxBytes!, config.fetchMaxBytes);
    const targets = this.resolve(request);
    const deadlineMs = clock.nowMs() + maxWaitMs;
    let heldBytes = 0;
    let waitedMs = 0;
    try {
      for (;;) {
        // Subscribe before reading, so a commit between the read and the wait is not missed.
        const waiter = new ChangeWaiter(targets);
        try {
          // Under load a fetch gets what the shared budget has left (perhaps nothing this round):
          // consumers slow down rather than the broker's memory growing.
          heldBytes = this.responseBytes.acquireUpTo(maxBytes);
          const { response, totalBytes, anyError } = await this.readAll(request, targets, heldBytes);
          const remainingMs = deadlineMs - clock.nowMs();
          if (totalBytes >= minBytes || anyError || remainingMs <= 0 || cancelled.aborted || this.context.shutdownSignal.aborted) {
            if (this.metrics !== undefined) this.count(response, totalBytes, waitedMs);
            return response;
          }
          this.responseBytes.release(heldBytes);
          heldBytes = 0;
          const waitStartedMs = performance.now();
          await waiter.wait(remainingMs, [cancelled, this.context.shutdownSignal]);
          waitedMs += performance.now() - waitStartedMs;
        } finally {
          waiter.dispose();
        }
      }
    } finally {
      this.responseBytes.release(heldBytes);
    }
  }

  /** One answered fetch into the metrics: per request and per errored partition. */
  private count(response: FetchResponse, totalBytes: number, waitedMs: number): void {
    this.metrics!.fetchAnswered(totalBytes, waitedMs / 1000);
    for (const topic of response.topics) {
      for (const partition of topic.partitions) if (partition.errorCode !== 'NONE') this.metrics!.error('fetch', partition.errorCode);
    }
  }

  private resolve(request: FetchRequest): Target[] {
    const targets: Target[] = [];
    for (const topicData of request.topics ?? []) {
      const topic = this.context.topics.get(topicData.name);
      for (const data of topicData.partitions ?? []) {
        const route = routePartition(this.context.topics, topic, data.partition);
        const partition = route?.partition;
        let refusal: Target['refusal'] = route?.refusal;
        if (route === undefined) {
          refusal = { errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${topicData.name} partition ${data.partition} does not exist` };
        } else if (partition !== undefined && (!Number.isSafeInteger(data.fetchOffset) || data.fetchOffset < 0)) {
          refusal = { errorCode: 'OFFSET_OUT_OF_RANGE', errorMessage: `fetch offset ${data.fetchOffset} is negative` };
        } else if (partition !== undefined) {
          refusal = checkLeaderEpoch(data.currentLeaderEpoch ?? -1, partition.leaderEpoch);
        }
        targets.push({ topic: topicData.name, data, partition, refusal });
      }
    }
    return targets;
  }

  private async readAll(request: FetchRequest, targets: readonly Target[], maxBytes: number) {
    const { config } = this.context;
    const options = { decodeRecords: request.decodeRecords === true, pool: this.context.pool, decodeLimits: this.context.decodeLimits };
    let totalBytes = 0;
    let anyError = false;
    const byTopic = new Map<string, PartitionFetchResponse[]>();
    const response: FetchResponse = { topics: [] };
    for (const target of targets) {
      let list = byTopic.get(target.topic);
      if (list === undefined) {
        list = [];
        byTopic.set(target.topic, list);
        response.topics.push({ name: target.topic, partitions: list });
      }
      const partitionMax = clamp(target.data.partitionMaxBytes || config.fetchPartitionMaxBytesDefault, 1, config.fetchMaxBytes);
      const budget = Math.min(partitionMax, maxBytes - totalBytes);
      const { result, bytes } = await this.readOne(target, budget, totalBytes === 0, options);
      if (result.errorCode !== 'NONE') anyError = true;
      totalBytes += bytes;
      list.push(result);
    }
    return { response, totalBytes, anyError };
  }

  /**
   * One partition's answer. `first` allows one batch larger than the budget (so a consumer always
   * makes progress); a later partition whose first batch does not fit gets nothing this time.
   */
  private async readOne(
    target: Target,
    budgetBytes: number,
    first: boolean,
    options: Parameters<typeof readPartition>[3],
  ): Promise<{ result: PartitionFetchResponse; bytes: number }> {
    const { partition, data } = target;
    const base = {
      partition: data.partition,
      highWatermark: partition?.highWatermark ?? -1,
      logStartOffset: partition?.logStartOffset ?? -1,
      recordBatches: Buffer.alloc(0),
      records: [],
      nextFetchOffset: data.fetchOffset,
    };
    if (target.refusal !== undefined || partition === undefined) {
      const refusal = target.refusal ?? { errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: '' };
      return { result: { ...base, ...refusal }, bytes: 0 };
    }
    // Leadership may have moved while this fetch long-polled.
    const lost = partition.leadership();
    if (lost !== undefined) return { result: { ...base, ...lost }, bytes: 0 };
    const nothing = { result: { ...base, errorCode: 'NONE' as const, errorMessage: '' }, bytes: 0 };
    if (budgetBytes <= 0) return nothing;
    try {
      const read = await readPartition(partition, data.fetchOffset, budgetBytes, options);
      if (!first && read.bytes > budgetBytes) return nothing;
      const result: PartitionFetchResponse = {
        ...base,
        highWatermark: partition.highWatermark,
        logStartOffset: partition.logStartOffset,
        errorCode: 'NONE',
        errorMessage: '',
        recordBatches: read.recordBatches,
        records: read.records,
        nextFetchOffset: read.nextFetchOffset,
      };
      return { result, bytes: read.bytes };
    } catch (error) {
      const mapped = mapError(error);
      if (!mapped.expected) this.context.logger.error({ err: error }, 'unexpected fetch error');
      const errorMessage =
        error instanceof OffsetOutOfRangeError
          ? `offset ${data.fetchOffset} is outside [${partition.logStartOffset}, ${partition.highWatermark}]`
          : mapped.errorMessage;
      return { result: { ...base, errorCode: mapped.errorCode, errorMessage }, bytes: 0 };
    }
  }
}

/** Resolves when any of the targets' partitions changes, a signal aborts, or the time is up. */
class ChangeWaiter {
  private readonly unsubscribes: Array<() => void> = [];
  private wake: (() => void) | undefined;
  private changed = false;

  constructor(targets: readonly Target[]) {
    const seen = new Set<ServedPartition>();
    for (const target of targets) {
      if (target.partition === undefined || seen.has(target.partition)) continue;
      seen.add(target.partition);
      this.unsubscribes.push(
        target.partition.onChange(() => {
          this.changed = true;
          this.wake?.();
        }),
      );
    }
  }

  wait(timeoutMs: number, signals: readonly AbortSignal[]): Promise<void> {
    if (this.changed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const listeners = signals.map((signal) => {
        signal.addEventListener('abort', done, { once: true });
        return signal;
      });
      this.wake = done;
      function done(): void {
        clearTimeout(timer);
        for (const signal of listeners) signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  dispose(): void {
    this.wake = undefined;
    for (const unsubscribe of this.unsubscribes) unsubscribe();
  }
}

/** FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH when the client's epoch is not the current one. */
export function checkLeaderEpoch(clientEpoch: number, currentEpoch: number): { errorCode: ErrorCode; errorMessage: string } | undefined {
  if (clientEpoch <= 0 || clientEpoch === currentEpoch) return undefined;
  if (clientEpoch < currentEpoch) return { errorCode: 'FENCED_LEADER_EPOCH', errorMessage: `leader epoch ${clientEpoch} is older than ${currentEpoch}` };
  return { errorCode: 'UNKNOWN_LEADER_EPOCH', errorMessage: `leader epoch ${clientEpoch} is newer than ${currentEpoch}` };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Number.isFinite(value) ? Math.trunc(value) : min));
}
