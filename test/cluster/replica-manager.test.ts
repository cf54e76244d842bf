/**
 * Four ReplicaManagers in one process, each with its own PeerTransport on 127.0.0.1 (real gRPC
 * streams between them), fed a cluster metadata list the test edits in place of a controller:
 * elections, replicated appends read back byte-identical everywhere, leader hints, leader
 * balancing, a reassignment that moves a replica from broker 3 to broker 4 (including one whose
 * leader leaves), and a topic deletion that closes and discards every replica.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { IO_WAIT_TICKS_MAX, LEADERLESS_TICKS_PER_TICK_MAX, RaftTicker } from '../../broker/cluster/raft-ticker.js';
import { nextStep } from '../../broker/cluster/reassignment.js';
import { ReplicaManager } from '../../broker/cluster/replica-manager.js';
import { ReplicaRequestError, type ReplicatedPartition } from '../../broker/cluster/replicated-partition.js';
import { defaultPartitionRaftConfig, seededRandom } from '../../broker/cluster/partition-raft-config.js';
import { loadBrokerConfig } from '../../broker/config/broker-config.js';
import type { ClusterPartition, ClusterTopic } from '../../broker/controller/controller-types.js';
import type { Replica } from '../../broker/partition/replica.js';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { nodeFileWriter, type FileWriter } from '../../broker/storage/file-writer.js';
import { GroupIdRegistry } from '../../broker/transport/group-id-registry.js';
import { PeerTransport } from '../../broker/transport/peer-transport.js';
import { ConfChangeType } from '../../raft/types.js';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { encodeBatch, iterateRecords } from '../../record/record-batch.js';
import { freePort } from '../fixtures/free-port.js';

const NODES = [1, 2, 3, 4];
const TICK_MS = 20;
const WAIT_MS = 15_000;

interface Broker {
  readonly id: number;
  readonly dir: string;
  readonly groups: GroupIdRegistry<Replica>;
  readonly transport: PeerTransport;
  manager: ReplicaManager;
  leadershipChanges: number;
}

let root = '';
let topics: ClusterTopic[] = [];
const brokers = new Map<number, Broker>();
const done: Array<{ by: number; groupId: number; replicas: readonly number[] }> = [];
const files = new FileHandleCache(256);
const logger = pino({ level: 'silent' });

function partitionOf(groupId: number, replicas: number[]): ClusterPartition {
  return { topic: 'orders', partition: groupId - 1, groupId, initialReplicas: replicas, replicas, targetReplicas: null, leaderId: 0, leaderEpoch: 0 };
}

function editPartition(groupId: number, edit: (partition: ClusterPartition) => ClusterPartition): void {
  topics = topics.map((topic) => ({ ...topic, partitions: topic.partitions.map((partition) => (partition.groupId === groupId ? edit(partition) : partition)) }));
}

async function reconcileAll(): Promise<void> {
  await Promise.all([...brokers.values()].map((broker) => broker.manager.reconcile()));
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The broker whose replica of `index` leads, or undefined. */
function leaderOf(index: number): Broker | undefined {
  const leaders = [...brokers.values()].filter((broker) => broker.manager.partition('orders', index)?.isLeader === true);
  return leaders.length === 1 ? leaders[0] : undefined;
}

function held(broker: Broker, index: number): ReplicatedPartition {
  const partition = broker.manager.partition('orders', index);
  assert.ok(partition !== undefined, `broker ${broker.id} holds no replica of orders-${index}`);
  return partition;
}

/** Every committed byte of a replica, control batches included. */
async function committedBytes(partition: ReplicatedPartition): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = partition.logStartOffset;
  while (offset < partition.highWatermark) {
    const bytes = await partition.read(offset, 1 << 20);
    if (bytes.length === 0) break;
    parts.push(bytes);
    for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
      offset = baseOffsetNumberAt(bytes, position) + lastOffsetDeltaAt(bytes, position) + 1;
    }
  }
  return Buffer.concat(parts);
}

function valuesOf(bytes: Buffer): string[] {
  const values: string[] = [];
  for (const record of iterateRecords(bytes)) if (record.value !== null) values.push(record.value.toString());
  return values;
}

function makeBatch(tag: string, count: number): Buffer {
  return encodeBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`${tag}-${i}`) })),
    { nowMs: 1_700_000_000_000 },
  );
}

