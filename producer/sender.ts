/**
 * The producer's sender: drains ready batches from the accumulator and sends them, one Produce
 * request per broker carrying many partitions, with at most `maxInFlightRequestsPerBroker`
 * requests outstanding to each broker.
 *
 * Ordering: a partition with a batch in flight is "muted" (no second batch of it is sent until the
 * first completes), and a batch that failed retriably goes back to the head of its partition. So
 * records of one partition are appended in the order they were sent, retries included.
 */
import assert from 'node:assert';
import type { Cluster } from '../client/cluster.js';
import { BrookError, BrokerError, isNoError, TimeoutError } from '../client/errors.js';
import { backoffMs, type RetryConfig } from '../client/retry.js';
import type { Acks, WirePartitionProduce } from '../client/service.js';
import { topicPartitionKey, type ProducerBatch, type RecordAccumulator } from './accumulator.js';

/** Turns a batch's records into RecordBatch v2 bytes (compressing per the batch's codec). */
export type BatchEncoder = (batch: ProducerBatch, nowMs: number) => Promise<Buffer> | Buffer;

export interface SenderConfig {
  readonly requestTimeoutMs: number;
  readonly maxInFlightRequestsPerBroker: number;
  /**
   * Requests in flight per partition. 1 keeps every partition's records in send order, retries
   * included; more pipelines a partition's writes, but a retried request may then land after a
   * later one (as in Kafka without idempotence).
   */
  readonly maxInFlightRequestsPerPartition: number;
  /** Batches are added to one request until it holds this many bytes (the first always fits). */
  readonly maxRequestBytes: number;
  /** A record not acknowledged this long after it was appended fails with a TimeoutError. */
  readonly deliveryTimeoutMs: number;
  readonly retry: RetryConfig;
}

/** A request holding at least this much is not given more partitions when others could go in a request of their own. */
const SPREAD_REQUEST_BYTES_MIN = 256 * 1024;

