import assert from 'node:assert/strict';

/**
 * A bound on bytes held at once (e.g. produce payloads being appended). tryAcquire refuses rather
 * than queues, so an overloaded broker answers RESOURCE_EXHAUSTED and the client backs off, instead
 * of the heap growing.
 */
export class ByteBudget {
  private usedBytes = 0;

  constructor(readonly capacityBytes: number) {
    assert.ok(Number.isSafeInteger(capacityBytes) && capacityBytes > 0, 'capacity must be a positive integer');
  }

  get inUseBytes(): number {
    return this.usedBytes;
  }

  /** Takes `bytes` when they fit; one request larger than the capacity fits only when alone. */
  tryAcquire(bytes: number): boolean {
    assert.ok(Number.isSafeInteger(bytes) && bytes >= 0, 'bytes must be a non-negative integer');
    if (this.usedBytes > 0 && this.usedBytes + bytes > this.capacityBytes) return false;
    this.usedBytes += bytes;
    return true;
  }

  /** Takes as much of `bytes` as is free (possibly 0) and returns how much was taken. */
  acquireUpTo(bytes: number): number {
    assert.ok(Number.isSafeInteger(bytes) && bytes >= 0, 'bytes must be a non-negative integer');
    const granted = Math.max(0, Math.min(bytes, this.capacityBytes - this.usedBytes));
    this.usedBytes += granted;
    return granted;
  }

  release(bytes: number): void {
    assert.ok(bytes <= this.usedBytes, 'released more than acquired');
    this.usedBytes -= bytes;
  }
}
