/**
 * Quiescence on real brokers (three ReplicaManagers in one process, real gRPC streams between
 * their PeerTransports): idle partition groups stop heartbeating, a produce wakes them, and a
 * leader broker that falls silent (its Raft clock and replicas stopped, its stream still open) or
 * goes away (stream closed) is replaced by an election among the quiesced followers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { defaultPartitionRaftConfig, seededRandom } from '../../broker/cluster/partition-raft-config.js';
import { ReplicaManager } from '../../broker/cluster/replica-manager.js';
import type { ReplicatedPartition } from '../../broker/cluster/replicated-partition.js';
import { loadBrokerConfig } from '../../broker/config/broker-config.js';
import type { ClusterPartition, ClusterTopic } from '../../broker/controller/controller-types.js';
import type { Replica } from '../../broker/partition/replica.js';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { GroupIdRegistry } from '../../broker/transport/group-id-registry.js';
import { PeerTransport } from '../../broker/transport/peer-transport.js';
import { encodeBatch } from '../../record/record-batch.js';
import { freePort } from '../fixtures/free-port.js';

const NODES = [1, 2, 3];
const PARTITIONS = 6;
const TICK_MS = 20;
const WAIT_MS = 20_000;

interface Broker {
  readonly id: number;
  readonly dir: string;
  readonly groups: GroupIdRegistry<Replica>;
  readonly transport: PeerTransport;
  manager: ReplicaManager;
  stopped: boolean;
}

let root = '';
const brokers = new Map<number, Broker>();
const files = new FileHandleCache(256);
const logger = pino({ level: 'silent' });
const config = loadBrokerConfig({ env: {} });

function partitionOf(index: number): ClusterPartition {
  // Preferred leaders spread over the brokers.
  const replicas = [NODES[index % 3], NODES[(index + 1) % 3], NODES[(index + 2) % 3]];
  return { topic: 'idle', partition: index, groupId: index + 1, initialReplicas: replicas, replicas, targetReplicas: null, leaderId: 0, leaderEpoch: 0 };
}

const topics: ClusterTopic[] = [{ name: 'idle', topicId: 'idle-id', createdMs: 0, configs: {}, partitions: Array.from({ length: PARTITIONS }, (_, i) => partitionOf(i)) }];

async function waitFor(what: string, condition: () => boolean): Promise<number> {
  const startMs = Date.now();
  while (!condition()) {
    if (Date.now() - startMs > WAIT_MS) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - startMs;
}

function running(): Broker[] {
  return [...brokers.values()].filter((broker) => !broker.stopped);
}

function replicasOf(broker: Broker, index: number): ReplicatedPartition | undefined {
  return broker.manager.partition('idle', index);
}

/** The running broker whose replica of `index` leads, when exactly one does. */
function leaderOf(index: number): Broker | undefined {
  const leaders = running().filter((broker) => replicasOf(broker, index)?.isLeader === true);
  return leaders.length === 1 ? leaders[0] : undefined;
}

function allLed(): boolean {
  for (let index = 0; index < PARTITIONS; index++) if (leaderOf(index) === undefined) return false;
  return true;
}

/** Every partition group on every running broker is quiesced. */
function allQuiesced(): boolean {
  return running().every((broker) => [...broker.groups.handlers()].every((replica) => replica.quiesced));
}

function heartbeatsSent(): number {
  let total = 0;
  for (const broker of running()) for (const peer of broker.transport.stats().peers.values()) total += peer.heartbeatsSent;
  return total;
}

function newManager(broker: Broker): ReplicaManager {
  return new ReplicaManager({
    nodeId: broker.id,
    dir: join(broker.dir, 'replicas'),
    trashDir: join(broker.dir, 'trash'),
    groups: broker.groups,
    transport: broker.transport,
    raftConfig: defaultPartitionRaftConfig(seededRandom(broker.id, 3, 5, 7)),
    tickMs: TICK_MS,
    leaderBalanceIntervalMs: 60_000,
    config,
    clock: { nowMs: () => Date.now() },
    files,
    logger,
    topics: () => topics,
    brokerLive: () => true,
    brokerAddress: (id) => `client-${id}:9092`,
    reassignmentDone: async () => undefined,
    onLeadershipChange: () => undefined,
  });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'brook-quiesce-'));
  const addresses = new Map<number, string>();
  for (const id of NODES) addresses.set(id, `127.0.0.1:${await freePort()}`);
  for (const id of NODES) {
    const groups = new GroupIdRegistry<Replica>();
    const transport = new PeerTransport({
      selfId: id,
      clusterId: 'quiesce-test',
      listenAddress: addresses.get(id) as string,
      peers: new Map([...addresses].filter(([peer]) => peer !== id)),
      logger,
      onMessage: (groupId, message) => groups.handlerOf(groupId)?.receive(message),
      onPeerState: (peer, connected) => brokers.get(id)?.manager.onPeerState(peer, connected),
    });
    const broker = { id, dir: join(root, `broker-${id}`), groups, transport, stopped: false } as Broker;
    broker.manager = newManager(broker);
    brokers.set(id, broker);
  }
  await Promise.all([...brokers.values()].map((broker) => broker.transport.start()));
  for (const broker of brokers.values()) broker.manager.start();
  await Promise.all([...brokers.values()].map((broker) => broker.manager.reconcile()));
});

