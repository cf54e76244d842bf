/**
 * The producer's accumulator: records wait here in per-partition batches until a batch is full
 * (`batchBytes`), has lingered `lingerMs`, or a flush asks for everything. The sender drains ready
 * batches. Memory is bounded by a MemoryBudget that every record reserves before it is appended.
 *
 * Time is passed in as `nowMs` from the caller's one clock read; nothing here reads the clock.
 */
import assert from 'node:assert';
import { MemoryBudget } from './memory-budget.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One record as it waits to be encoded; the shape the record batch encoder takes. */
export interface PendingRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  /** CreateTime, milliseconds since the epoch. */
  timestamp: number;
}

/** Per-record overhead in a v2 batch: length, attributes, deltas and header count varints. */
const RECORD_OVERHEAD_BYTES = 21;

/** A conservative estimate of a record's encoded size, used for batching and memory. */
export function estimateRecordBytes(record: PendingRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const header of record.headers) bytes += 10 + Buffer.byteLength(header.key) + (header.value?.length ?? 0);
  return bytes;
}

export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Settings that all records of one batch share; a record with other settings starts a new batch. */
export interface BatchOptions {
  /** The Produce acks the batch is sent with (the ProduceRequest.Acks enum's name). */
  readonly acks: string;
  /** Compression codec id (record/batch-header Codec). */
  readonly codec: number;
}

export const DEFAULT_BATCH_OPTIONS: BatchOptions = { acks: 'ACKS_ALL', codec: 0 };

/** Records of one partition that will travel as one record batch. */
export class ProducerBatch {
  /** The records until the batch is encoded; then only `encoded` is kept (see releaseRecords). */
  records: PendingRecord[] = [];
  /** Records in the batch; stays when the records are released after encoding. */
  recordCount = 0;
  /** Estimated bytes, reserved from the memory budget and released on completion. */
  sizeBytes = 0;
  /** Send attempts so far. */
  attempts = 0;
  /** Not sent again before this time (retry backoff). */
  retryAtMs = 0;
  /** Set once drained: no more appends. */
  closed = false;
  /** The encoded record batch, kept across retries so a retry resends the same bytes. */
  encoded: Buffer | undefined = undefined;
  private done = false;
  readonly result: Promise<number>;
  private resolveResult!: (baseOffset: number) => void;
  private rejectResult!: (error: Error) => void;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdMs: number,
    readonly options: BatchOptions,
  ) {
    this.result = new Promise<number>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A batch's failure is reported through every send() that awaits it; without one awaiting
    // (fire-and-forget callers) the rejection must not crash the process.
    this.result.catch(() => undefined);
  }

  get isDone(): boolean {
    return this.done;
  }

  /** Resolves every waiting send with the broker-assigned base offset of this batch. */
  complete(baseOffset: number): void {
    assert(!this.done, 'batch completed twice');
    this.done = true;
    this.resolveResult(baseOffset);
  }

  fail(error: Error): void {
    assert(!this.done, 'batch completed twice');
    this.done = true;
    this.rejectResult(error);
  }
}

export interface AccumulatorConfig {
  /** A batch is sent once it holds this many (estimated) bytes. */
  readonly batchBytes: number;
  /** How long a batch that is not full waits for more records. */
  readonly lingerMs: number;
  /** Upper bound of records in one batch. */
  readonly batchRecordsMax: number;
}

/** Where a record went: its batch and its index inside the batch. */
export interface AppendResult {
  readonly batch: ProducerBatch;
  readonly index: number;
}

export class RecordAccumulator {
  /** Per partition, batches in append order; the head is the next to send. */
  private readonly queues = new Map<string, ProducerBatch[]>();
  /** The same queues by topic and partition number: the per-record append path avoids building keys. */
  private readonly queuesByTopic = new Map<string, Array<ProducerBatch[] | undefined>>();
  private flushesInProgress = 0;
  private incompleteBatches = new Set<ProducerBatch>();

  constructor(
    private readonly config: AccumulatorConfig,
    readonly memory: MemoryBudget,
  ) {
    assert(config.batchBytes > 0 && config.lingerMs >= 0 && config.batchRecordsMax > 0);
  }

  /** Appends if memory allows without waiting; null when the caller must wait for memory. */
  tryAppend(topic: string, partition: number, record: PendingRecord, recordBytes: number, nowMs: number, options: BatchOptions = DEFAULT_BATCH_OPTIONS): AppendResult | null {
    if (!this.memory.tryReserve(recordBytes)) return null;
    return this.appendReserved(topic, partition, record, recordBytes, nowMs, options);
  }

  /** Appends a record whose `recordBytes` the caller already reserved from the memory budget. */
  appendReserved(topic: string, partition: number, record: PendingRecord, recordBytes: number, nowMs: number, options: BatchOptions = DEFAULT_BATCH_OPTIONS): AppendResult {
    const queue = this.queueFor(topic, partition);
    let batch = queue.length > 0 ? queue[queue.length - 1] : undefined;
    if (batch === undefined || batch.closed || !this.fits(batch, recordBytes) || batch.options.acks !== options.acks || batch.options.codec !== options.codec) {
      batch = new ProducerBatch(topic, partition, nowMs, options);
      queue.push(batch);
      this.incompleteBatches.add(batch);
    }
    batch.records.push(record);
    batch.recordCount++;
    batch.sizeBytes += recordBytes;
    return { batch, index: batch.recordCount - 1 };
  }