/** Waits until the replicas of `index` on `ids` have the leader's log end as high watermark, then compares their bytes. */
async function assertIdentical(index: number, ids: readonly number[]): Promise<Buffer> {
  const leader = leaderOf(index);
  assert.ok(leader !== undefined, `no leader of orders-${index}`);
  const end = held(leader, index).logEndOffset;
  await waitFor(`orders-${index} committed everywhere`, () => ids.every((id) => brokers.get(id)?.manager.partition('orders', index)?.highWatermark === end));
  const reference = await committedBytes(held(leader, index));
  for (const id of ids) assert.ok((await committedBytes(held(brokers.get(id) as Broker, index))).equals(reference), `broker ${id}'s orders-${index} differs`);
  return reference;
}

const config = loadBrokerConfig({ env: {} });
/** Writes to files whose path contains this fail with EIO (a disk failing under one replica). */
let failingPath: string | undefined;

const faultyWriter: FileWriter = {
  syncDirectory: (dir) => nodeFileWriter.syncDirectory(dir),
  open: async (path) => {
    const file = await nodeFileWriter.open(path);
    return {
      path: file.path,
      writeAll: async (buffers, positionBytes) => {
        if (failingPath !== undefined && path.includes(failingPath)) throw Object.assign(new Error(`EIO: injected, write '${path}'`), { code: 'EIO' });
        return file.writeAll(buffers, positionBytes);
      },
      datasync: () => file.datasync(),
      truncate: (lengthBytes) => file.truncate(lengthBytes),
      sizeBytes: () => file.sizeBytes(),
      close: () => file.close(),
    };
  },
};

/** A ReplicaManager for `broker` (its groups, transport and directories). */
function newManager(broker: Broker): ReplicaManager {
  const id = broker.id;
  return new ReplicaManager({
    nodeId: id,
    dir: join(broker.dir, 'replicas'),
    trashDir: join(broker.dir, 'trash'),
    groups: broker.groups,
    transport: broker.transport,
    raftConfig: defaultPartitionRaftConfig(seededRandom(id, 7, 11, 13)),
    tickMs: TICK_MS,
    leaderBalanceIntervalMs: 300,
    config,
    clock: { nowMs: () => Date.now() },
    files,
    logger,
    topics: () => topics,
    brokerLive: () => true,
    brokerAddress: (brokerId) => `client-${brokerId}:9092`,
    reassignmentDone: async (groupId, replicas) => {
      done.push({ by: id, groupId, replicas });
      // What the controller does: apply the command, then every broker reconciles.
      editPartition(groupId, (partition) => ({ ...partition, replicas: [...replicas], targetReplicas: null }));
      void reconcileAll();
    },
    onLeadershipChange: () => {
      broker.leadershipChanges += 1;
    },
    writer: faultyWriter,
  });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'brook-replica-manager-'));
  const addresses = new Map<number, string>();
  for (const id of NODES) addresses.set(id, `127.0.0.1:${await freePort()}`);
  topics = [{ name: 'orders', topicId: 'orders-id', createdMs: 0, configs: {}, partitions: [partitionOf(1, [1, 2, 3]), partitionOf(2, [3, 1, 2])] }];
  for (const id of NODES) {
    const groups = new GroupIdRegistry<Replica>();
    const transport = new PeerTransport({
      selfId: id,
      clusterId: 'replica-manager-test',
      listenAddress: addresses.get(id) as string,
      peers: new Map([...addresses].filter(([peer]) => peer !== id)),
      logger,
      onMessage: (groupId, message) => groups.handlerOf(groupId)?.receive(message),
      onPeerState: (peer, connected) => brokers.get(id)?.manager.onPeerState(peer, connected),
    });
    const broker = { id, dir: join(root, `broker-${id}`), groups, transport, leadershipChanges: 0 } as Broker;
    broker.manager = newManager(broker);
    brokers.set(id, broker);
  }
  await Promise.all([...brokers.values()].map((broker) => broker.transport.start()));
  for (const broker of brokers.values()) broker.manager.start();
  await reconcileAll();
});

after(async () => {
  for (const broker of brokers.values()) await broker.manager.close();
  await Promise.all([...brokers.values()].map((broker) => broker.transport.close()));
  await rm(root, { recursive: true, force: true });
});

