import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconnectBackoff } from '../../broker/transport/reconnect-backoff.js';

test('backoff doubles up to its maximum, jitters within [d/2, d), and starts over after reset', () => {
  const low = new ReconnectBackoff(100, 1_000, () => 0);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.nextDelayMs()), [50, 100, 200, 400, 500, 500]);
  const high = new ReconnectBackoff(100, 1_000, () => 0.999_999);
  assert.deepEqual([1, 2, 3, 4, 5].map(() => high.nextDelayMs()), [100, 200, 400, 800, 1_000]);
  high.reset();
  assert.equal(high.nextDelayMs(), 100);
  const many = new ReconnectBackoff(1, 5_000, () => 0.5);
  for (let i = 0; i < 100; i += 1) assert.ok(many.nextDelayMs() <= 5_000);
  assert.throws(() => new ReconnectBackoff(0, 10, () => 0));
});