  private queueFor(topic: string, partition: number): ProducerBatch[] {
    let byPartition = this.queuesByTopic.get(topic);
    if (byPartition === undefined) {
      byPartition = [];
      this.queuesByTopic.set(topic, byPartition);
    }
    let queue = byPartition[partition];
    if (queue === undefined) {
      queue = [];
      byPartition[partition] = queue;
      this.queues.set(topicPartitionKey(topic, partition), queue);
    }
    return queue;
  }

  private fits(batch: ProducerBatch, recordBytes: number): boolean {
    // An empty batch takes any record, so a record larger than batchBytes still travels alone.
    if (batch.recordCount === 0) return true;
    return batch.sizeBytes + recordBytes <= this.config.batchBytes && batch.recordCount < this.config.batchRecordsMax;
  }

  /**
   * The partitions whose head batch may be sent now, and the earliest time another one becomes
   * ready (Infinity when nothing waits). `isMuted` excludes partitions with a batch in flight.
   */
  ready(nowMs: number, isMuted: (key: string) => boolean): { readyKeys: string[]; nextReadyMs: number } {
    const readyKeys: string[] = [];
    let nextReadyMs = Infinity;
    for (const [key, queue] of this.queues) {
      if (queue.length === 0 || isMuted(key)) continue;
      const readyAtMs = this.readyAtMs(queue, 0);
      if (readyAtMs <= nowMs) readyKeys.push(key);
      else nextReadyMs = Math.min(nextReadyMs, readyAtMs);
    }
    return { readyKeys, nextReadyMs };
  }

  /** When the batch at `index` of a partition's queue may be sent (its retry backoff, linger). */
  private readyAtMs(queue: ProducerBatch[], index: number): number {
    const batch = queue[index];
    const urgent = this.flushesInProgress > 0 || this.memory.hasWaiters;
    const full = index < queue.length - 1 || batch.sizeBytes >= this.config.batchBytes || batch.recordCount >= this.config.batchRecordsMax;
    const lingerEndMs = full || urgent || batch.attempts > 0 ? 0 : batch.createdMs + this.config.lingerMs;
    return Math.max(batch.retryAtMs, lingerEndMs);
  }

  /**
   * Takes the ready batches at the head of a partition, in order, up to `maxBytes` (the first
   * always) and only those sent with `acks`: they travel together in one request.
   */
  drainReady(key: string, nowMs: number, maxBytes: number, acks: string): ProducerBatch[] {
    const queue = this.queues.get(key);
    const drained: ProducerBatch[] = [];
    let bytes = 0;
    while (queue !== undefined && queue.length > 0) {
      const head = queue[0];
      if (head.options.acks !== acks || this.readyAtMs(queue, 0) > nowMs) break;
      if (drained.length > 0 && bytes + head.sizeBytes > maxBytes) break;
      queue.shift();
      head.closed = true;
      bytes += head.sizeBytes;
      drained.push(head);
    }
    return drained;
  }

  /** The head batch of a partition, left in place. */
  peek(key: string): ProducerBatch | undefined {
    const queue = this.queues.get(key);
    return queue === undefined || queue.length === 0 ? undefined : queue[0];
  }

  /** Takes the head batch of a partition for sending; it accepts no more records. */
  drain(key: string): ProducerBatch | undefined {
    const queue = this.queues.get(key);
    if (queue === undefined || queue.length === 0) return undefined;
    const batch = queue.shift()!;
    batch.closed = true;
    return batch;
  }

  /** Puts a batch that failed retriably back at the head of its partition, to keep order. */
  reenqueue(batch: ProducerBatch, retryAtMs: number): void {
    assert(!batch.isDone, 'reenqueue of a completed batch');
    batch.retryAtMs = retryAtMs;
    this.queueFor(batch.topic, batch.partition).unshift(batch);
  }

  /** Marks a batch finished (sent or failed) and returns its memory to the budget. */
  deallocate(batch: ProducerBatch): void {
    assert(batch.isDone, 'deallocate of a batch still pending');
    if (this.incompleteBatches.delete(batch)) this.memory.release(batch.sizeBytes);
  }

  beginFlush(): void {
    this.flushesInProgress++;
  }

  endFlush(): void {
    assert(this.flushesInProgress > 0);
    this.flushesInProgress--;
  }

  /** Every batch not yet completed: queued or in flight. */
  pendingBatches(): ProducerBatch[] {
    return [...this.incompleteBatches];
  }

  /** Batches still queued (not in flight). */
  queuedBatchCount(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.length;
    return count;
  }

  /** Fails and removes every queued batch, e.g. when the producer disconnects. */
  abortQueued(error: Error): void {
    for (const queue of this.queues.values()) {
      for (const batch of queue.splice(0)) {
        batch.fail(error);
        this.deallocate(batch);
      }
    }
  }

  /** Fails queued batches created before `createdBeforeMs` (their delivery timeout passed). */
  expireQueued(createdBeforeMs: number, makeError: (batch: ProducerBatch) => Error): void {
    for (const queue of this.queues.values()) {
      while (queue.length > 0 && queue[0].createdMs < createdBeforeMs) {
        const batch = queue.shift()!;
        batch.fail(makeError(batch));
        this.deallocate(batch);
      }
    }
  }
}