test('replicas open where assigned and elect one leader per partition', async () => {
  for (const id of [1, 2, 3]) assert.equal(brokers.get(id)?.manager.partitions().length, 2);
  assert.equal(brokers.get(4)?.manager.partitions().length, 0);
  assert.deepEqual((await readdir(join(brokers.get(1)?.dir as string, 'replicas'))).sort(), ['orders-0-1', 'orders-1-2']);
  await waitFor('leaders', () => leaderOf(0) !== undefined && leaderOf(1) !== undefined);
  for (const index of [0, 1]) {
    const leader = leaderOf(index) as Broker;
    const term = held(leader, index).leaderEpoch;
    assert.ok(term >= 1);
    assert.deepEqual(
      leader.manager.leaderships().find((update) => update.groupId === index + 1),
      { groupId: index + 1, leaderId: leader.id, leaderEpoch: term },
    );
    assert.ok(leader.leadershipChanges >= 1, 'the leader was not told of its new leadership');
    assert.equal(held(leader, index).leadership(), undefined);
  }
  // The balancer settles leadership on the first replicas; the tests below rely on it staying there.
  await waitFor('preferred leaders', () => leaderOf(0)?.id === 1 && leaderOf(1)?.id === 3);
});

test('appends with acks all through the leader are committed and identical on every replica', async () => {
  const leader = leaderOf(0) as Broker;
  const partition = held(leader, 0);
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => partition.append(makeBatch(`a${i}`, 5), i % 4 === 3 ? 'leader' : 'all')));
  for (const outcome of outcomes) {
    assert.equal(outcome.lastOffset - outcome.baseOffset, 4);
    assert.equal(outcome.logAppendTimeMs, -1);
  }
  const bytes = await assertIdentical(0, [1, 2, 3]);
  assert.equal(valuesOf(bytes).length, 100);
  await waitFor('both followers in sync', () => partition.inSyncReplicaIds().length === 3);
  assert.deepEqual([...partition.inSyncReplicaIds()].sort(), [1, 2, 3]);
  assert.ok(valuesOf(bytes).includes('a19-4'));
});

test('a follower answers NOT_LEADER_OR_FOLLOWER with the leader, its epoch and address', async () => {
  await waitFor('orders-0 led by broker 1', () => leaderOf(0)?.id === 1);
  const leader = brokers.get(1) as Broker;
  const follower = brokers.get(2) as Broker;
  const partition = held(follower, 0);
  await waitFor('the follower to know the leader', () => partition.leadership()?.currentLeader?.leaderId === 1);
  const epoch = held(leader, 0).leaderEpoch;
  assert.deepEqual(partition.leadership(), {
    errorCode: 'NOT_LEADER_OR_FOLLOWER',
    errorMessage: `orders-0: broker ${leader.id} leads this partition`,
    currentLeader: { leaderId: leader.id, leaderEpoch: epoch, address: `client-${leader.id}:9092` },
  });
  await assert.rejects(partition.append(makeBatch('refused', 1), 'all'), (error: unknown) => {
    assert.ok(error instanceof ReplicaRequestError);
    assert.equal(error.errorCode, 'NOT_LEADER_OR_FOLLOWER');
    assert.deepEqual(error.currentLeader, { leaderId: leader.id, leaderEpoch: epoch, address: `client-${leader.id}:9092` });
    return true;
  });
});

test('leader balancing hands leadership back to the preferred replica', async () => {
  // Both partitions end up led by their first replica: 1 for orders-0, 3 for orders-1.
  await waitFor('preferred leaders', () => leaderOf(0)?.id === 1 && leaderOf(1)?.id === 3);
  const broker1 = brokers.get(1) as Broker;
  const epochBefore = held(broker1, 0).leaderEpoch;
  held(broker1, 0).replica.transferLeadership(2);
  // Two elections: broker 2 takes over, then the balancer on broker 2 hands it back.
  await waitFor('orders-0 back on broker 1 after broker 2 led it', () => leaderOf(0)?.id === 1 && held(broker1, 0).leaderEpoch >= epochBefore + 2);
});

