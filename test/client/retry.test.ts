import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retry, backoffMs, type RetryConfig, type RetryEnvironment } from '../../client/retry.js';
import { BrokerError, ConnectionError, InvalidArgumentError, RetriesExhaustedError } from '../../client/errors.js';

const config: RetryConfig = { retries: 5, initialRetryMs: 100, maxRetryMs: 1000, multiplier: 2, jitterFactor: 0.2, maxRetryTimeMs: 60_000 };

function fakeEnvironment(randomValues: number[]): RetryEnvironment & { sleeps: number[] } {
  let now = 0;
  let index = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    random: () => randomValues[index++ % randomValues.length],
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    nowMs: () => now,
  };
}

test('retries a retriable error until it succeeds', async () => {
  const environment = fakeEnvironment([0.5]);
  let calls = 0;
  const result = await retry(async () => {
    calls++;
    if (calls < 3) throw new BrokerError('NOT_LEADER_OR_FOLLOWER');
    return 'ok';
  }, config, { environment });
  assert.equal(result, 'ok');
  assert.equal(calls, 3);
  assert.deepEqual(environment.sleeps, [100, 200]);
});

test('does not retry an error that is not retriable', async () => {
  const environment = fakeEnvironment([0.5]);
  let calls = 0;
  await assert.rejects(retry(async () => {
    calls++;
    throw new BrokerError('MESSAGE_TOO_LARGE');
  }, config, { environment }), (error: unknown) => error instanceof BrokerError && error.code === 'MESSAGE_TOO_LARGE');
  assert.equal(calls, 1);
  await assert.rejects(retry(async () => { throw new InvalidArgumentError('bad'); }, config, { environment }), InvalidArgumentError);
  await assert.rejects(retry(async () => { throw new TypeError('bug'); }, config, { environment }), TypeError);
  assert.deepEqual(environment.sleeps, []);
});

test('gives up after the configured retries with the last error as cause', async () => {
  const environment = fakeEnvironment([0.5]);
  let calls = 0;
  const onRetryAttempts: number[] = [];
  await assert.rejects(retry(async () => {
    calls++;
    throw new ConnectionError('refused');
  }, config, { environment, onRetry: (_error, attempt) => { onRetryAttempts.push(attempt); } }), (error: unknown) => {
    assert.ok(error instanceof RetriesExhaustedError);
    assert.ok(error.cause instanceof ConnectionError);
    assert.equal(error.attempts, 6);
    return true;
  });
  assert.equal(calls, 6);
  assert.deepEqual(onRetryAttempts, [1, 2, 3, 4, 5]);
  // Exponential growth, capped at maxRetryMs.
  assert.deepEqual(environment.sleeps, [100, 200, 400, 800, 1000]);
});

test('backoff grows exponentially and its jitter stays within bounds', () => {
  for (let attempt = 1; attempt <= 8; attempt++) {
    const base = Math.min(1000, 100 * 2 ** (attempt - 1));
    const low = backoffMs(config, attempt, 0);
    const high = backoffMs(config, attempt, 0.999999);
    assert.equal(low, Math.round(base * 0.8));
    assert.equal(high, Math.round(base * 1.2));
    for (let i = 0; i < 50; i++) {
      const value = backoffMs(config, attempt, Math.random());
      assert.ok(value >= low && value <= high, `${value} within [${low}, ${high}]`);
    }
  }
  // Different random draws give different waits: jitter is real.
  assert.notEqual(backoffMs(config, 3, 0.1), backoffMs(config, 3, 0.9));
});

test('stops when the total retry time would be exceeded', async () => {
  const environment = fakeEnvironment([0.5]);
  let calls = 0;
  await assert.rejects(retry(async () => {
    calls++;
    throw new ConnectionError('down');
  }, { ...config, retries: 100, maxRetryTimeMs: 350 }, { environment }), RetriesExhaustedError);
  assert.equal(calls, 3); // waits 100 + 200; the next 400 would pass 350 ms
});
