/**
 * One partition replica on this broker: owns its PartitionLog, assigns offsets (through the log's
 * leader append) and decides what is committed.
 *
 * On a single broker there is no replication, so the commit rule is the flush policy: an append
 * is committed (the high watermark moves past it) when the log resolves it, which under
 * flush.policy=always is after the fdatasync that covers it, and under interval/never right after
 * the write. Consumers only see committed data. In a cluster, broker/cluster/replicated-partition.ts
 * serves the same interface (ServedPartition) over a Raft replica instead.
 */
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import type { AppendAcks, AppendOutcome, LeadershipRefusal, ServedPartition } from '../api/topic-service.js';
import type { PartitionLog } from '../storage/partition-log.js';

export class Partition implements ServedPartition {
  /** Appends waiting for the log, so close() can wait for them. */
  private readonly pendingAppends = new Set<Promise<unknown>>();

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly log: PartitionLog,
    /** The leader epoch this broker stamps; constant on a single broker. */
    readonly leaderEpoch: number,
    private readonly logger: Logger,
  ) {
    // What survived on disk after recovery is all this single broker has: it is committed.
    log.setHighWatermark(log.logEndOffset);
  }

  get highWatermark(): number {
    return this.log.highWatermark;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  /** A single broker leads every partition it holds. */
  leadership(): LeadershipRefusal | undefined {
    return undefined;
  }

  /**
   * Appends concatenated batches (validated and stamped by the log; this buffer is handed over)
   * and advances the high watermark once the log resolves the append per its flush policy. With
   * one replica both acks settings resolve at that moment: the log's write is the commit.
   */
  append(batches: Buffer, _acks: AppendAcks = 'all'): Promise<AppendOutcome> {
    const appended = this.log.append(batches, this.leaderEpoch).then((result) => {
      this.commitThrough(result.lastOffset + 1);
      return result;
    });
    this.pendingAppends.add(appended);
    const forget = (): void => {
      this.pendingAppends.delete(appended);
    };
    appended.then(forget, forget);
    return appended;
  }

  private commitThrough(offsetExclusive: number): void {
    assert.ok(offsetExclusive <= this.log.logEndOffset, 'cannot commit past the log end');
    if (offsetExclusive > this.log.highWatermark) this.log.setHighWatermark(offsetExclusive);
  }

  /** Committed whole batches from the one holding `offset`, up to about maxBytes (see PartitionLog.read). */
  read(offset: number, maxBytes: number): Promise<Buffer> {
    return this.log.read(offset, maxBytes, this.log.highWatermark);
  }

  /** Calls `listener` whenever the log's offsets move; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.log.onChange(listener);
  }

  /** Waits for appends in progress (their callers get their answers), then closes the log. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingAppends]);
    await this.log.close();
    this.logger.debug({ topic: this.topic, partition: this.index }, 'partition closed');
  }
}