test('reassignment moves replicas from broker 3 to broker 4, also when broker 3 leads', async () => {
  await waitFor('preferred leaders', () => leaderOf(0)?.id === 1 && leaderOf(1)?.id === 3);
  // orders-0 is led by a broker that stays; orders-1 by broker 3, which leaves.
  editPartition(1, (partition) => ({ ...partition, targetReplicas: [1, 2, 4] }));
  editPartition(2, (partition) => ({ ...partition, targetReplicas: [1, 4, 2] }));
  await reconcileAll();
  assert.equal(brokers.get(4)?.manager.partitions().length, 2, 'broker 4 opens its replicas at once');
  assert.equal(brokers.get(3)?.manager.partitions().length, 2, 'broker 3 keeps its replicas while the move runs');
  await waitFor('both reassignments done', () => topics[0].partitions.every((partition) => partition.targetReplicas === null));
  await reconcileAll();
  assert.deepEqual(topics[0].partitions.map((partition) => partition.replicas), [[1, 2, 4], [1, 4, 2]]);
  assert.deepEqual(done.map((call) => call.groupId).sort(), [1, 2]);
  assert.ok(done.find((call) => call.groupId === 2)?.by !== 3, 'the leaving leader handed the rest over');
  for (const index of [0, 1]) {
    const leader = leaderOf(index) as Broker;
    assert.deepEqual([...held(leader, index).replica.status().conf.voters].sort(), [1, 2, 4]);
    assert.deepEqual(held(leader, index).replica.status().conf.learners, []);
  }
  // Broker 3 dropped its replicas and their directories; broker 4 holds all data.
  const broker3 = brokers.get(3) as Broker;
  assert.equal(broker3.manager.partitions().length, 0);
  assert.equal(broker3.groups.size, 0);
  assert.deepEqual(await readdir(join(broker3.dir, 'replicas')), []);
  await held(leaderOf(1) as Broker, 1).append(makeBatch('after-move', 3), 'all');
  const moved = await assertIdentical(0, [1, 2, 4]);
  assert.equal(valuesOf(moved).length, 100);
  assert.deepEqual(valuesOf(await assertIdentical(1, [1, 2, 4])), ['after-move-0', 'after-move-1', 'after-move-2']);
});

test('a restarted manager reopens its replicas with their data and catches up', async () => {
  const broker2 = brokers.get(2) as Broker;
  await broker2.manager.close();
  assert.equal(broker2.groups.size, 0, 'close unregisters every replica');
  await waitFor('leaders without broker 2', () => leaderOf(0) !== undefined && leaderOf(1) !== undefined);
  await held(leaderOf(0) as Broker, 0).append(makeBatch('while-2-was-down', 4), 'all');
  broker2.manager = newManager(broker2);
  broker2.manager.start();
  await broker2.manager.reconcile();
  assert.equal(broker2.manager.partitions().length, 2);
  const bytes = await assertIdentical(0, [1, 2, 4]);
  assert.ok(valuesOf(bytes).includes('while-2-was-down-3'));
  assert.equal(valuesOf(bytes).length, 104);
});

test('a replica that failed on a disk error is closed and reopened, and catches up', async () => {
  const broker4 = brokers.get(4) as Broker;
  await waitFor('orders-0 led by broker 1', () => leaderOf(0)?.id === 1);
  const failing = held(broker4, 0);
  failingPath = join('broker-4', 'replicas', 'orders-0-');
  await held(brokers.get(1) as Broker, 0).append(makeBatch('during-failure', 2), 'all');
  await waitFor('the replica on broker 4 to fail', () => failing.replica.failed !== undefined);
  assert.equal(failing.leadership()?.errorCode, 'KAFKA_STORAGE_ERROR');
  failingPath = undefined;
  await waitFor('a reopened replica on broker 4', () => broker4.manager.partition('orders', 0) !== failing && broker4.manager.partition('orders', 0) !== undefined);
  const bytes = await assertIdentical(0, [1, 2, 4]);
  assert.ok(valuesOf(bytes).includes('during-failure-1'));
});

