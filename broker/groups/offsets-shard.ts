/**
 * The groups of one offsets partition while this broker leads it: loaded by reading the
 * partition from its start, then kept current by writing every change through the partition
 * (acks=all) before it is applied in memory.
 *
 * Writes are queued and appended one append at a time (all writes queued meanwhile go together
 * as one append), so the log holds them in the order they were queued and the memory applies
 * them in that same order. A write that fails may still have reached the log (a timeout, a lost
 * leadership): the coordinator then throws this shard away and, if it still leads, loads it again
 * from the log, which is the truth.
 */
import type { Logger } from 'pino';
import type { ErrorCode } from '../../proto/brook-types.js';
import { Codec } from '../../record/batch-header.js';
import { decodeRecords, encodeBatch, iterateBatches } from '../../record/record-batch.js';
import type { ProduceRecord } from '../../record/record.js';
import type { ServedPartition } from '../api/topic-service.js';
import { mapError } from '../api/error-codes.js';
import { ConsumerGroup, offsetKey } from './consumer-group.js';
import { OFFSETS_APPEND_BYTES_MAX, OFFSETS_LOAD_READ_BYTES, OFFSETS_WRITE_TIMEOUT_MS } from './group-limits.js';
import { decodeOffsetsRecord, OffsetsRecordError } from './offsets-records.js';

/** How long the loader waits for the partition to move before looking again. */
const LOAD_WAIT_MS = 50;

/** A write to the offsets log failed; `errorCode` is what the request is answered with. */
export class OffsetsWriteError extends Error {
  override readonly name = 'OffsetsWriteError';
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface QueuedWrite {
  readonly batch: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: OffsetsWriteError) => void;
}

export type ShardStatus = 'loading' | 'loaded' | 'closed';

export class OffsetsShard {
  status: ShardStatus = 'loading';
  readonly groups = new Map<string, ConsumerGroup>();
  private readonly queue: QueuedWrite[] = [];
  private appending = false;
  /** Records read while loading that were not understood (newer versions, foreign bytes). */
  skippedRecords = 0;

  constructor(
    readonly index: number,
    readonly partition: ServedPartition,
    /** The partition's leader epoch when this shard was created: a new epoch means a new shard. */
    readonly epoch: number,
    private readonly clock: { nowMs(): number },
    private readonly logger: Logger,
    /** Called once when a write failed: the shard no longer matches the log. */
    private readonly onWriteFailure: (shard: OffsetsShard) => void,
  ) {}

  /**
   * Reads the partition from its start and applies every record. Resolves when everything up to
   * the log end is committed and applied (a new Raft leader first commits an entry of its own
   * term, which makes the entries before it readable); resolves early if the shard is closed.
   */
  async load(): Promise<void> {
    let next = this.partition.logStartOffset;
    const startedMs = this.clock.nowMs();
    let records = 0;
    while (this.status === 'loading') {
      const bytes = await this.partition.read(next, OFFSETS_LOAD_READ_BYTES);
      if (bytes.length === 0) {
        if (next >= this.partition.highWatermark && this.partition.highWatermark >= this.partition.logEndOffset) break;
        await new Promise((resolve) => setTimeout(resolve, LOAD_WAIT_MS));
        continue;
      }
      for (const batch of iterateBatches(bytes)) {
        next = batch.info.baseOffset + batch.info.lastOffsetDelta + 1;
        if (batch.info.control) continue;
        try {
          for (const record of decodeRecords(bytes, batch.pos, batch.info)) {
            this.applyRecord(record.key, record.value);
            records++;
          }
        } catch (error) {
          // Not a batch this coordinator wrote (compressed or malformed bytes appended by hand).
          this.skippedRecords += batch.info.recordCount;
          this.logger.warn({ err: error, baseOffset: batch.info.baseOffset }, 'offsets batch skipped while loading');
        }
      }
    }
    if (this.status !== 'loading') return;
    this.status = 'loaded';
    this.logger.info({ partition: this.index, epoch: this.epoch, records, groups: this.groups.size, tookMs: this.clock.nowMs() - startedMs }, 'offsets partition loaded');
  }

