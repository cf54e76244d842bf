import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeAssignor } from '../../consumer/assignors/range-assignor.js';
import { RoundRobinAssignor } from '../../consumer/assignors/round-robin-assignor.js';
import { StickyAssignor } from '../../consumer/assignors/sticky-assignor.js';
import { CooperativeStickyAssignor } from '../../consumer/assignors/cooperative-sticky-assignor.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, ConsumerProtocolError } from '../../consumer/assignors/consumer-protocol.js';
import type { MemberSubscription, PartitionAssignor, TopicPartition } from '../../consumer/assignors/partition-assignor.js';

function member(memberId: string, topics: string[], ownedPartitions: TopicPartition[] = [], generation = -1): MemberSubscription {
  return { memberId, groupInstanceId: null, topics, ownedPartitions, generation, userData: null };
}

function names(partitions: readonly TopicPartition[] | undefined): string[] {
  return (partitions ?? []).map((p) => `${p.topic}-${p.partition}`);
}

/** Every subscribed partition owned exactly once, by a member that reads its topic. */
function assertCovers(result: Map<string, TopicPartition[]>, members: MemberSubscription[], counts: Map<string, number>): void {
  const seen = new Map<string, string>();
  for (const [memberId, partitions] of result) {
    const m = members.find((x) => x.memberId === memberId)!;
    for (const p of partitions) {
      const key = `${p.topic}-${p.partition}`;
      assert.ok(!seen.has(key), `${key} owned by ${seen.get(key)} and ${memberId}`);
      assert.ok(m.topics.includes(p.topic), `${memberId} got ${key} but does not read ${p.topic}`);
      seen.set(key, memberId);
    }
  }
  for (const [topic, count] of counts) {
    if (!members.some((m) => m.topics.includes(topic))) continue;
    for (let p = 0; p < count; p++) assert.ok(seen.has(`${topic}-${p}`), `${topic}-${p} not assigned`);
  }
}

function spread(result: Map<string, TopicPartition[]>): number {
  const sizes = [...result.values()].map((p) => p.length);
  return Math.max(...sizes) - Math.min(...sizes);
}

test('range gives contiguous ranges per topic, the first members one more', () => {
  const members = [member('b', ['t', 'u']), member('a', ['t', 'u']), member('c', ['t'])];
  const counts = new Map([['t', 7], ['u', 3]]);
  const result = new RangeAssignor().assign({ members, partitionCounts: counts });
  assert.deepEqual(names(result.get('a')), ['t-0', 't-1', 't-2', 'u-0', 'u-1']);
  assert.deepEqual(names(result.get('b')), ['t-3', 't-4', 'u-2']);
  assert.deepEqual(names(result.get('c')), ['t-5', 't-6']);
  assertCovers(result, members, counts);
});

test('round robin deals partitions in turn, skipping members that do not read the topic', () => {
  const members = [member('a', ['t', 'u']), member('b', ['t']), member('c', ['t', 'u'])];
  const counts = new Map([['t', 4], ['u', 3], ['unread', 5]]);
  const result = new RoundRobinAssignor().assign({ members, partitionCounts: counts });
  assert.deepEqual(names(result.get('a')), ['t-0', 't-3', 'u-1']);
  assert.deepEqual(names(result.get('b')), ['t-1']);
  assert.deepEqual(names(result.get('c')), ['t-2', 'u-0', 'u-2']);
  assertCovers(result, members, counts);
});

test('every assignor covers all partitions exactly once for random groups', () => {
  const assignors: PartitionAssignor[] = [new RangeAssignor(), new RoundRobinAssignor(), new StickyAssignor(), new CooperativeStickyAssignor()];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 50; round++) {
    const topics = ['a', 'b', 'c'].slice(0, 1 + Math.floor(random() * 3));
    const counts = new Map(topics.map((t) => [t, 1 + Math.floor(random() * 20)]));
    const members = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => member(`m${i}`, topics.filter(() => random() < 0.8)));
    if (members.every((m) => m.topics.length === 0)) members[0] = member('m0', topics);
    for (const assignor of assignors.slice(0, 3)) {
      const result = assignor.assign({ members, partitionCounts: counts });
      assert.equal(result.size, members.length);
      assertCovers(result, members, counts);
    }
  }
});

