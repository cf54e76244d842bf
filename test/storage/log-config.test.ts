import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultLogConfig, LogConfigError, resolveLogConfig, validateLogConfig } from '../../broker/storage/log-config.js';

test('log config: documented defaults, and clear errors for bad values', () => {
  validateLogConfig(defaultLogConfig);
  assert.equal(defaultLogConfig.segmentBytes, 1024 * 1024 * 1024);
  assert.equal(defaultLogConfig.segmentMs, 7 * 24 * 3_600_000);
  assert.equal(defaultLogConfig.indexIntervalBytes, 4096);
  assert.equal(defaultLogConfig.maxBatchBytes, 1024 * 1024);
  assert.equal(defaultLogConfig.flushPolicy, 'always');
  assert.equal(resolveLogConfig({ retentionMs: 60_000 }).retentionMs, 60_000);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ retentionMs: 0 }, /retentionMs must be an integer in \[1, /],
    [{ retentionBytes: -1 }, /retentionBytes must be an integer/],
    [{ segmentBytes: 2 ** 31 }, /segmentBytes must be an integer in \[1024, 2147483647\], got 2147483648/],
    [{ segmentBytes: 4096 }, /maxBatchBytes \(1048576\) must not exceed segmentBytes \(4096\)/],
    [{ flushPolicy: 'sometimes' }, /flushPolicy must be 'always', 'interval' or 'never', got "sometimes"/],
    [{ timestampType: 'producer' }, /timestampType must be 'create' or 'log-append'/],
    [{ indexIntervalBytes: 1.5 }, /indexIntervalBytes must be an integer/],
  ];
  for (const [overrides, message] of cases) {
    assert.throws(() => resolveLogConfig(overrides), (error: unknown) => error instanceof LogConfigError && message.test(error.message));
  }
});
