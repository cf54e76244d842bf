import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODE_VALUES } from '../../proto/brook-types.js';
import { BrokerError, ERROR_CODE_HANDLING, isRetriable, isRetriableCode } from '../../client/errors.js';

test('every ErrorCode of brook.proto has a decided handling', () => {
  for (const code of Object.keys(ERROR_CODE_VALUES)) {
    if (code === 'NONE') continue;
    assert.ok(code in ERROR_CODE_HANDLING, `${code} is classified`);
  }
});

test('broker errors carry retriable and refreshMetadata as the contract says', () => {
  const notLeader = new BrokerError('NOT_LEADER_OR_FOLLOWER', 'p0');
  assert.equal(notLeader.retriable, true);
  assert.equal(notLeader.refreshMetadata, true);
  assert.equal(isRetriable(notLeader), true);
  assert.equal(notLeader.message, 'NOT_LEADER_OR_FOLLOWER: p0');
  assert.equal(isRetriableCode('REQUEST_TIMED_OUT'), true);
  assert.equal(isRetriableCode('NOT_ENOUGH_REPLICAS'), true);
  assert.equal(isRetriableCode('MESSAGE_TOO_LARGE'), false);
  assert.equal(isRetriableCode('TOPIC_ALREADY_EXISTS'), false);
  assert.equal(new BrokerError('SOMETHING_NEW').retriable, false, 'unknown codes are not retried');
  assert.equal(isRetriable(new Error('plain')), false);
});
