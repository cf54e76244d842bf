/**
 * The offsets topic's record format: round trips, tombstones, records of newer versions skipped,
 * malformed bytes refused with OffsetsRecordError; and the group -> offsets partition mapping
 * being the producer's key partitioner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCoordinator } from '../../broker/groups/group-coordinator.js';
import { groupIdProblem } from '../../broker/groups/group-id.js';
import {
  decodeOffsetsRecord,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  OffsetsRecordError,
  type StoredGroup,
} from '../../broker/groups/offsets-records.js';
import { partitionForKey } from '../../producer/murmur2.js';

const GROUP: StoredGroup = {
  protocolType: 'consumer',
  generationId: 7,
  protocolName: 'cooperative-sticky',
  leaderId: 'a-1',
  stateTimestampMs: 1_700_000_000_000,
  members: [
    { memberId: 'a-1', groupInstanceId: 'host-a', clientId: 'a', clientHost: 'ipv4:127.0.0.1:5000', rebalanceTimeoutMs: 60_000, sessionTimeoutMs: 10_000, metadata: Buffer.from([1, 2, 3]), assignment: Buffer.from('p0,p1') },
    { memberId: 'b-2', groupInstanceId: '', clientId: 'b', clientHost: '', rebalanceTimeoutMs: 5_000, sessionTimeoutMs: 5_000, metadata: Buffer.alloc(0), assignment: Buffer.alloc(0) },
  ],
};

describe('offsets records', () => {
  it('round-trips committed offsets and group metadata', () => {
    const offset = decodeOffsetsRecord(encodeOffsetKey('g', 'orders', 11), encodeOffsetValue({ offset: 2 ** 40, leaderEpoch: 3, metadata: 'héllo', commitTimestampMs: 123 }));
    assert.deepEqual(offset, { kind: 'offset', groupId: 'g', topic: 'orders', partition: 11, value: { offset: 2 ** 40, leaderEpoch: 3, metadata: 'héllo', commitTimestampMs: 123 } });
    const group = decodeOffsetsRecord(encodeGroupKey('g'), encodeGroupValue(GROUP));
    assert.deepEqual(group, { kind: 'group', groupId: 'g', value: GROUP });
  });

  it('reads null values as tombstones', () => {
    assert.deepEqual(decodeOffsetsRecord(encodeOffsetKey('g', 't', 0), null), { kind: 'offset', groupId: 'g', topic: 't', partition: 0, value: undefined });
    assert.deepEqual(decodeOffsetsRecord(encodeGroupKey('g'), null), { kind: 'group', groupId: 'g', value: undefined });
  });

  it('skips records of versions it does not know', () => {
    const key = encodeGroupKey('g');
    key.writeInt16BE(9, 0);
    assert.equal(decodeOffsetsRecord(key, null).kind, 'unknown');
    const value = encodeGroupValue(GROUP);
    value.writeInt16BE(1, 0);
    assert.equal(decodeOffsetsRecord(encodeGroupKey('g'), value).kind, 'unknown');
    assert.equal(decodeOffsetsRecord(null, Buffer.from('x')).kind, 'unknown');
  });

  it('refuses truncated or padded bytes with OffsetsRecordError', () => {
    const value = encodeGroupValue(GROUP);
    assert.throws(() => decodeOffsetsRecord(encodeGroupKey('g'), value.subarray(0, value.length - 1)), OffsetsRecordError);
    assert.throws(() => decodeOffsetsRecord(Buffer.concat([encodeGroupKey('g'), Buffer.from([0])]), null), OffsetsRecordError);
    const offset = encodeOffsetValue({ offset: 1, leaderEpoch: -1, metadata: '', commitTimestampMs: 0 });
    assert.throws(() => decodeOffsetsRecord(encodeOffsetKey('g', 't', 0), offset.subarray(0, 5)), OffsetsRecordError);
  });
});

describe('group placement and ids', () => {
  it('maps a group to the partition the producer would pick for the group id as a key', () => {
    for (const groupId of ['a', 'billing', 'group-with-a-long-name.v2', 'ß'.repeat(3)]) {
      for (const count of [1, 4, 16, 50]) {
        const partition = GroupCoordinator.partitionOf(groupId, count);
        assert.equal(partition, partitionForKey(Buffer.from(groupId, 'utf8'), count));
        assert.ok(partition >= 0 && partition < count);
      }
    }
  });

  it('accepts topic-name characters only', () => {
    assert.equal(groupIdProblem('orders.v1_x-2'), null);
    for (const bad of ['', 'a b', 'ü', 'x'.repeat(250), 'a/b']) assert.notEqual(groupIdProblem(bad), null, JSON.stringify(bad));
  });
});
