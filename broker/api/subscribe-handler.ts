/**
 * Subscribe: a server stream per call. Each requested partition is followed by its own loop:
 * read committed data from the next offset, write it, and when caught up wait for the partition
 * to commit more. Writes respect the stream's backpressure (wait for 'drain'), so a slow client
 * holds at most one message per partition in the broker. A partition error is sent once and
 * ends that partition's loop; the call ends when every partition has ended, when the client
 * cancels, or when the broker shuts down.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { PartitionFetchData, SubscribeRequest, SubscribeResponse } from '../../proto/brook-types.js';
import type { ApiContext } from './api-context.js';
import { metricsOf } from '../metrics/context-metrics.js';
import { isClosedOnPurpose, mapError } from './error-codes.js';
import { checkLeaderEpoch } from './fetch-handler.js';
import { readPartition } from './partition-reader.js';
import { routePartition } from './partition-route.js';
import { StatusError } from './status-error.js';
import type { ServedPartition } from './topic-service.js';

/** Most partitions one Subscribe call may follow. */
export const SUBSCRIBE_PARTITIONS_MAX = 10_000;

export class SubscribeHandler {
  private openStreams = 0;
  private readonly metrics: ReturnType<typeof metricsOf>;

  constructor(private readonly context: ApiContext) {
    this.metrics = metricsOf(context);
  }

  async subscribe(call: ServerWritableStream<SubscribeRequest, SubscribeResponse>, cancelled: AbortSignal): Promise<void> {
    const request = call.request;
    const wanted = (request.topics ?? []).flatMap((topic) => (topic.partitions ?? []).map((data) => ({ topic: topic.name, data })));
    if (wanted.length === 0 || wanted.length > SUBSCRIBE_PARTITIONS_MAX) {
      this.metrics?.error('subscribe', 'INVALID_ARGUMENT');
      throw new StatusError(status.INVALID_ARGUMENT, `a subscription names 1 to ${SUBSCRIBE_PARTITIONS_MAX} partitions, got ${wanted.length}`);
    }
    if (this.openStreams >= this.context.config.subscribeStreamsMax) {
      this.metrics?.error('subscribe', 'RESOURCE_EXHAUSTED');
      throw new StatusError(status.RESOURCE_EXHAUSTED, `subscribe.streams.max=${this.context.config.subscribeStreamsMax} streams are open`);
    }
    this.openStreams++;
    this.metrics?.subscribeOpened();
    try {
      const stop = AbortSignal.any([cancelled, this.context.shutdownSignal]);
      const writer = new StreamWriter(call, stop);
      await Promise.all(wanted.map(({ topic, data }) => this.follow(topic, data, request.decodeRecords === true, writer, stop)));
    } finally {
      this.openStreams--;
      this.metrics?.subscribeClosed();
    }
  }

  /** Streams one partition until an error, `stop`, or the stream fails. */
  private async follow(topic: string, data: PartitionFetchData, decodeRecords: boolean, writer: StreamWriter, stop: AbortSignal): Promise<void> {
    const { config } = this.context;
    const maxBytes = Math.min(data.partitionMaxBytes || config.fetchPartitionMaxBytesDefault, config.fetchMaxBytes);
    const options = { decodeRecords, pool: this.context.pool, decodeLimits: this.context.decodeLimits };
    let offset = data.fetchOffset;
    const base = { topic, partition: data.partition, recordBatches: Buffer.alloc(0), records: [] };
    while (!stop.aborted) {
      const route = routePartition(this.context.topics, this.context.topics.get(topic), data.partition);
      if (route === undefined) {
        this.metrics?.error('subscribe', 'UNKNOWN_TOPIC_OR_PARTITION');
        await writer.write({ ...base, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${topic} partition ${data.partition} does not exist`, highWatermark: -1, logStartOffset: -1, nextFetchOffset: offset });
        return;
      }
      if (route.refusal !== undefined) {
        this.metrics?.error('subscribe', route.refusal.errorCode);
        await writer.write({ ...base, ...route.refusal, highWatermark: -1, logStartOffset: -1, nextFetchOffset: offset });
        return;
      }
      const partition = route.partition;
      const epochProblem = checkLeaderEpoch(data.currentLeaderEpoch ?? -1, partition.leaderEpoch);
      if (epochProblem !== undefined) {
        this.metrics?.error('subscribe', epochProblem.errorCode);
        await writer.write({ ...base, ...epochProblem, highWatermark: partition.highWatermark, logStartOffset: partition.logStartOffset, nextFetchOffset: offset });
        return;
      }
      const waiter = waitForChange(partition, stop);
      try {
        const read = await readPartition(partition, offset, maxBytes, options);
        if (read.bytes > 0) {
          offset = read.nextFetchOffset;
          const message: SubscribeResponse = {
            ...base,
            errorCode: 'NONE',
            errorMessage: '',
            highWatermark: partition.highWatermark,
            logStartOffset: partition.logStartOffset,
            recordBatches: read.recordBatches,
            records: read.records,
            nextFetchOffset: offset,
          };
          if (!(await writer.write(message))) return;
          continue;
        }
        await waiter.changed;
      } catch (error) {
        // The log was closed for a config change: the topics hold a new partition object; go on.
        if (isClosedOnPurpose(error) && this.context.topics.partition(topic, data.partition) !== partition) continue;
        const mapped = mapError(error);
        if (!mapped.expected) this.context.logger.error({ err: error }, 'unexpected subscribe error');
        this.metrics?.error('subscribe', mapped.errorCode);
        await writer.write({ ...base, errorCode: mapped.errorCode, errorMessage: mapped.errorMessage, highWatermark: partition.highWatermark, logStartOffset: partition.logStartOffset, nextFetchOffset: offset });
        return;
      } finally {
        waiter.dispose();
      }
    }
  }
}

/** Resolves `changed` on the partition's next offset change or when `stop` aborts. */
function waitForChange(partition: ServedPartition, stop: AbortSignal): { changed: Promise<void>; dispose(): void } {
  let dispose = (): void => undefined;
  const changed = new Promise<void>((resolve) => {
    const unsubscribe = partition.onChange(resolve);
    const onAbort = (): void => resolve();
    stop.addEventListener('abort', onAbort, { once: true });
    dispose = () => {
      unsubscribe();
      stop.removeEventListener('abort', onAbort);
      resolve();
    };
  });
  return { changed, dispose };
}

/** Writes to a server stream one message at a time per caller, honouring backpressure. */
class StreamWriter {
  constructor(
    private readonly call: ServerWritableStream<SubscribeRequest, SubscribeResponse>,
    private readonly stop: AbortSignal,
  ) {}

  /** Resolves true once the message is handed to the stream and it can take more; false when stopped. */
  async write(message: SubscribeResponse): Promise<boolean> {
    if (this.stop.aborted || this.call.destroyed) return false;
    if (this.call.write(message)) return true;
    return new Promise<boolean>((resolve) => {
      const done = (result: boolean) => () => {
        this.call.off('drain', onDrain);
        this.stop.removeEventListener('abort', onStop);
        resolve(result);
      };
      const onDrain = done(true);
      const onStop = done(false);
      this.call.once('drain', onDrain);
      this.stop.addEventListener('abort', onStop, { once: true });
    });
  }
}