  /** Applies one record of the log to the groups (loading). */
  private applyRecord(key: Buffer | null, value: Buffer | null): void {
    let decoded;
    try {
      decoded = decodeOffsetsRecord(key, value);
    } catch (error) {
      if (!(error instanceof OffsetsRecordError)) throw error;
      this.skippedRecords++;
      return;
    }
    const nowMs = this.clock.nowMs();
    if (decoded.kind === 'unknown') {
      this.skippedRecords++;
      return;
    }
    let group = this.groups.get(decoded.groupId);
    if (group === undefined) {
      if (decoded.value === undefined) return;
      group = new ConsumerGroup(decoded.groupId, nowMs);
      this.groups.set(decoded.groupId, group);
    }
    if (decoded.kind === 'offset') {
      const keyOf = offsetKey(decoded.topic, decoded.partition);
      if (decoded.value === undefined) group.offsets.delete(keyOf);
      else group.offsets.set(keyOf, { topic: decoded.topic, partition: decoded.partition, value: decoded.value });
    } else {
      group.restore(decoded.value, nowMs);
    }
    if (group.isDeletable && group.generationId === 0) this.groups.delete(decoded.groupId);
  }

  /**
   * Appends `records` (one batch) through the partition with acks=all. Resolves once they are
   * committed; rejects with OffsetsWriteError (NOT_COORDINATOR when the shard is closed or
   * leadership moved, REQUEST_TIMED_OUT, or the partition's error).
   */
  write(records: readonly ProduceRecord[]): Promise<void> {
    if (this.status !== 'loaded') return Promise.reject(new OffsetsWriteError('NOT_COORDINATOR', `offsets partition ${this.index} is not served here any more`));
    const batch = encodeBatch(records, { codec: Codec.None, nowMs: this.clock.nowMs() });
    if (batch.length > OFFSETS_APPEND_BYTES_MAX) {
      return Promise.reject(new OffsetsWriteError('INVALID_REQUEST', `the offsets record of ${batch.length} bytes exceeds ${OFFSETS_APPEND_BYTES_MAX} bytes`));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.appending || this.queue.length === 0) return;
    const taken: QueuedWrite[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && (taken.length === 0 || bytes + this.queue[0].batch.length <= OFFSETS_APPEND_BYTES_MAX)) {
      const write = this.queue.shift()!;
      bytes += write.batch.length;
      taken.push(write);
    }
    this.appending = true;
    const appended = this.partition.append(
      Buffer.concat(
        taken.map((write) => write.batch),
        bytes,
      ),
      'all',
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OffsetsWriteError('REQUEST_TIMED_OUT', `the offsets record was not committed within ${OFFSETS_WRITE_TIMEOUT_MS} ms`)), OFFSETS_WRITE_TIMEOUT_MS);
    });
    Promise.race([appended, timeout])
      .then(
        () => {
          for (const write of taken) write.resolve();
        },
        (error: unknown) => {
          const failure = toWriteError(error);
          for (const write of taken) write.reject(failure);
          if (this.status === 'loaded') {
            this.logger.warn({ err: error, partition: this.index }, 'offsets write failed: the partition is reloaded from its log');
            this.onWriteFailure(this);
          }
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.appending = false;
        this.pump();
      });
  }

  /** Stops serving: queued writes are refused with NOT_COORDINATOR. */
  close(): void {
    this.status = 'closed';
    for (const write of this.queue.splice(0)) write.reject(new OffsetsWriteError('NOT_COORDINATOR', `offsets partition ${this.index} moved away from this broker`));
  }
}

function toWriteError(error: unknown): OffsetsWriteError {
  if (error instanceof OffsetsWriteError) return error;
  const mapped = mapError(error);
  const leadershipLost = mapped.errorCode === 'NOT_LEADER_OR_FOLLOWER' || mapped.errorCode === 'LEADER_NOT_AVAILABLE';
  return new OffsetsWriteError(leadershipLost ? 'NOT_COORDINATOR' : mapped.errorCode, mapped.errorMessage);
}
