/**
 * The producer's bound on buffered memory. Every record reserves its estimated size here before it
 * enters the accumulator and gives it back when its batch completes (acknowledged or failed). When
 * the budget is spent, senders wait in FIFO order: backpressure instead of an unbounded heap.
 */
import assert from 'node:assert';
import { InvalidArgumentError, TimeoutError } from '../client/errors.js';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class MemoryBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly totalBytes: number) {
    assert(Number.isInteger(totalBytes) && totalBytes > 0, 'totalBytes must be a positive integer');
  }

  get usedBytes(): number {
    return this.used;
  }

  /** True while some caller waits for memory: batches should be sent now, not after linger. */
  get hasWaiters(): boolean {
    return this.waiters.length > 0;
  }

  /** Reserves at once if the budget allows and nobody waits ahead; false otherwise. */
  tryReserve(bytes: number): boolean {
    this.checkSize(bytes);
    if (this.waiters.length > 0 || this.used + bytes > this.totalBytes) return false;
    this.used += bytes;
    return true;
  }

  /** Reserves `bytes`, waiting up to `maxWaitMs` for earlier reservations to be released. */
  reserve(bytes: number, maxWaitMs: number): Promise<void> {
    if (this.tryReserve(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new TimeoutError(`no producer buffer memory within ${maxWaitMs} ms (bufferMemoryBytes=${this.totalBytes})`));
        this.wakeWaiters();
      }, maxWaitMs);
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    assert(bytes >= 0 && bytes <= this.used, 'release of more memory than reserved');
    this.used -= bytes;
    this.wakeWaiters();
  }

  /** Rejects every waiter, e.g. when the producer disconnects. */
  failWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  private wakeWaiters(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].bytes <= this.totalBytes) {
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      this.used += waiter.bytes;
      waiter.resolve();
    }
  }

  private checkSize(bytes: number): void {
    if (bytes > this.totalBytes) {
      throw new InvalidArgumentError(`a record of ${bytes} bytes exceeds bufferMemoryBytes=${this.totalBytes}`);
    }
  }
}