test('sticky balances within one and keeps partitions across rebalances', () => {
  const sticky = new StickyAssignor();
  const counts = new Map([['t', 12]]);
  // Three members, then a fourth joins: only the moves needed to balance happen.
  let members = ['a', 'b', 'c'].map((id) => member(id, ['t']));
  const first = sticky.assign({ members, partitionCounts: counts });
  assert.equal(spread(first), 0);
  members = [...['a', 'b', 'c'].map((id) => member(id, ['t'], first.get(id)!, 1)), member('d', ['t'])];
  const second = sticky.assign({ members, partitionCounts: counts });
  assertCovers(second, members, counts);
  assert.equal(spread(second), 0);
  let kept = 0;
  for (const id of ['a', 'b', 'c']) {
    const before = new Set(names(first.get(id)));
    const now = names(second.get(id));
    assert.equal(now.length, 3);
    assert.ok(now.every((n) => before.has(n)), `${id} keeps only partitions it had`);
    kept += now.length;
  }
  assert.equal(kept, 9, 'exactly 3 partitions moved to the new member');

  // b leaves: its partitions spread over the rest, nobody else's move.
  members = ['a', 'c', 'd'].map((id) => member(id, ['t'], second.get(id)!, 2));
  const third = sticky.assign({ members, partitionCounts: counts });
  assertCovers(third, members, counts);
  assert.equal(spread(third), 0);
  for (const id of ['a', 'c', 'd']) {
    const now = new Set(names(third.get(id)));
    assert.ok(names(second.get(id)).every((n) => now.has(n)), `${id} keeps all it had`);
  }

  // Round robin by contrast reshuffles when a member joins.
  const roundRobin = new RoundRobinAssignor();
  const rr1 = roundRobin.assign({ members: ['a', 'b', 'c'].map((id) => member(id, ['t'])), partitionCounts: counts });
  const rr2 = roundRobin.assign({ members: ['a', 'b', 'c', 'd'].map((id) => member(id, ['t'])), partitionCounts: counts });
  const rrKept = ['a', 'b', 'c'].reduce((sum, id) => sum + names(rr2.get(id)).filter((n) => names(rr1.get(id)).includes(n)).length, 0);
  assert.ok(rrKept < 9, 'round robin moves more than sticky');
});

test('sticky: a stale claim loses to the later generation; vanished partitions are dropped', () => {
  const counts = new Map([['t', 4]]);
  const members = [
    member('a', ['t'], [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }], 5),
    member('b', ['t'], [{ topic: 't', partition: 1 }, { topic: 't', partition: 9 }], 3),
  ];
  const result = new StickyAssignor().assign({ members, partitionCounts: counts });
  assertCovers(result, members, counts);
  assert.deepEqual(names(result.get('a')), ['t-0', 't-1']);
  assert.deepEqual(names(result.get('b')), ['t-2', 't-3']);
});

test('cooperative sticky revokes a moving partition first and assigns it in the follow-up rebalance', () => {
  const cooperative = new CooperativeStickyAssignor();
  const counts = new Map([['t', 6]]);
  const first = cooperative.assign({ members: [member('a', ['t']), member('b', ['t'])], partitionCounts: counts });
  assert.deepEqual(names(first.get('a')), ['t-0', 't-2', 't-4']);
  assert.deepEqual(names(first.get('b')), ['t-1', 't-3', 't-5']);

  // c joins. Round one: nothing moves to c yet; a and b each lose one partition (revoked).
  const round1Members = [member('a', ['t'], first.get('a')!, 1), member('b', ['t'], first.get('b')!, 1), member('c', ['t'])];
  const round1 = cooperative.assign({ members: round1Members, partitionCounts: counts });
  assert.deepEqual(names(round1.get('c')), [], 'no partition is handed over while its owner still holds it');
  assert.equal(round1.get('a')!.length, 2);
  assert.equal(round1.get('b')!.length, 2);
  const revoked = [...names(first.get('a')).filter((n) => !names(round1.get('a')).includes(n)), ...names(first.get('b')).filter((n) => !names(round1.get('b')).includes(n))];
  assert.equal(revoked.length, 2);
  for (const id of ['a', 'b']) assert.ok(names(round1.get(id)).every((n) => names(first.get(id)).includes(n)), `${id} keeps the rest`);

  // Round two (the revoking members rejoined owning less): the revoked partitions go to c.
  const round2Members = [member('a', ['t'], round1.get('a')!, 2), member('b', ['t'], round1.get('b')!, 2), member('c', ['t'], [], -1)];
  const round2 = cooperative.assign({ members: round2Members, partitionCounts: counts });
  assertCovers(round2, round2Members, counts);
  assert.deepEqual(names(round2.get('c')).sort(), revoked.sort());
  assert.deepEqual(names(round2.get('a')), names(round1.get('a')));
  assert.deepEqual(names(round2.get('b')), names(round1.get('b')));
  assert.equal(cooperative.rebalanceProtocol, 'cooperative');
});

test('consumer protocol round-trips and refuses garbage', () => {
  const subscription = { topics: ['orders', 'ünïcode'], ownedPartitions: [{ topic: 'orders', partition: 3 }, { topic: 'orders', partition: 1 }], generation: 42, userData: Buffer.from([1, 2, 3]) };
  const decoded = decodeSubscription(encodeSubscription(subscription));
  assert.deepEqual(decoded.topics, subscription.topics);
  assert.deepEqual(decoded.ownedPartitions, [{ topic: 'orders', partition: 1 }, { topic: 'orders', partition: 3 }]);
  assert.equal(decoded.generation, 42);
  assert.deepEqual(decoded.userData, Buffer.from([1, 2, 3]));
  const assignment = decodeAssignment(encodeAssignment({ partitions: [{ topic: 'b', partition: 0 }, { topic: 'a', partition: 2 }], userData: null }));
  assert.deepEqual(assignment, { partitions: [{ topic: 'a', partition: 2 }, { topic: 'b', partition: 0 }], userData: null });
  assert.deepEqual(decodeAssignment(Buffer.alloc(0)), { partitions: [], userData: null });
  const bytes = encodeSubscription(subscription);
  assert.throws(() => decodeSubscription(bytes.subarray(0, bytes.length - 2)), ConsumerProtocolError);
  const hugeCount = Buffer.from([0, 0, 0x7f, 0xff, 0xff, 0xff]);
  assert.throws(() => decodeSubscription(hugeCount), ConsumerProtocolError);
});
