import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerId, BrokerRecord, ClusterTopic } from '../../broker/controller/controller-types.js';
import { PlacementError, placeReplicas, planDecommission } from '../../broker/controller/placement.js';

function broker(id: number, rack = '', state: { fenced?: boolean; decommissioning?: boolean } = {}): BrokerRecord {
  return { id, host: '127.0.0.1', port: 9090 + id, internalAddress: `127.0.0.1:${19090 + id}`, rack, incarnation: 1, fenced: state.fenced ?? false, decommissioning: state.decommissioning ?? false };
}

function counts(lists: readonly (readonly number[])[], into = new Map<BrokerId, number>()): Map<BrokerId, number> {
  for (const list of lists) for (const id of list) into.set(id, (into.get(id) ?? 0) + 1);
  return into;
}

function leaders(lists: readonly (readonly number[])[], into = new Map<BrokerId, number>()): Map<BrokerId, number> {
  return counts(
    lists.map((list) => [list[0]]),
    into,
  );
}

function spread(map: ReadonlyMap<BrokerId, number>, brokers: readonly BrokerRecord[]): number {
  const values = brokers.map((b) => map.get(b.id) ?? 0);
  return Math.max(...values) - Math.min(...values);
}

function place(brokers: readonly BrokerRecord[], partitions: number, replicationFactor: number, replicaCounts = new Map<BrokerId, number>(), leaderCounts = new Map<BrokerId, number>()): number[][] {
  return placeReplicas({ brokers, replicaCounts, leaderCounts, partitions, replicationFactor });
}

function assertDistinctReplicas(lists: readonly (readonly number[])[], replicationFactor: number): void {
  for (const list of lists) {
    assert.equal(list.length, replicationFactor);
    assert.equal(new Set(list).size, list.length, `distinct replicas: ${list.join(',')}`);
  }
}

function topicOf(name: string, lists: readonly (readonly number[])[], firstGroupId: number): ClusterTopic {
  return {
    name,
    topicId: name,
    createdMs: 0,
    configs: {},
    partitions: lists.map((replicas, partition) => ({ topic: name, partition, groupId: firstGroupId + partition, initialReplicas: replicas, replicas, targetReplicas: null, leaderId: 0, leaderEpoch: 0 })),
  };
}

test('3 brokers, 12 partitions, RF 3: every broker holds every partition and leads 4', () => {
  const brokers = [1, 2, 3].map((id) => broker(id));
  const lists = place(brokers, 12, 3);
  assert.equal(lists.length, 12);
  assertDistinctReplicas(lists, 3);
  assert.deepEqual([...counts(lists)].sort(), [[1, 12], [2, 12], [3, 12]]);
  assert.deepEqual([...leaders(lists)].sort(), [[1, 4], [2, 4], [3, 4]]);
});

test('6 brokers in 3 racks, RF 3: each partition spans the 3 racks, replicas and leaders even', () => {
  const racks = ['a', 'a', 'b', 'b', 'c', 'c'];
  const brokers = racks.map((rack, index) => broker(index + 1, rack));
  const lists = place(brokers, 12, 3);
  assertDistinctReplicas(lists, 3);
  for (const list of lists) assert.equal(new Set(list.map((id) => racks[id - 1])).size, 3, `racks of ${list.join(',')}`);
  assert.equal(spread(counts(lists), brokers), 0);
  assert.deepEqual([...counts(lists).values()], [6, 6, 6, 6, 6, 6]);
  assert.equal(spread(leaders(lists), brokers), 0);
});

test('brokers without a rack count as racks of their own; too few racks spread as evenly as they can', () => {
  const mixed = [broker(1, 'a'), broker(2, 'a'), broker(3), broker(4)];
  for (const list of place(mixed, 8, 3)) assert.ok(!(list.includes(1) && list.includes(2)), `one replica on rack a: ${list.join(',')}`);

  const lopsided = [broker(1, 'a'), broker(2, 'a'), broker(3, 'a'), broker(4, 'b')];
  for (const list of place(lopsided, 6, 3)) {
    assert.ok(list.includes(4), `rack b holds a replica of every partition: ${list.join(',')}`);
  }
  const twoRacks = [broker(1, 'a'), broker(2, 'a'), broker(3, 'b'), broker(4, 'b')];
  const lists = place(twoRacks, 8, 4);
  for (const list of lists) assert.deepEqual(list.map((id) => (id <= 2 ? 'a' : 'b')).sort(), ['a', 'a', 'b', 'b']);
});

