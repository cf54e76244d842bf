import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeFor, formatError, parseIntegerOption, parseKeyValues, UsageError, EXIT_BROKER_ERROR, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_TIMEOUT } from '../../cli/cli-errors.js';
import { BrokerError, ConnectionError, InvalidArgumentError, RetriesExhaustedError, TimeoutError } from '../../client/errors.js';

test('exit codes tell the kind of failure, also behind exhausted retries', () => {
  assert.equal(exitCodeFor(new UsageError('bad')), EXIT_USAGE);
  assert.equal(exitCodeFor(new InvalidArgumentError('bad')), EXIT_USAGE);
  assert.equal(exitCodeFor(new ConnectionError('down')), EXIT_UNREACHABLE);
  assert.equal(exitCodeFor(new RetriesExhaustedError(3, new ConnectionError('down'))), EXIT_UNREACHABLE);
  assert.equal(exitCodeFor(new TimeoutError('slow')), EXIT_TIMEOUT);
  assert.equal(exitCodeFor(new BrokerError('INVALID_CONFIG')), EXIT_BROKER_ERROR);
});

test('messages carry a hint the user can act on', () => {
  assert.match(formatError(new ConnectionError('no broker answered (127.0.0.1:1)')), /--brokers/);
  assert.match(formatError(new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', 't')), /brook topics create/);
  assert.match(formatError(new BrokerError('MESSAGE_TOO_LARGE')), /max\.message\.bytes/);
});

test('option parsing refuses what it cannot use', () => {
  assert.equal(parseIntegerOption('--partition', '3'), 3);
  assert.throws(() => parseIntegerOption('--partition', 'three'), /--partition must be an integer/);
  assert.throws(() => parseIntegerOption('--max-messages', '0', 1), />= 1/);
  assert.deepEqual(parseKeyValues('--config', ['retention.ms=5', 'a=b=c']), { 'retention.ms': '5', a: 'b=c' });
  assert.throws(() => parseKeyValues('--config', ['novalue']), /name=value/);
});