test('a topic config change reopens the replicas with the new log config', async () => {
  const before0 = [1, 2, 4].map((id) => held(brokers.get(id) as Broker, 0));
  topics = topics.map((topic) => ({ ...topic, configs: { 'message.timestamp.type': 'LogAppendTime' } }));
  await reconcileAll();
  for (const [at, id] of [1, 2, 4].entries()) assert.notEqual(held(brokers.get(id) as Broker, 0), before0[at], `broker ${id} did not reopen`);
  // The first replica again (the balancer moves it there): appends then meet no leadership change.
  await waitFor('orders-0 led by broker 1 after the reopen', () => leaderOf(0)?.id === 1);
  const sentAtMs = Date.now();
  const outcome = await held(leaderOf(0) as Broker, 0).append(makeBatch('stamped', 2), 'all');
  assert.ok(outcome.logAppendTimeMs >= sentAtMs && outcome.logAppendTimeMs <= Date.now(), `logAppendTimeMs ${outcome.logAppendTimeMs}`);
  const bytes = await assertIdentical(0, [1, 2, 4]);
  assert.equal(valuesOf(bytes).length, 108, 'the data survived the reopen');
});

test('deleting the topic closes every replica and discards its directory', async () => {
  topics = [];
  await reconcileAll();
  for (const broker of brokers.values()) {
    assert.equal(broker.manager.partitions().length, 0);
    assert.equal(broker.manager.partition('orders', 0), undefined);
    assert.equal(broker.groups.size, 0);
    assert.deepEqual(await readdir(join(broker.dir, 'replicas')), []);
  }
  await waitFor('the trash to be emptied', async () => {
    for (const broker of brokers.values()) if ((await readdir(join(broker.dir, 'trash'))).length > 0) return false;
    return true;
  });
});

test('the Raft clock ticks led groups every time and shares a budget among leaderless ones', () => {
  const groups = new GroupIdRegistry<{ tick(): void; leader: number; ticks: number }>();
  const make = (leader: number) => {
    const group = { leader, ticks: 0, tick: () => (group.ticks += 1) };
    return group;
  };
  const controller = make(0);
  groups.register(0, '__controller', controller);
  const led = Array.from({ length: 10 }, (_, i) => make(1 + (i % 3)));
  const leaderless = Array.from({ length: 200 }, () => make(0));
  let groupId = 1;
  for (const group of [...led, ...leaderless]) groups.register(groupId, `g-${groupId++}`, group);
  let flushes = 0;
  const ticker = new RaftTicker({ groups, transport: { flushTick: () => (flushes += 1) }, tickMs: 50, priorityGroupIds: [0] });
  for (let i = 0; i < 25; i++) ticker.tick();
  assert.equal(flushes, 25);
  assert.equal(controller.ticks, 25, 'the controller is ticked every time even without a leader');
  for (const group of led) assert.equal(group.ticks, 25);
  // 25 ticks x 64 = 1,600 leaderless ticks, spread evenly over 200 groups.
  for (const group of leaderless) assert.equal(group.ticks, (25 * LEADERLESS_TICKS_PER_TICK_MAX) / 200);
  assert.equal(ticker.leaderlessWaiting, 200 - LEADERLESS_TICKS_PER_TICK_MAX);
  // Few leaderless groups: all of them every time.
  for (const group of leaderless.slice(10)) group.leader = 2;
  ticker.tick();
  for (const group of leaderless.slice(0, 10)) assert.equal(group.ticks, 9);
  assert.equal(ticker.leaderlessWaiting, 0);
});

test('leaderless groups this broker prefers to lead get three quarters of the budget', () => {
  const groups = new GroupIdRegistry<{ tick(): void; leader: number; ticks: number }>();
  const make = () => {
    const group = { leader: 0, ticks: 0, tick: () => (group.ticks += 1) };
    return group;
  };
  const preferred = Array.from({ length: 100 }, make);
  const others = Array.from({ length: 100 }, make);
  let groupId = 1;
  for (const group of [...others, ...preferred]) groups.register(groupId, `g-${groupId++}`, group);
  const preferredSet = new Set<object>(preferred);
  const ticker = new RaftTicker({ groups, transport: { flushTick: () => undefined }, tickMs: 50, preferred: (group) => preferredSet.has(group) });
  for (let i = 0; i < 25; i++) ticker.tick();
  // 64 per tick: 48 to the preferred, 16 to the others.
  for (const group of preferred) assert.equal(group.ticks, (25 * 48) / 100);
  for (const group of others) assert.equal(group.ticks, (25 * 16) / 100);
});

