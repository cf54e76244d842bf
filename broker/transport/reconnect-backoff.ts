import assert from 'node:assert/strict';

/**
 * Exponential backoff with jitter for redialing one peer: the n-th consecutive failure waits a
 * random time in [d/2, d) with d = min(max, initial * 2^n), so brokers that lost each other at
 * the same moment do not redial in lockstep.
 */
export class ReconnectBackoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {
    assert.ok(initialMs > 0 && maxMs >= initialMs, 'backoff needs 0 < initialMs <= maxMs');
  }

  /** The delay before the next attempt; each call counts one more consecutive failure. */
  nextDelayMs(): number {
    const ceilingMs = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return Math.round(ceilingMs * (0.5 + this.random() * 0.5));
  }

  /** A stream came up: the next failure starts from the initial delay again. */
  reset(): void {
    this.failures = 0;
  }
}