test('5 brokers, RF 2, several topics: the cluster stays balanced in replicas and leaders', () => {
  const brokers = [1, 2, 3, 4, 5].map((id) => broker(id));
  const replicaCounts = new Map<BrokerId, number>();
  const leaderCounts = new Map<BrokerId, number>();
  const first = place(brokers, 10, 2);
  assert.deepEqual([...counts(first).values()], [4, 4, 4, 4, 4], 'a topic alone is even');
  assert.equal(spread(leaders(first), brokers), 0);
  for (const partitions of [3, 7, 1, 4, 5, 1, 1, 9, 2]) {
    const lists = place(brokers, partitions, 2, replicaCounts, leaderCounts);
    assertDistinctReplicas(lists, 2);
    counts(lists, replicaCounts);
    leaders(lists, leaderCounts);
    assert.ok(spread(replicaCounts, brokers) <= 1, `replicas ${JSON.stringify([...replicaCounts])}`);
    assert.ok(spread(leaderCounts, brokers) <= 1, `leaders ${JSON.stringify([...leaderCounts])}`);
  }
});

test('existing load is filled up first; the caller\'s maps are not modified', () => {
  const brokers = [1, 2, 3].map((id) => broker(id));
  const replicaCounts = new Map([[1, 10]]);
  const leaderCounts = new Map([[1, 10]]);
  const lists = place(brokers, 6, 1, replicaCounts, leaderCounts);
  assert.deepEqual([...counts(lists)].sort(), [[2, 3], [3, 3]]);
  assert.deepEqual([...replicaCounts], [[1, 10]]);
  assert.deepEqual([...leaderCounts], [[1, 10]]);
});

test('placement is deterministic and ignores the order brokers are listed in', () => {
  const brokers = [broker(1, 'x'), broker(2, 'y'), broker(3, 'x'), broker(4, 'z'), broker(5)];
  const load = new Map([[2, 3], [5, 1]]);
  const once = place(brokers, 20, 3, load, new Map([[2, 1]]));
  assert.deepEqual(place([...brokers].reverse(), 20, 3, load, new Map([[2, 1]])), once);
  assert.deepEqual(place(brokers, 0, 3), []);
});

test('a replication factor below 1 or above the brokers is a PlacementError', () => {
  const brokers = [1, 2].map((id) => broker(id));
  for (const replicationFactor of [0, 3, 1.5, -1]) {
    assert.throws(
      () => place(brokers, 1, replicationFactor),
      (error: unknown) => error instanceof PlacementError && error.errorCode === 'INVALID_REPLICATION_FACTOR',
    );
  }
  assert.throws(() => place([], 1, 1), PlacementError);
});

test('decommission keeps the RF, the others\' order and the balance of replicas and preferred leaders', () => {
  const brokers = [1, 2, 3, 4].map((id) => broker(id));
  const lists = place(brokers, 12, 3);
  const topic = topicOf('a', lists, 1);
  const plan = planDecommission([topic], brokers, 4);
  assert.equal(plan.length, lists.filter((list) => list.includes(4)).length);
  const after = lists.map((list) => list.slice());
  for (const { groupId, targetReplicas } of plan) {
    const before = lists[groupId - 1];
    assert.equal(targetReplicas.length, 3);
    assert.ok(!targetReplicas.includes(4));
    const kept = before.filter((id) => id !== 4);
    const followers = targetReplicas.slice(1);
    assert.deepEqual(followers.filter((id) => kept.includes(id)), kept.filter((id) => id !== targetReplicas[0]), 'the others keep their order');
    if (before[0] !== 4) assert.deepEqual(targetReplicas, before.map((id) => (id === 4 ? targetReplicas[before.indexOf(4)] : id)), 'replaced in place');
    after[groupId - 1] = [...targetReplicas];
  }
  const remaining = brokers.slice(0, 3);
  assert.deepEqual([...counts(after)].sort(), [[1, 12], [2, 12], [3, 12]]);
  assert.equal(spread(leaders(after), remaining), 0);
});