export class Sender {
  private readonly inFlightPerBroker = new Map<number, number>();
  /** Requests in flight per partition; at `maxInFlightRequestsPerPartition` the partition is muted. */
  private readonly inFlightPerPartition = new Map<string, number>();
  private runScheduled = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAtMs = Infinity;
  private metadataRefreshInFlight = false;
  private nextMetadataRefreshMs = 0;
  private stopped = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly accumulator: RecordAccumulator,
    private readonly config: SenderConfig,
    private readonly encode: BatchEncoder,
    private readonly random: () => number = Math.random,
  ) {
    assert(config.maxInFlightRequestsPerBroker >= 1);
  }

  /** Asks for a send pass soon; many calls in one turn of the event loop make one pass. */
  wakeup(): void {
    if (this.runScheduled || this.stopped) return;
    this.runScheduled = true;
    setImmediate(() => {
      this.runScheduled = false;
      this.runOnce(Date.now());
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private runOnce(nowMs: number): void {
    if (this.stopped) return;
    this.accumulator.expireQueued(nowMs - this.config.deliveryTimeoutMs, (batch) => new TimeoutError(
      `${batch.recordCount} records for ${batch.topic}/${batch.partition} not delivered within ${this.config.deliveryTimeoutMs} ms`,
    ));
    const { readyKeys, nextReadyMs } = this.accumulator.ready(nowMs, (key) => (this.inFlightPerPartition.get(key) ?? 0) >= this.config.maxInFlightRequestsPerPartition);
    const byBroker = new Map<number, string[]>();
    let leaderMissing = false;
    for (const key of readyKeys) {
      const [topic, partitionText] = key.split('\u0000');
      const leader = this.cluster.leaderOf(topic, Number(partitionText));
      if (leader < 0) {
        leaderMissing = true;
        continue;
      }
      let keys = byBroker.get(leader);
      if (keys === undefined) byBroker.set(leader, (keys = []));
      keys.push(key);
    }
    for (const [brokerId, keys] of byBroker) this.sendToBroker(brokerId, keys, nowMs);
    if (leaderMissing) this.refreshMetadataThenWakeup();
    this.scheduleTimer(nextReadyMs, nowMs);
  }

  private sendToBroker(brokerId: number, keys: string[], nowMs: number): void {
    // Bulk data is spread over the requests the broker may still take rather than all packed
    // into the first: a partition is muted while its request is out, so with everything in one
    // request the next upload waits for the whole of it to be appended and synced. Spread, one
    // request uploads while another is written, and each partition is sent again as soon as its
    // own request comes back. Small requests still carry every ready partition together.
    const freeRequests = this.config.maxInFlightRequestsPerBroker - (this.inFlightPerBroker.get(brokerId) ?? 0);
    const partitionsPerRequestMax = Math.ceil(keys.length / Math.max(1, freeRequests));
    let next = 0;
    while (next < keys.length && (this.inFlightPerBroker.get(brokerId) ?? 0) < this.config.maxInFlightRequestsPerBroker) {
      const partitions: ProducerBatch[][] = [];
      let bytes = 0;
      let acks: string | undefined = undefined;
      for (; next < keys.length && (partitions.length < partitionsPerRequestMax || bytes < SPREAD_REQUEST_BYTES_MIN); next++) {
        const head = this.accumulator.peek(keys[next]);
        if (head === undefined) continue;
        // One request carries one acks setting; a batch with another waits for the next request.
        if (acks !== undefined && (head.options.acks !== acks || bytes + head.sizeBytes > this.config.maxRequestBytes)) break;
        acks = head.options.acks;
        const batches = this.accumulator.drainReady(keys[next], nowMs, Math.max(1, this.config.maxRequestBytes - bytes), acks);
        for (const batch of batches) bytes += batch.sizeBytes;
        if (batches.length > 0) partitions.push(batches);
      }
      if (partitions.length === 0) return;
      void this.sendRequest(brokerId, acks as Acks, partitions, nowMs);
    }
  }

  /**
   * Sends one request. Each entry of `partitions` is one partition's consecutive batches, which
   * travel concatenated in one record_batch field and get consecutive offsets from base_offset.
   */
  private async sendRequest(brokerId: number, acks: Acks, partitions: ProducerBatch[][], nowMs: number): Promise<void> {
    this.inFlightPerBroker.set(brokerId, (this.inFlightPerBroker.get(brokerId) ?? 0) + 1);
    for (const batches of partitions) {
      const key = topicPartitionKey(batches[0].topic, batches[0].partition);
      this.inFlightPerPartition.set(key, (this.inFlightPerPartition.get(key) ?? 0) + 1);
    }
    try {
      const data = new Map<string, WirePartitionProduce[]>();
      for (const batches of partitions) {
        const encoded: Buffer[] = [];
        for (const batch of batches) {
          batch.attempts++;
          if (batch.encoded === undefined) {
            batch.encoded = await this.encode(batch, nowMs);
            // The bytes are all a retry needs; holding the record objects too would double memory.
            batch.records = [];
          }
          encoded.push(batch.encoded);
        }
        const topic = batches[0].topic;
        let list = data.get(topic);
        if (list === undefined) data.set(topic, (list = []));
        list.push({ partition: batches[0].partition, recordBatches: encoded });
      }
      const connection = this.cluster.connectionToBroker(brokerId);
      const results = await this.cluster.wire.produce(connection, acks, this.config.requestTimeoutMs, data);
      const doneMs = Date.now();
      const byKey = new Map(results.map((result) => [topicPartitionKey(result.topic, result.partition), result]));
      for (const batches of partitions) {
        const result = byKey.get(topicPartitionKey(batches[0].topic, batches[0].partition));
        if (result === undefined) this.handleFailures(batches, new BrokerError('UNKNOWN_SERVER_ERROR', 'no result for the partition'), doneMs);
        else if (!isNoError(result.errorCode)) this.handleFailures(batches, new BrokerError(result.errorCode, result.errorMessage), doneMs);
        else this.completeAll(batches, result.baseOffset);
      }
    } catch (error) {
      const failedMs = Date.now();
      for (const batches of partitions) this.handleFailures(batches.filter((batch) => !batch.isDone), error, failedMs);
    } finally {
      this.inFlightPerBroker.set(brokerId, this.inFlightPerBroker.get(brokerId)! - 1);
      for (const batches of partitions) {
        const key = topicPartitionKey(batches[0].topic, batches[0].partition);
        const count = this.inFlightPerPartition.get(key)! - 1;
        if (count === 0) this.inFlightPerPartition.delete(key);
        else this.inFlightPerPartition.set(key, count);
      }
      this.wakeup();
    }
  }

  private completeAll(batches: ProducerBatch[], baseOffset: number): void {
    let offset = baseOffset;
    for (const batch of batches) {
      // With acks=none the broker reports no offset (-1); every record gets -1.
      this.complete(batch, baseOffset < 0 ? -1 : offset);
      offset += batch.recordCount;
    }
  }

  /** Failed batches go back to the head of their partition in their order, or fail for good. */
  private handleFailures(batches: ProducerBatch[], error: unknown, nowMs: number): void {
    for (let i = batches.length - 1; i >= 0; i--) this.handleFailure(batches[i], error, nowMs);
  }

  private complete(batch: ProducerBatch, baseOffset: number): void {
    batch.complete(baseOffset);
    this.accumulator.deallocate(batch);
  }

  private handleFailure(batch: ProducerBatch, error: unknown, nowMs: number): void {
    const retriable = error instanceof BrookError && error.retriable;
    const timeLeft = batch.createdMs + this.config.deliveryTimeoutMs > nowMs;
    if (retriable && batch.attempts <= this.config.retry.retries && timeLeft && !this.stopped) {
      if (error.refreshMetadata) {
        this.cluster.invalidate();
        this.refreshMetadataThenWakeup();
      }
      this.accumulator.reenqueue(batch, nowMs + backoffMs(this.config.retry, batch.attempts, this.random()));
      return;
    }
    batch.fail(error instanceof Error ? error : new Error(String(error)));
    this.accumulator.deallocate(batch);
  }

  /**
   * Refreshes metadata in the background, at most once per initialRetryMs so that a partition
   * without a leader does not turn the send loop into a stream of metadata requests.
   */
  private refreshMetadataThenWakeup(): void {
    if (this.metadataRefreshInFlight) return;
    this.metadataRefreshInFlight = true;
    const waitMs = Math.max(0, this.nextMetadataRefreshMs - Date.now());
    setTimeout(() => {
      const topics = [...new Set(this.accumulator.pendingBatches().map((batch) => batch.topic))];
      this.cluster.refreshMetadata(topics).catch(() => undefined).finally(() => {
        this.metadataRefreshInFlight = false;
        this.nextMetadataRefreshMs = Date.now() + this.config.retry.initialRetryMs;
        this.wakeup();
      });
    }, waitMs);
  }

  private scheduleTimer(atMs: number, nowMs: number): void {
    if (atMs === Infinity || atMs >= this.timerAtMs) return;
    clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(() => {
      this.timerAtMs = Infinity;
      this.wakeup();
    }, Math.max(0, atMs - nowMs));
  }
}