test('the Raft clock waits for the disk probe, but not for ever', async () => {
  const groups = new GroupIdRegistry<{ tick(): void; leader: number }>();
  let groupTicks = 0;
  groups.register(1, 'g-1', { leader: 2, tick: () => (groupTicks += 1) });
  let release: (() => void) | undefined;
  let probes = 0;
  const ticker = new RaftTicker({
    groups,
    transport: { flushTick: () => undefined },
    tickMs: 2,
    ioProbe: (done) => {
      probes += 1;
      release = done;
    },
  });
  ticker.start();
  try {
    await waitFor('timer rounds deferred behind the first probe', () => ticker.ticksDeferred >= 3);
    // Read together: until IO_WAIT_TICKS_MAX rounds were deferred, the group had only its first tick.
    const deferred = ticker.ticksDeferred;
    const ticksSoFar = groupTicks;
    if (deferred < IO_WAIT_TICKS_MAX) assert.equal(ticksSoFar, 1);
    release?.();
    await waitFor('ticks after the probe came back', () => groupTicks >= 2);
    // A probe that never comes back holds the clock for IO_WAIT_TICKS_MAX ticks only.
    const probesBefore = probes;
    await waitFor('a tick despite a hung probe', () => groupTicks >= 3 && probes === probesBefore);
    assert.ok(ticker.ticksDeferred >= IO_WAIT_TICKS_MAX);
  } finally {
    ticker.stop();
  }
});

test('a reassignment takes one step at a time from the configuration in force', () => {
  /** A leader (node 3) whose configuration and followers' progress the test sets. */
  const leaderWith = (voters: number[], learners: number[], match: Record<number, number>, options: { termCommitted?: boolean; transferee?: number } = {}) =>
    ({
      role: 'leader',
      highWatermark: 101,
      log: { epochAt: () => (options.termCommitted === false ? 4 : 5) },
      status: () => ({
        id: 3,
        term: 5,
        commit: 100,
        role: 'leader',
        conf: { voters, learners },
        progress: new Map(Object.entries(match).map(([id, value]) => [Number(id), { match: value, next: value + 1, state: 'replicate' }])),
        transferee: options.transferee,
      }),
    }) as unknown as Replica;
  const target = [1, 2, 4];
  const step = (replica: Replica) => nextStep(3, replica, target);
  assert.deepEqual(step(leaderWith([1, 2, 3], [], { 1: 100, 2: 100, 3: 100 })), { kind: 'change', change: { type: ConfChangeType.AddLearner, nodeId: 4 } });
  assert.deepEqual(step(leaderWith([1, 2, 3], [4], { 1: 100, 2: 100, 3: 100, 4: 40 })), { kind: 'wait', reason: 'a learner is catching up' });
  assert.deepEqual(step(leaderWith([1, 2, 3], [4], { 1: 100, 2: 100, 3: 100, 4: 100 })), { kind: 'change', change: { type: ConfChangeType.AddVoter, nodeId: 4 } });
  // The leader (3) leaves: it hands over to the first target member, which is caught up.
  assert.deepEqual(step(leaderWith([1, 2, 3, 4], [], { 1: 100, 2: 100, 3: 100, 4: 100 })), { kind: 'transfer', to: 1 });
  assert.deepEqual(step(leaderWith([1, 2, 3, 4], [], { 1: 60, 2: 100, 3: 100, 4: 90 })), { kind: 'transfer', to: 2 });
  assert.deepEqual(step(leaderWith([1, 2, 3, 4], [], { 1: 100, 2: 100, 3: 100, 4: 100 }, { transferee: 1 })), { kind: 'wait', reason: 'a leadership transfer is under way' });
  // On the new leader (1), with 3 still a voter and 5 a stray learner: the learner goes, then 3.
  assert.deepEqual(nextStep(1, leaderWith([1, 2, 3, 4], [5], {}), target), { kind: 'change', change: { type: ConfChangeType.RemoveNode, nodeId: 5 } });
  assert.deepEqual(nextStep(1, leaderWith([1, 2, 3, 4], [], {}), target), { kind: 'change', change: { type: ConfChangeType.RemoveNode, nodeId: 3 } });
  // Done only once the leader committed an entry of its own term.
  assert.deepEqual(nextStep(1, leaderWith([1, 2, 4], [], {}, { termCommitted: false }), target), { kind: 'wait', reason: 'the leader has not committed in its term yet' });
  assert.deepEqual(nextStep(1, leaderWith([4, 2, 1], [], {}), target), { kind: 'done' });
});
