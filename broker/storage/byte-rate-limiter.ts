/**
 * A token bucket over bytes, shared by background readers of one broker (the log scrub) so that
 * together they stay under a rate. `take(bytes)` resolves when the bytes may be read; callers
 * queue in order. At most one second of unused budget is kept (a short burst after idling).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

export class ByteRateLimiter {
  private availableBytes: number;
  private lastRefillMs: number;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly bytesPerSecond: number,
    private readonly nowMs: () => number = () => Date.now(),
  ) {
    assert.ok(Number.isSafeInteger(bytesPerSecond) && bytesPerSecond > 0, `bytesPerSecond must be a positive integer, got ${bytesPerSecond}`);
    this.availableBytes = bytesPerSecond;
    this.lastRefillMs = nowMs();
  }

  take(bytes: number): Promise<void> {
    assert.ok(Number.isSafeInteger(bytes) && bytes >= 0, `bytes must be a non-negative integer, got ${bytes}`);
    const turn = this.tail.then(() => this.wait(bytes));
    this.tail = turn;
    return turn;
  }

  private async wait(bytes: number): Promise<void> {
    this.refill();
    // A request larger than the bucket is let through once the bucket is full, and leaves it in debt.
    while (this.availableBytes < Math.min(bytes, this.bytesPerSecond)) {
      const missingBytes = Math.min(bytes, this.bytesPerSecond) - this.availableBytes;
      await sleep(Math.max(1, Math.ceil((missingBytes * 1000) / this.bytesPerSecond)));
      this.refill();
    }
    this.availableBytes -= bytes;
  }

  private refill(): void {
    const now = this.nowMs();
    const elapsedMs = Math.max(0, now - this.lastRefillMs);
    this.lastRefillMs = now;
    this.availableBytes = Math.min(this.bytesPerSecond, this.availableBytes + (elapsedMs * this.bytesPerSecond) / 1000);
  }
}