test('decommission moves to the least-loaded broker on the leaving one\'s rack when racks require', () => {
  const racks = ['a', 'a', 'b', 'b', 'c', 'c', 'c'];
  const brokers = racks.map((rack, index) => broker(index + 1, rack));
  const lists = place(brokers.slice(0, 6), 12, 3);
  const topics = [topicOf('a', lists.slice(0, 6), 1), topicOf('b', lists.slice(6), 7)];
  const plan = planDecommission(topics, brokers, 5);
  assert.equal(plan.length, 6);
  const replacements = counts(plan.map(({ groupId, targetReplicas }) => targetReplicas.filter((id) => !lists[groupId - 1].includes(id))));
  assert.deepEqual([...replacements], [[7, 6]], 'all to the unloaded 7 of rack c, which ends as loaded as 6');
  for (const { targetReplicas } of plan) assert.equal(new Set(targetReplicas.map((id) => racks[id - 1])).size, 3);
});

test('decommission skips fenced and decommissioning brokers, and fails when nobody can take a replica', () => {
  const brokers = [broker(1), broker(2), broker(3), broker(4, '', { fenced: true }), broker(5, '', { decommissioning: true })];
  const topic = topicOf('a', [[1, 2, 3], [3, 1]], 1);
  assert.throws(
    () => planDecommission([topic], brokers, 2),
    (error: unknown) => error instanceof PlacementError && error.errorCode === 'INVALID_REPLICATION_FACTOR' && /a-0/.test(error.message),
  );
  assert.deepEqual(planDecommission([topic], [...brokers, broker(6)], 3), [
    { groupId: 1, targetReplicas: [1, 2, 6] },
    { groupId: 2, targetReplicas: [6, 1] }, // 1 leads a-0 already, the newcomer nothing
  ]);
  assert.deepEqual(planDecommission([topicOf('a', [[2]], 1)], brokers, 2), [{ groupId: 1, targetReplicas: [1] }]);
  assert.deepEqual(planDecommission([topic], brokers, 9), []);
});

test('decommission leaves partitions already moving away alone and refuses one moving onto the broker', () => {
  const brokers = [1, 2, 3, 4].map((id) => broker(id));
  const base = topicOf('a', [[1, 2], [2, 3]], 1);
  const movingAway: ClusterTopic = { ...base, partitions: [{ ...base.partitions[0], targetReplicas: [1, 4] }, base.partitions[1]] };
  assert.deepEqual(planDecommission([movingAway], brokers, 2).map((move) => move.groupId), [2]);
  const movingOnto: ClusterTopic = { ...base, partitions: [{ ...base.partitions[0], targetReplicas: [1, 3] }, base.partitions[1]] };
  assert.throws(
    () => planDecommission([movingOnto], brokers, 3),
    (error: unknown) => error instanceof PlacementError && error.errorCode === 'REASSIGNMENT_IN_PROGRESS',
  );
});

test('balance holds across shapes: replicas and preferred leaders per broker differ by at most 1, racks distinct', () => {
  const shapes: { brokers: BrokerRecord[]; replicationFactor: number }[] = [];
  for (let count = 1; count <= 7; count++) {
    for (let replicationFactor = 1; replicationFactor <= count; replicationFactor++) {
      shapes.push({ brokers: Array.from({ length: count }, (_, index) => broker(index + 1)), replicationFactor });
    }
  }
  for (const [rackCount, perRack] of [[2, 2], [3, 2], [3, 3], [4, 2]]) {
    const brokers = Array.from({ length: rackCount * perRack }, (_, index) => broker(index + 1, `r${Math.floor(index / perRack)}`));
    for (let replicationFactor = 1; replicationFactor <= brokers.length; replicationFactor++) shapes.push({ brokers, replicationFactor });
  }
  for (const { brokers, replicationFactor } of shapes) {
    const racks = new Set(brokers.map((b) => b.rack || `#${b.id}`)).size;
    for (let partitions = 1; partitions <= 24; partitions++) {
      const lists = place(brokers, partitions, replicationFactor);
      const shape = `${brokers.length} brokers, ${racks} racks, RF ${replicationFactor}, ${partitions} partitions`;
      assertDistinctReplicas(lists, replicationFactor);
      assert.ok(spread(counts(lists), brokers) <= 1, `replicas: ${shape}`);
      assert.ok(spread(leaders(lists), brokers) <= 1, `leaders: ${shape}`);
      for (const list of lists) {
        const used = new Set(list.map((id) => brokers[id - 1].rack || `#${id}`)).size;
        assert.equal(used, Math.min(replicationFactor, racks), `racks: ${shape}`);
      }
    }
  }
});
