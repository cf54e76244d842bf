import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { CLUSTER_STORE_FILE_NAME, ClusterStore } from '../../broker/controller/cluster-store.js';
import type { ControllerCommand, NewPartitionPlacement } from '../../broker/controller/controller-types.js';
import { TestRandom } from '../fixtures/test-random.js';

const root = mkdtempSync(join(tmpdir(), 'brook-cluster-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;

function storePath(): string {
  return join(root, `${dirCount++}-${CLUSTER_STORE_FILE_NAME}`);
}

/** A store and a helper that applies commands at the next offsets. */
function openStore(path = storePath()): { store: ClusterStore; apply: (command: ControllerCommand) => ReturnType<ClusterStore['apply']> } {
  const store = ClusterStore.open(path);
  return { store, apply: (command) => store.apply(store.appliedOffset + 1, command) };
}

function register(id: number, rack = ''): ControllerCommand {
  return { type: 'registerBroker', broker: { id, host: '127.0.0.1', port: 9090 + id, internalAddress: `127.0.0.1:${19090 + id}`, rack, incarnation: 1000 + id } };
}

function placements(firstPartition: number, firstGroupId: number, replicaLists: number[][]): NewPartitionPlacement[] {
  return replicaLists.map((replicas, index) => ({ partition: firstPartition + index, groupId: firstGroupId + index, replicas }));
}

function createTopic(name: string, firstGroupId: number, replicaLists: number[][], configs: Record<string, string> = {}): ControllerCommand {
  return { type: 'createTopic', name, topicId: `id-${name}`, createdMs: 1_700_000_000_000, configs, partitions: placements(0, firstGroupId, replicaLists) };
}

/** Every table's rows, in key order: what "the same state on disk" means. */
function dumpDatabase(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    return {
      meta: db.prepare('SELECT * FROM meta ORDER BY key').all(),
      brokers: db.prepare('SELECT * FROM brokers ORDER BY id').all(),
      topics: db.prepare('SELECT * FROM topics ORDER BY name').all(),
      partitions: db.prepare('SELECT * FROM partitions ORDER BY topic, partition').all(),
      topicConfigs: db.prepare('SELECT * FROM topic_configs ORDER BY topic, name').all(),
    };
  } finally {
    db.close();
  }
}

function memoryState(store: ClusterStore): unknown {
  return {
    appliedOffset: store.appliedOffset,
    nextGroupId: store.nextGroupId(),
    brokers: store.brokers(),
    topics: store.topics(),
    states: store.brokers().map((broker) => store.brokerState(broker.id)),
    replicaCounts: [...store.replicaCounts()].sort(([a], [b]) => a - b),
    leaderCounts: [...store.preferredLeaderCounts()].sort(([a], [b]) => a - b),
  };
}

test('a new store is empty at offset -1 and hands out group id 1 first', () => {
  const { store } = openStore();
  assert.equal(store.appliedOffset, -1);
  assert.equal(store.version, 0);
  assert.equal(store.nextGroupId(), 1);
  assert.deepEqual(store.brokers(), []);
  assert.deepEqual(store.topics(), []);
  assert.equal(store.brokerState(1), undefined);
  store.close();
});

test('brokers register, are fenced and unfenced; refusals are results and still advance the offset', () => {
  const { store, apply } = openStore();
  assert.equal(apply(register(2, 'a')).errorCode, 'NONE');
  assert.equal(apply(register(1)).errorCode, 'NONE');
  assert.deepEqual(store.brokers().map((broker) => broker.id), [1, 2]);
  assert.deepEqual(store.broker(2), { id: 2, host: '127.0.0.1', port: 9092, internalAddress: '127.0.0.1:19092', rack: 'a', incarnation: 1002, fenced: false, decommissioning: false });
  assert.equal(store.brokerState(2), 'LIVE');

  assert.equal(apply({ type: 'fenceBroker', brokerId: 2, fenced: true }).errorCode, 'NONE');
  assert.equal(store.brokerState(2), 'FENCED');
  assert.equal(apply({ type: 'fenceBroker', brokerId: 2, fenced: false }).errorCode, 'NONE');
  assert.equal(store.brokerState(2), 'LIVE');
  apply({ type: 'fenceBroker', brokerId: 2, fenced: true });
  // Registering again (a restart) clears the fence and takes the new incarnation.
  apply({ type: 'registerBroker', broker: { ...(register(2, 'b') as { broker: { id: number } }).broker, incarnation: 5000 } } as ControllerCommand);
  assert.equal(store.broker(2)?.fenced, false);
  assert.equal(store.broker(2)?.incarnation, 5000);
  assert.equal(store.broker(2)?.rack, 'b');

  const versionBefore = store.version;
  const offsetBefore = store.appliedOffset;
  assert.deepEqual(apply({ type: 'fenceBroker', brokerId: 9, fenced: true }), { errorCode: 'BROKER_NOT_AVAILABLE', errorMessage: 'broker 9 is not registered' });
  assert.equal(apply(register(0)).errorCode, 'INVALID_REQUEST');
  assert.equal(store.appliedOffset, offsetBefore + 2);
  assert.equal(store.version, versionBefore + 2);
  assert.deepEqual(store.brokers().map((broker) => broker.id), [1, 2]);
  store.close();
});

test('createTopic stores partitions with group ids; refusals change nothing', () => {
  const { store, apply } = openStore();
  for (const id of [1, 2, 3]) apply(register(id));
  assert.equal(apply(createTopic('orders', 1, [[1, 2], [2, 3], [3, 1]], { 'retention.ms': '1000' })).errorCode, 'NONE');
  assert.equal(store.nextGroupId(), 4);
  const topic = store.topic('orders');
  assert.ok(topic !== undefined);
  assert.equal(topic.topicId, 'id-orders');
  assert.equal(topic.createdMs, 1_700_000_000_000);
  assert.deepEqual(topic.configs, { 'retention.ms': '1000' });
  assert.deepEqual(topic.partitions[1], { topic: 'orders', partition: 1, groupId: 2, initialReplicas: [2, 3], replicas: [2, 3], targetReplicas: null, leaderId: 0, leaderEpoch: 0 });
  assert.equal(store.partitionByGroup(3)?.partition, 2);
  assert.deepEqual([...store.replicaCounts()], [[1, 2], [2, 2], [3, 2]]);
  assert.deepEqual([...store.preferredLeaderCounts()], [[1, 1], [2, 1], [3, 1]]);

  const refusals: [ControllerCommand, string][] = [
    [createTopic('orders', 4, [[1]]), 'TOPIC_ALREADY_EXISTS'],
    [createTopic('', 4, [[1]]), 'INVALID_TOPIC_EXCEPTION'],
    [{ ...createTopic('b', 4, [[1]]), topicId: 'id-orders' } as ControllerCommand, 'INVALID_REQUEST'],
    [createTopic('b', 3, [[1]]), 'INVALID_REQUEST'], // group id below the next one
    [{ ...createTopic('b', 4, []) } as ControllerCommand, 'INVALID_PARTITIONS'],
    [{ type: 'createTopic', name: 'b', topicId: 'x', createdMs: 0, configs: {}, partitions: [{ partition: 0, groupId: 4, replicas: [1] }, { partition: 1, groupId: 4, replicas: [2] }] }, 'INVALID_REQUEST'],
    [{ type: 'createTopic', name: 'b', topicId: 'x', createdMs: 0, configs: {}, partitions: [{ partition: 1, groupId: 4, replicas: [1] }] }, 'INVALID_PARTITIONS'],
    [createTopic('b', 4, [[1, 1]]), 'INVALID_REPLICA_ASSIGNMENT'],
    [createTopic('b', 4, [[1, 7]]), 'INVALID_REPLICA_ASSIGNMENT'],
    [createTopic('b', 4, [[]]), 'INVALID_REPLICA_ASSIGNMENT'],
  ];
  const before = memoryState(store) as Record<string, unknown>;
  for (const [command, errorCode] of refusals) {
    const result = apply(command);
    assert.equal(result.errorCode, errorCode, JSON.stringify(command));
    assert.notEqual(result.errorMessage, '');
  }
  assert.deepEqual({ ...(memoryState(store) as object), appliedOffset: 0 }, { ...before, appliedOffset: 0 });
  store.close();
});

test('addPartitions continues the numbering; deleted topics never give their group ids back', () => {
  const { store, apply } = openStore();
  for (const id of [1, 2]) apply(register(id));
  apply(createTopic('a', 1, [[1, 2]]));
  assert.equal(apply({ type: 'addPartitions', name: 'a', partitions: placements(1, 2, [[2, 1], [1, 2]]) }).errorCode, 'NONE');
  assert.deepEqual(store.topic('a')?.partitions.map((p) => [p.partition, p.groupId]), [[0, 1], [1, 2], [2, 3]]);
  assert.equal(store.nextGroupId(), 4);
  assert.equal(apply({ type: 'addPartitions', name: 'a', partitions: placements(2, 4, [[1]]) }).errorCode, 'INVALID_PARTITIONS');
  assert.equal(apply({ type: 'addPartitions', name: 'a', partitions: [] }).errorCode, 'INVALID_PARTITIONS');
  assert.equal(apply({ type: 'addPartitions', name: 'zz', partitions: placements(0, 4, [[1]]) }).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');

  assert.equal(apply({ type: 'deleteTopic', name: 'a' }).errorCode, 'NONE');
  assert.equal(store.topic('a'), undefined);
  assert.equal(store.partitionByGroup(1), undefined);
  assert.deepEqual([...store.replicaCounts()], [[1, 0], [2, 0]]);
  assert.equal(apply({ type: 'deleteTopic', name: 'a' }).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(store.nextGroupId(), 4);
  assert.equal(apply(createTopic('a', 1, [[1]])).errorCode, 'INVALID_REQUEST');
  assert.equal(apply(createTopic('a', 10, [[1]])).errorCode, 'NONE');
  assert.equal(store.nextGroupId(), 11);
  store.close();
});

test('alterTopicConfigs removes, then sets', () => {
  const { store, apply } = openStore();
  apply(register(1));
  apply(createTopic('a', 1, [[1]], { x: '1', y: '2' }));
  assert.equal(apply({ type: 'alterTopicConfigs', name: 'a', set: { z: '3', x: '9' }, remove: ['y', 'x', 'absent'] }).errorCode, 'NONE');
  assert.deepEqual(store.topic('a')?.configs, { x: '9', z: '3' });
  assert.equal(apply({ type: 'alterTopicConfigs', name: 'b', set: {}, remove: [] }).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
  store.close();
});

test('leaderUpdates take epochs at or above the stored one and skip unknown groups', () => {
  const { store, apply } = openStore();
  for (const id of [1, 2, 3]) apply(register(id));
  apply(createTopic('a', 1, [[1, 2, 3], [2, 3, 1]]));
  const leaderOf = (groupId: number) => {
    const partition = store.partitionByGroup(groupId)!;
    return [partition.leaderId, partition.leaderEpoch];
  };
  apply({ type: 'leaderUpdates', updates: [{ groupId: 1, leaderId: 2, leaderEpoch: 5 }, { groupId: 99, leaderId: 1, leaderEpoch: 1 }, { groupId: 2, leaderId: 3, leaderEpoch: 1 }] });
  assert.deepEqual(leaderOf(1), [2, 5]);
  assert.deepEqual(leaderOf(2), [3, 1]);
  apply({ type: 'leaderUpdates', updates: [{ groupId: 1, leaderId: 1, leaderEpoch: 4 }] });
  assert.deepEqual(leaderOf(1), [2, 5], 'an older epoch is ignored');
  apply({ type: 'leaderUpdates', updates: [{ groupId: 1, leaderId: 0, leaderEpoch: 5 }] });
  assert.deepEqual(leaderOf(1), [0, 5], 'the same epoch may say "no leader"');
  apply({ type: 'leaderUpdates', updates: [{ groupId: 1, leaderId: 3, leaderEpoch: 7 }, { groupId: 1, leaderId: 2, leaderEpoch: 6 }] });
  assert.deepEqual(leaderOf(1), [3, 7], 'within one command too');
  assert.deepEqual(store.topic('a')?.partitions[0].replicas, [1, 2, 3]);
  store.close();
});

test('reassign sets targets one by one; reassignmentDone needs the target as a set', () => {
  const { store, apply } = openStore();
  for (const id of [1, 2, 3, 4]) apply(register(id));
  apply(createTopic('a', 1, [[1, 2, 3], [2, 3, 1], [3, 1, 2]]));
  const result = apply({
    type: 'reassign',
    reassignments: [
      { groupId: 1, targetReplicas: [4, 2, 3] },
      { groupId: 1, targetReplicas: [1, 2, 3] },
      { groupId: 2, targetReplicas: [2, 2, 1] },
      { groupId: 9, targetReplicas: [1] },
      { groupId: 3, targetReplicas: [3, 1, 2] },
    ],
  });
  assert.equal(result.errorCode, 'REASSIGNMENT_IN_PROGRESS');
  assert.deepEqual(result.items?.map((item) => item.errorCode), ['NONE', 'REASSIGNMENT_IN_PROGRESS', 'INVALID_REPLICA_ASSIGNMENT', 'UNKNOWN_TOPIC_OR_PARTITION', 'NONE']);
  assert.deepEqual(store.partitionByGroup(1)?.targetReplicas, [4, 2, 3]);
  assert.equal(store.partitionByGroup(2)?.targetReplicas, null);
  assert.equal(store.partitionByGroup(3)?.targetReplicas, null, 'a target equal to the replicas is no reassignment');
  assert.deepEqual([...store.replicaCounts()], [[1, 3], [2, 3], [3, 3], [4, 1]], 'both sets count while moving');
  assert.deepEqual([...store.preferredLeaderCounts()], [[1, 0], [2, 1], [3, 1], [4, 1]]);

  assert.equal(apply({ type: 'reassignmentDone', groupId: 1, replicas: [4, 2] }).errorCode, 'INVALID_REPLICA_ASSIGNMENT');
  assert.equal(apply({ type: 'reassignmentDone', groupId: 2, replicas: [2, 3, 1] }).errorCode, 'INVALID_REQUEST');
  assert.equal(apply({ type: 'reassignmentDone', groupId: 9, replicas: [1] }).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(apply({ type: 'reassignmentDone', groupId: 1, replicas: [2, 3, 4] }).errorCode, 'NONE');
  const moved = store.partitionByGroup(1)!;
  assert.deepEqual(moved.replicas, [4, 2, 3], "the target's order: its preferred leader first");
  assert.equal(moved.targetReplicas, null);
  assert.deepEqual(moved.initialReplicas, [1, 2, 3], 'the first configuration never changes');
  assert.equal(apply({ type: 'reassign', reassignments: [] }).errorCode, 'NONE');
  store.close();
});

test('decommission marks the broker and starts its moves, all or nothing; it ends DECOMMISSIONED', () => {
  const { store, apply } = openStore();
  for (const id of [1, 2, 3, 4]) apply(register(id));
  apply(createTopic('a', 1, [[1, 2], [2, 3], [3, 4]]));
  const before = memoryState(store);
  const refusals: [ControllerCommand, string][] = [
    [{ type: 'decommissionBroker', brokerId: 7, reassignments: [] }, 'BROKER_NOT_AVAILABLE'],
    [{ type: 'decommissionBroker', brokerId: 2, reassignments: [{ groupId: 1, targetReplicas: [1, 4] }, { groupId: 2, targetReplicas: [2, 3] }] }, 'INVALID_REPLICA_ASSIGNMENT'],
    [{ type: 'decommissionBroker', brokerId: 2, reassignments: [{ groupId: 1, targetReplicas: [1, 4] }, { groupId: 1, targetReplicas: [1, 3] }] }, 'INVALID_REQUEST'],
    [{ type: 'decommissionBroker', brokerId: 2, reassignments: [{ groupId: 1, targetReplicas: [1, 4] }, { groupId: 5, targetReplicas: [1, 3] }] }, 'UNKNOWN_TOPIC_OR_PARTITION'],
  ];
  for (const [command, errorCode] of refusals) assert.equal(apply(command).errorCode, errorCode);
  assert.deepEqual({ ...(memoryState(store) as object), appliedOffset: 0 }, { ...(before as object), appliedOffset: 0 });

  const moves = [{ groupId: 1, targetReplicas: [1, 4] }, { groupId: 2, targetReplicas: [3, 1] }];
  assert.equal(apply({ type: 'decommissionBroker', brokerId: 2, reassignments: moves }).errorCode, 'NONE');
  assert.equal(store.brokerState(2), 'DECOMMISSIONING');
  assert.equal(apply({ type: 'reassign', reassignments: [{ groupId: 3, targetReplicas: [2, 3] }] }).items?.[0].errorCode, 'INVALID_REPLICA_ASSIGNMENT', 'no new replicas on a decommissioning broker');
  apply(register(2));
  assert.equal(store.broker(2)?.decommissioning, true, 'registering again keeps it decommissioning');
  apply({ type: 'reassignmentDone', groupId: 1, replicas: [4, 1] });
  assert.equal(store.brokerState(2), 'DECOMMISSIONING');
  apply({ type: 'reassignmentDone', groupId: 2, replicas: [1, 3] });
  assert.equal(store.brokerState(2), 'DECOMMISSIONED');
  apply({ type: 'fenceBroker', brokerId: 2, fenced: true });
  assert.equal(store.brokerState(2), 'DECOMMISSIONED', 'shut down after it was emptied');
  store.close();
});

test('a reopened store holds the same state, applied offset and next group id', () => {
  const path = storePath();
  const { store, apply } = openStore(path);
  for (const id of [1, 2, 3]) apply(register(id, `r${id}`));
  apply(createTopic('a', 1, [[1, 2], [2, 3]], { b: '2', a: '1' }));
  apply(createTopic('b', 3, [[3, 1]]));
  apply({ type: 'deleteTopic', name: 'b' });
  apply({ type: 'reassign', reassignments: [{ groupId: 2, targetReplicas: [3, 1] }] });
  apply({ type: 'leaderUpdates', updates: [{ groupId: 1, leaderId: 2, leaderEpoch: 3 }] });
  apply({ type: 'fenceBroker', brokerId: 3, fenced: true });
  store.apply(100, { type: 'decommissionBroker', brokerId: 2, reassignments: [{ groupId: 1, targetReplicas: [1, 3] }] });
  const state = memoryState(store);
  store.close();

  const reopened = ClusterStore.open(path);
  assert.deepEqual(memoryState(reopened), state);
  assert.equal(reopened.appliedOffset, 100);
  assert.equal(reopened.nextGroupId(), 4);
  assert.throws(() => reopened.apply(100, register(4)), /must be above the applied offset 100/);
  assert.equal(reopened.apply(101, register(4)).errorCode, 'NONE');
  reopened.close();
});

/** A stream of commands, valid and not, that two stores must apply alike. */
function randomCommands(seed: number, count: number): ControllerCommand[] {
  const random = new TestRandom(seed);
  const commands: ControllerCommand[] = [];
  let nextGroupId = 1;
  const randomReplicas = (): number[] => {
    const ids = [1, 2, 3, 4, 5, 6];
    const length = 1 + random.below(3);
    return Array.from({ length }, () => ids.splice(random.below(ids.length), 1)[0]);
  };
  for (let i = 0; i < count; i++) {
    const topic = `t${random.below(6)}`;
    const groupId = 1 + random.below(nextGroupId + 2);
    const options: (() => ControllerCommand)[] = [
      () => register(1 + random.below(7), `r${random.below(3)}`),
      () => ({ type: 'fenceBroker', brokerId: 1 + random.below(7), fenced: random.chance(0.5) }),
      () => {
        const partitions = Array.from({ length: 1 + random.below(4) }, (_, index) => ({ partition: index, groupId: nextGroupId + index, replicas: randomReplicas() }));
        nextGroupId += random.chance(0.9) ? partitions.length : 0;
        return { type: 'createTopic', name: topic, topicId: `${topic}-${i}`, createdMs: i, configs: { [`k${random.below(3)}`]: `${i}` }, partitions };
      },
      () => ({ type: 'deleteTopic', name: topic }),
      () => ({ type: 'addPartitions', name: topic, partitions: [{ partition: random.below(4), groupId: nextGroupId++, replicas: randomReplicas() }] }),
      () => ({ type: 'alterTopicConfigs', name: topic, set: { [`k${random.below(3)}`]: `v${i}` }, remove: [`k${random.below(3)}`] }),
      () => ({ type: 'leaderUpdates', updates: [{ groupId, leaderId: random.below(7), leaderEpoch: random.below(10) }] }),
      () => ({ type: 'reassign', reassignments: [{ groupId, targetReplicas: randomReplicas() }] }),
      () => ({ type: 'reassignmentDone', groupId, replicas: randomReplicas() }),
      () => ({ type: 'decommissionBroker', brokerId: 1 + random.below(7), reassignments: [{ groupId, targetReplicas: randomReplicas() }] }),
    ];
    commands.push(random.pick(options)());
  }
  return commands;
}

test('two stores fed the same commands end identical, in memory and on disk', () => {
  const paths = [storePath(), storePath()];
  const stores = paths.map((path) => ClusterStore.open(path));
  const commands = randomCommands(0x5eed, 300);
  const results = stores.map((store) => commands.map((command, index) => store.apply(index * 2, command)));
  assert.deepEqual(results[0], results[1]);
  const accepted = results[0].filter((result) => result.errorCode === 'NONE').length;
  assert.ok(accepted > 50 && accepted < 280, `a mix of accepted and refused commands (${accepted})`);
  assert.ok(stores[0].topics().length > 0);
  assert.deepEqual(memoryState(stores[0]), memoryState(stores[1]));
  for (const store of stores) store.close();
  assert.deepEqual(dumpDatabase(paths[0]), dumpDatabase(paths[1]));
  // And what was held in memory is what the database holds.
  const reopened = ClusterStore.open(paths[0]);
  const fresh = ClusterStore.open(paths[1]);
  assert.deepEqual(memoryState(reopened), memoryState(fresh));
  reopened.close();
  fresh.close();
});

test('an apply that fails mid-way leaves the state before it, on disk and in memory', () => {
  const path = storePath();
  const { store, apply } = openStore(path);
  for (const id of [1, 2]) apply(register(id));
  const before = memoryState(store);
  const diskBefore = dumpDatabase(path);
  // A storage failure while writing the second partition of the topic.
  const saboteur = new Database(path);
  saboteur.exec(`CREATE TRIGGER fail_second AFTER INSERT ON partitions WHEN NEW.partition = 1 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
  assert.throws(() => apply(createTopic('a', 1, [[1, 2], [2, 1]])), /disk trouble/);
  assert.deepEqual(memoryState(store), before);
  assert.equal(store.topic('a'), undefined);
  saboteur.exec('DROP TRIGGER fail_second');
  saboteur.close();
  assert.deepEqual(dumpDatabase(path), diskBefore);

  // A broken invariant (offsets must grow) is an assertion, and changes nothing either.
  assert.throws(() => store.apply(0, createTopic('a', 1, [[1]])), { name: 'AssertionError' });
  assert.throws(() => store.apply(1.5, createTopic('a', 1, [[1]])), { name: 'AssertionError' });
  assert.deepEqual(memoryState(store), before);

  assert.equal(apply(createTopic('a', 1, [[1, 2], [2, 1]])).errorCode, 'NONE');
  assert.equal(store.topic('a')?.partitions.length, 2);
  store.close();
});

test('reads of 1,000 partitions are cached between applies', () => {
  const { store, apply } = openStore();
  for (const id of [1, 2, 3]) apply(register(id));
  const replicaLists = Array.from({ length: 1000 }, (_, index) => [1 + (index % 3), 1 + ((index + 1) % 3), 1 + ((index + 2) % 3)]);
  assert.equal(apply(createTopic('big', 1, replicaLists)).errorCode, 'NONE');
  const updates = Array.from({ length: 1000 }, (_, index) => ({ groupId: index + 1, leaderId: 1 + (index % 3), leaderEpoch: 1 }));
  assert.equal(apply({ type: 'leaderUpdates', updates }).errorCode, 'NONE');
  const topics = store.topics();
  assert.equal(topics[0].partitions.length, 1000);
  assert.equal(store.topics(), topics, 'the same array until something changes');
  const startedMs = performance.now();
  for (let i = 0; i < 10_000; i++) store.topics();
  assert.ok(performance.now() - startedMs < 200, 'topics() does not rebuild per call');
  assert.ok(Object.isFrozen(topics[0].partitions[0]));
  apply({ type: 'leaderUpdates', updates: [{ groupId: 5, leaderId: 3, leaderEpoch: 2 }] });
  assert.notEqual(store.topics(), topics);
  assert.equal(topics[0].partitions[4].leaderId, 2, 'a snapshot taken before stays as it was');
  assert.equal(store.topics()[0].partitions[4].leaderId, 3);
  assert.deepEqual([...store.preferredLeaderCounts()], [[1, 334], [2, 333], [3, 333]]);
  store.close();
});