after(async () => {
  for (const broker of brokers.values()) await broker.manager.close();
  await Promise.all([...brokers.values()].map((broker) => broker.transport.close()));
  await rm(root, { recursive: true, force: true });
});

test('idle groups quiesce on every broker and stop heartbeating', async () => {
  await waitFor('a leader for every partition', allLed);
  await waitFor('every group quiesced', allQuiesced);
  const before = heartbeatsSent();
  await new Promise((resolve) => setTimeout(resolve, 40 * TICK_MS));
  assert.equal(heartbeatsSent(), before, 'no heartbeat in 40 ticks');
  assert.ok(allQuiesced(), 'still quiesced');
  for (const broker of running()) {
    for (const peer of broker.transport.stats().peers.values()) assert.equal(peer.connected, true, `broker ${broker.id} keeps its stream to ${peer.peerId}`);
  }
});

test('a produce to a quiesced leader wakes the group, commits on every replica, and the group quiesces again', async () => {
  await waitFor('every group quiesced', allQuiesced);
  const leader = leaderOf(0) as Broker;
  const partition = replicasOf(leader, 0) as ReplicatedPartition;
  const outcome = await partition.append(encodeBatch([{ key: null, value: Buffer.from('wake') }], { nowMs: 1_700_000_000_000 }), 'all');
  const end = outcome.lastOffset + 1;
  await waitFor('high watermark everywhere', () => running().every((broker) => replicasOf(broker, 0)?.highWatermark === end));
  await waitFor('quiesced again', allQuiesced);
});

test('the followers of a quiesced leader whose broker falls silent elect a new leader', async () => {
  await waitFor('every group quiesced', allQuiesced);
  const victim = leaderOf(0) as Broker;
  const led = Array.from({ length: PARTITIONS }, (_, index) => index).filter((index) => leaderOf(index) === victim);
  // Its Raft clock and replicas stop; its transport stays up and answers nothing (no keep-alives).
  victim.stopped = true;
  await victim.manager.close();
  const electedMs = await waitFor('new leaders', () => led.every((index) => leaderOf(index) !== undefined));
  // Silent after 6 ticks, then an election timeout of 12 to 24 ticks, then pre-vote and vote.
  assert.ok(electedMs < 60 * TICK_MS + 2_000, `new leaders after ${electedMs} ms`);
  for (const index of led) assert.notEqual(leaderOf(index), victim);

  // It comes back: it catches up and everything quiesces again.
  victim.manager = newManager(victim);
  victim.stopped = false;
  victim.manager.start();
  await victim.manager.reconcile();
  await waitFor('every group quiesced with the victim back', () => allLed() && allQuiesced());
});

test('the followers of a quiesced leader whose broker goes away (stream lost) elect a new leader', async () => {
  await waitFor('every group quiesced', allQuiesced);
  const victim = leaderOf(1) as Broker;
  const led = Array.from({ length: PARTITIONS }, (_, index) => index).filter((index) => leaderOf(index) === victim);
  assert.ok(led.length > 0);
  victim.stopped = true;
  await victim.transport.close();
  const electedMs = await waitFor('new leaders', () => led.every((index) => leaderOf(index) !== undefined));
  assert.ok(electedMs < 60 * TICK_MS + 2_000, `new leaders after ${electedMs} ms`);
  // The two left keep a quorum: a produce commits on both.
  const leader = leaderOf(led[0]) as Broker;
  const outcome = await (replicasOf(leader, led[0]) as ReplicatedPartition).append(encodeBatch([{ key: null, value: Buffer.from('after') }], { nowMs: 1_700_000_000_000 }), 'all');
  await waitFor('committed on both', () => running().every((broker) => (replicasOf(broker, led[0])?.highWatermark ?? 0) > outcome.lastOffset));
});
