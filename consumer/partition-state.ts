/**
 * The fetch state of one assigned partition: where the application is (position), where the next
 * fetch starts (fetchOffset, ahead of position by what is buffered), the buffered messages,
 * whether it is paused, and a pending offset reset (earliest, latest, timestamp) that the fetcher
 * resolves through ListOffsets before fetching.
 *
 * `epoch` grows with every seek: a fetch that started before the seek carries the old epoch, and
 * its results are dropped rather than mixed into the new position's data.
 */
import assert from 'node:assert';
import type { ConsumerMessage } from './fetched-records.js';

/** Where to start reading a partition. */
export type StartOffset = number | 'earliest' | 'latest' | { timestamp: number };

export class PartitionState {
  /** Offset of the next message the application will get. */
  position = -1;
  /** Offset the next fetch asks for. */
  fetchOffset = -1;
  paused = false;
  epoch = 0;
  highWatermark = -1;
  /** Set when the start offset must be looked up; cleared when resolved. */
  pendingReset: Exclude<StartOffset, number> | null = null;
  /** A non-retriable error for this partition, handed to the application on its next read. */
  error: Error | null = null;
  private queue: ConsumerMessage[] = [];
  private head = 0;
  bufferedBytes = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get bufferedCount(): number {
    return this.queue.length - this.head;
  }

  /** Moves to `offset` (or a pending lookup), dropping buffered messages. Returns bytes freed. */
  seek(start: StartOffset): number {
    const freed = this.bufferedBytes;
    this.queue = [];
    this.head = 0;
    this.bufferedBytes = 0;
    this.epoch++;
    this.error = null;
    if (typeof start === 'number') {
      assert(Number.isSafeInteger(start) && start >= 0, 'offset must be a non-negative integer');
      this.position = start;
      this.fetchOffset = start;
      this.pendingReset = null;
    } else {
      this.pendingReset = start;
    }
    return freed;
  }

  /** Whether the fetcher should include this partition now. */
  fetchable(): boolean {
    return !this.paused && this.pendingReset === null && this.error === null && this.fetchOffset >= 0;
  }

  /** Adds fetched messages, if the fetch belongs to the current epoch. */
  append(epoch: number, messages: ConsumerMessage[], bytes: number, nextFetchOffset: number): boolean {
    return this.advanceFetchOffset(epoch, nextFetchOffset) && this.appendMessages(epoch, messages, bytes);
  }

  /** Moves the next fetch past a response, before its records are decoded. */
  advanceFetchOffset(epoch: number, nextFetchOffset: number): boolean {
    if (epoch !== this.epoch) return false;
    assert(nextFetchOffset >= this.fetchOffset, 'fetch offset moves forward only');
    this.fetchOffset = nextFetchOffset;
    return true;
  }

  /** Adds decoded messages of a fetch of the current epoch; false (dropped) after a seek. */
  appendMessages(epoch: number, messages: ConsumerMessage[], bytes: number): boolean {
    if (epoch !== this.epoch) return false;
    for (const message of messages) this.queue.push(message);
    this.bufferedBytes += bytes;
    return true;
  }

  /** The next buffered message, removed; position moves past it. */
  take(): ConsumerMessage | undefined {
    if (this.head === this.queue.length) return undefined;
    const message = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    this.bufferedBytes -= message.sizeBytes;
    this.position = message.offset + 1;
    return message;
  }

  /** Up to `max` buffered messages, removed; position is not moved (the caller commits it). */
  takeMany(max: number): ConsumerMessage[] {
    const end = Math.min(this.queue.length, this.head + max);
    const messages = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    for (const message of messages) this.bufferedBytes -= message.sizeBytes;
    return messages;
  }
}
