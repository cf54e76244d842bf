/**
 * Three Controllers in one process, each with its own PeerTransport on 127.0.0.1 (the Raft group
 * and the ControllerService share the internal listener), ticked every TICK_MS as the broker's
 * Raft clock would: election, forwarded writes, identical stores, error codes, fencing after the
 * lease and unfencing on return, catching up after a restart, a new leader after the leader dies,
 * and leader updates from heartbeats.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBrokerConfig } from '../../broker/config/broker-config.js';
import * as grpc from '@grpc/grpc-js';
import { Controller } from '../../broker/controller/controller.js';
import { REASSIGN_PARTITIONS_MAX } from '../../broker/controller/controller-limits.js';
import { ControllerClients } from '../../broker/controller/controller-rpc.js';
import { errorCodeOf, type WireWriteRequest } from '../../broker/controller/controller-write.js';
import type { ClusterStore } from '../../broker/controller/cluster-store.js';
import { BrokerLiveness } from '../../broker/controller/broker-liveness.js';
import type { BrokerId, BrokerRecord, ClusterPartition, LeaderUpdate } from '../../broker/controller/controller-types.js';
import type { Replica } from '../../broker/partition/replica.js';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { TopicError } from '../../broker/topics/topic-error.js';
import { GroupIdRegistry } from '../../broker/transport/group-id-registry.js';
import { PeerTransport } from '../../broker/transport/peer-transport.js';
import type { RaftConfig } from '../../raft/types.js';
import { seededUniformRandom } from '../fixtures/test-random.js';
import { freePort, silentLogger, TEST_LIMITS, waitFor } from '../transport/transport-fixtures.js';

const TICK_MS = 25;
const IDS: BrokerId[] = [1, 2, 3];
const HEARTBEAT_INTERVAL_MS = 100;
const LEASE_MS = 2500;
const FORWARD_TIMEOUT_MS = 5000;
/** Long enough for an election plus a lease on a loaded 2-core machine. */
const WAIT_MS = 15_000;

function raftConfig(seed: number): Omit<RaftConfig, 'id' | 'applied'> {
  return {
    // 0.5-1 s election timeout: short for the test, still well above a Ready's fdatasync on a
    // loaded machine (three brokers share this process's event loop).
    electionTicks: 20,
    heartbeatTicks: 3,
    preVote: true,
    checkQuorum: true,
    maxMessageBytes: 1024 * 1024,
    maxEntriesPerMessage: 64,
    maxInflightMessages: 16,
    maxInflightBytes: 8 * 1024 * 1024,
    maxUncommittedBytes: 16 * 1024 * 1024,
    random: seededUniformRandom(seed),
  };
}

interface Broker {
  readonly id: BrokerId;
  readonly address: string;
  readonly dir: string;
  /** What the broker's replica manager would report as led here. */
  leaderships: LeaderUpdate[];
  transport?: PeerTransport;
  controller?: Controller;
  starts: number;
}

class TestCluster {
  readonly brokers = new Map<BrokerId, Broker>();
  /** Internal address of every broker: the cluster configuration every controller reads. */
  private readonly addresses = new Map<BrokerId, string>();
  private readonly files = new FileHandleCache(64);
  private readonly config = loadBrokerConfig({ env: {} });
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly root: string) {}

  async start(): Promise<void> {
    for (const id of IDS) await this.configureBroker(id);
    await Promise.all(IDS.map((id) => this.startBroker(id)));
    this.timer = setInterval(() => {
      for (const broker of this.brokers.values()) {
        broker.controller?.controllerReplica.tick();
        broker.transport?.flushTick();
      }
    }, TICK_MS);
  }

  private async configureBroker(id: BrokerId): Promise<void> {
    const address = `127.0.0.1:${await freePort()}`;
    this.brokers.set(id, { id, address, dir: join(this.root, `broker-${id}`, 'controller'), leaderships: [], starts: 0 });
    this.addresses.set(id, address);
  }

  /** A broker added to the cluster configuration: the running ones learn its address, then it starts. */
  async addBroker(id: BrokerId): Promise<void> {
    await this.configureBroker(id);
    for (const broker of this.brokers.values()) {
      broker.transport?.updatePeers(new Map([...this.addresses].filter(([peer]) => peer !== broker.id)));
    }
    await this.startBroker(id);
  }

  /** Starts (or restarts, on the same directory and port) one broker's transport and controller. */
  async startBroker(id: BrokerId): Promise<void> {
    const broker = this.get(id);
    const groups = new GroupIdRegistry<Replica>();
    const peers = new Map([...this.brokers.values()].filter((other) => other.id !== id).map((other) => [other.id, other.address] as const));
    const transport = new PeerTransport({
      selfId: id,
      clusterId: 'controller-test',
      listenAddress: broker.address,
      peers,
      limits: TEST_LIMITS,
      logger: silentLogger,
      services: [Controller.service(() => broker.controller)],
      onMessage: (groupId, message) => groups.handlerOf(groupId)?.receive(message),
      onPeerState: (peer, connected) => {
        if (!connected) groups.handlerOf(0)?.reportUnreachable(peer);
      },
    });
    broker.starts += 1;
    const controller = await Controller.start({
      dir: broker.dir,
      nodeId: id,
      voters: IDS,
      learners: [...this.addresses.keys()].filter((other) => !IDS.includes(other)),
      self: { host: '127.0.0.1', port: 9000 + id, internalAddress: broker.address, rack: `rack-${id}` },
      peerAddresses: this.addresses,
      groups,
      transport,
      raftConfig: raftConfig(id * 100 + broker.starts),
      config: this.config,
      clock: { nowMs: () => Date.now() },
      files: this.files,
      logger: silentLogger,
      leaderships: () => broker.leaderships,
      clusterId: 'controller-test',
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      leaseMs: LEASE_MS,
      forwardTimeoutMs: FORWARD_TIMEOUT_MS,
    });
    broker.transport = transport;
    broker.controller = controller;
    await transport.start();
  }

  /**
   * Stops one broker. By default as a crash looks from outside: its controller and listener go
   * away without handing anything over; `graceful` lets a leader hand over first.
   */
  async stopBroker(id: BrokerId, graceful = false): Promise<void> {
    const broker = this.get(id);
    const { controller, transport } = broker;
    broker.controller = undefined;
    broker.transport = undefined;
    await controller?.close({ handOverLeadership: graceful });
    await transport?.close();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.brokers.keys()].map((id) => this.stopBroker(id)));
  }

  get(id: BrokerId): Broker {
    const broker = this.brokers.get(id);
    assert.ok(broker !== undefined);
    return broker;
  }

  controller(id: BrokerId): Controller {
    const controller = this.get(id).controller;
    assert.ok(controller !== undefined, `broker ${id} is not running`);
    return controller;
  }

  running(): Controller[] {
    return [...this.brokers.values()].flatMap((broker) => (broker.controller === undefined ? [] : [broker.controller]));
  }

  /** The leader all running controllers agree on, or undefined. */
  agreedLeader(): BrokerId | undefined {
    const leader = [...this.brokers.values()].find((broker) => broker.controller?.isLeader === true);
    if (leader === undefined) return undefined;
    return this.running().every((controller) => controller.leaderId === leader.id) ? leader.id : undefined;
  }

  async waitForLeader(): Promise<BrokerId> {
    await waitFor('an agreed controller leader', () => this.agreedLeader() !== undefined, WAIT_MS);
    return this.agreedLeader() as BrokerId;
  }

  /** Waits until every running store holds the same metadata at the same offset. */
  async waitForIdenticalStores(): Promise<string> {
    await waitFor(
      'identical stores',
      () => {
        const dumps = this.running().map((controller) => dump(controller.store));
        return dumps.every((text) => text === dumps[0]);
      },
      WAIT_MS,
    );
    return dump(this.running()[0].store);
  }
}

function dump(store: ClusterStore): string {
  return JSON.stringify({ offset: store.appliedOffset, brokers: store.brokers(), topics: store.topics(), nextGroupId: store.nextGroupId() });
}

async function rejectsWith(promise: Promise<unknown>, errorCode: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TopicError, `expected a TopicError, got ${String(error)}`);
    assert.equal(error.errorCode, errorCode, error.message);
    return true;
  });
}

function followerOf(cluster: TestCluster, leader: BrokerId): BrokerId {
  const follower = IDS.find((id) => id !== leader && cluster.get(id).controller !== undefined);
  assert.ok(follower !== undefined);
  return follower;
}

describe('controller: three brokers over real peer transports', () => {
  let root: string;
  let cluster: TestCluster;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'brook-controller-'));
    cluster = new TestCluster(root);
    await cluster.start();
  });

  after(async () => {
    await cluster?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('elects a leader and registers every broker as LIVE in every store', async () => {
    await cluster.waitForLeader();
    await waitFor('three LIVE brokers everywhere', () => cluster.running().every((controller) => IDS.every((id) => controller.brokerState(id) === 'LIVE')), WAIT_MS);
    const store = cluster.controller(1).store;
    assert.deepEqual(
      store.brokers().map((broker) => [broker.id, broker.host, broker.port, broker.internalAddress, broker.rack]),
      IDS.map((id) => [id, '127.0.0.1', 9000 + id, cluster.get(id).address, `rack-${id}`]),
    );
  });

  it('serves ControllerService only to its cluster, within its limits, pointing callers at the leader', async () => {
    const leader = await cluster.waitForLeader();
    const follower = followerOf(cluster, leader);
    const clients = new ControllerClients(new Map(IDS.map((id) => [id, cluster.get(id).address] as const)));
    try {
      const deleteRequest = (clusterId: string, fromBrokerId: number): WireWriteRequest => ({ clusterId, fromBrokerId, request: 'deleteTopic', deleteTopic: { name: 'x' } });
      const refusedWith = (code: grpc.status) => (error: unknown) => (error as grpc.ServiceError).code === code;
      await assert.rejects(clients.write(leader, deleteRequest('another-cluster', follower), 5000), refusedWith(grpc.status.FAILED_PRECONDITION));
      await assert.rejects(clients.write(leader, deleteRequest('controller-test', 99), 5000), refusedWith(grpc.status.FAILED_PRECONDITION));
      const register: WireWriteRequest = {
        clusterId: 'controller-test',
        fromBrokerId: follower,
        request: 'registerBroker',
        registerBroker: { brokerId: leader, host: 'h', port: 1, internalAddress: 'h:2', rack: '', incarnation: 1 },
      };
      await assert.rejects(clients.write(leader, register, 5000), refusedWith(grpc.status.INVALID_ARGUMENT), 'a broker registers only itself');

      const tooMany = Array.from({ length: REASSIGN_PARTITIONS_MAX + 1 }, (_, partition) => ({ topic: 't', partition, replicas: [1] }));
      const oversized = await clients.write(follower, { clusterId: 'controller-test', fromBrokerId: leader, request: 'reassign', reassign: { partitions: tooMany } }, 5000);
      assert.equal(errorCodeOf(oversized.errorCode), 'INVALID_REQUEST');
      await rejectsWith(cluster.controller(follower).reassign(tooMany), 'INVALID_REQUEST');
      const longList = Array.from({ length: 257 }, (_, index) => index + 1);
      await rejectsWith(cluster.controller(leader).reassign([{ topic: 't', partition: 0, replicas: longList }]), 'INVALID_REQUEST');

      const notLeader = await clients.write(follower, deleteRequest('controller-test', leader), 5000);
      assert.equal(errorCodeOf(notLeader.errorCode), 'NOT_CONTROLLER');
      assert.equal(notLeader.leaderHint, leader);
      const heartbeat = { clusterId: 'controller-test', brokerId: follower, incarnation: 12345, leaderships: [] };
      assert.deepEqual(await clients.heartbeat(follower, heartbeat, 5000), { status: 'NOT_CONTROLLER', leaderHint: leader });
      assert.deepEqual(await clients.heartbeat(leader, heartbeat, 5000), { status: 'REGISTER', leaderHint: leader }, 'an unknown incarnation must register');
    } finally {
      clients.close();
    }
  });

  it('forwards a createTopic issued on a follower; every store holds the same topic', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.controller(followerOf(cluster, leader));
    await follower.createTopic({ name: 'orders', numPartitions: 6, replicationFactor: 3, configs: { 'retention.ms': '3600000' } }, false);
    // Resolved only once the caller's own store applied it.
    const topic = follower.store.topic('orders');
    assert.ok(topic !== undefined);
    assert.deepEqual(topic.configs, { 'retention.ms': '3600000' });
    assert.equal(topic.partitions.length, 6);
    const preferred = new Map<number, number>();
    for (const partition of topic.partitions) {
      assert.equal(new Set(partition.replicas).size, 3);
      assert.deepEqual(partition.initialReplicas, partition.replicas);
      preferred.set(partition.replicas[0], (preferred.get(partition.replicas[0]) ?? 0) + 1);
    }
    assert.deepEqual([...preferred.values()], [2, 2, 2], 'preferred leaders are balanced');
    assert.equal(new Set(topic.partitions.map((partition) => partition.groupId)).size, 6, 'group ids are distinct');
    assert.ok(topic.partitions.every((partition) => partition.groupId >= 1), 'group 0 is the controller');
    const reference = await cluster.waitForIdenticalStores();
    assert.ok(reference.includes('"orders"'));
  });

  it('answers refused writes with the single broker error codes, on the leader and through forwarding', async () => {
    const leader = await cluster.waitForLeader();
    for (const controller of [cluster.controller(leader), cluster.controller(followerOf(cluster, leader))]) {
      await rejectsWith(controller.createTopic({ name: 'orders', numPartitions: 1, replicationFactor: 1, configs: {} }, false), 'TOPIC_ALREADY_EXISTS');
      await rejectsWith(controller.createTopic({ name: 'wide', numPartitions: 1, replicationFactor: 4, configs: {} }, false), 'INVALID_REPLICATION_FACTOR');
      await rejectsWith(controller.createTopic({ name: 'bad/name', numPartitions: 1, replicationFactor: 1, configs: {} }, false), 'INVALID_TOPIC_EXCEPTION');
      await rejectsWith(controller.createTopic({ name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } }, false), 'INVALID_CONFIG');
      await rejectsWith(controller.createTopic({ name: 'many', numPartitions: 100_001, replicationFactor: 1, configs: {} }, false), 'INVALID_PARTITIONS');
      await rejectsWith(controller.deleteTopic('missing'), 'UNKNOWN_TOPIC_OR_PARTITION');
      await rejectsWith(controller.createPartitions('orders', 3, false), 'INVALID_PARTITIONS');
    }
    const follower = cluster.controller(followerOf(cluster, leader));
    await follower.createTopic({ name: 'dry-run', numPartitions: 2, replicationFactor: 2, configs: {} }, true);
    assert.equal(follower.store.topic('dry-run'), undefined, 'validateOnly creates nothing');
  });

  it('grows, alters, reassigns and deletes through a follower', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.controller(followerOf(cluster, leader));
    await follower.createTopic({ name: 'events', numPartitions: 1, replicationFactor: 0, configs: {} }, false);
    assert.equal(follower.store.topic('events')?.partitions[0].replicas.length, 3, 'default replication factor min(3, brokers)');
    await follower.createPartitions('events', 3, false);
    assert.equal(follower.store.topic('events')?.partitions.length, 3);
    await follower.alterTopicConfigs('events', { 'segment.bytes': '1048576' }, [], false);
    assert.deepEqual(follower.store.topic('events')?.configs, { 'segment.bytes': '1048576' });
    await rejectsWith(follower.alterTopicConfigs('events', { 'segment.bytes': '1' }, [], false), 'INVALID_CONFIG');

    const results = await follower.reassign([
      { topic: 'events', partition: 0, replicas: [3, 1] },
      { topic: 'events', partition: 9, replicas: [1] },
      { topic: 'events', partition: 1, replicas: [1, 7] },
    ]);
    assert.deepEqual(results.map((result) => result.errorCode), ['NONE', 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_REPLICA_ASSIGNMENT']);
    const moving = follower.store.topic('events')?.partitions[0];
    assert.deepEqual(moving?.targetReplicas, [3, 1]);
    const again = await follower.reassign([{ topic: 'events', partition: 0, replicas: [2] }]);
    assert.equal(again[0].errorCode, 'REASSIGNMENT_IN_PROGRESS');
    await follower.reassignmentDone(moving?.groupId as number, [1, 3]);
    assert.deepEqual(follower.store.topic('events')?.partitions[0].replicas, [3, 1]);
    assert.equal(follower.store.topic('events')?.partitions[0].targetReplicas, null);

    await follower.deleteTopic('events');
    assert.equal(follower.store.topic('events'), undefined);
    await cluster.waitForIdenticalStores();
  });

  it('records leaderships reported by heartbeats in every store, ignoring stale ones', async () => {
    const topic = cluster.controller(1).store.topic('orders');
    assert.ok(topic !== undefined);
    const [first, second] = topic.partitions;
    cluster.get(2).leaderships = [{ groupId: first.groupId, leaderId: 2, leaderEpoch: 7 }];
    cluster.get(3).leaderships = [{ groupId: second.groupId, leaderId: 3, leaderEpoch: 4 }];
    cluster.controller(2).leadershipChanged();
    const recorded = (groupId: number, leaderId: number, leaderEpoch: number) => () =>
      cluster.running().every((controller) => {
        const partition = controller.store.partitionByGroup(groupId);
        return partition?.leaderId === leaderId && partition.leaderEpoch === leaderEpoch;
      });
    await waitFor('leader update of broker 2 everywhere', recorded(first.groupId, 2, 7), WAIT_MS);
    await waitFor('leader update of broker 3 everywhere', recorded(second.groupId, 3, 4), WAIT_MS);
    // An older epoch (a deposed leader still reporting) does not win.
    cluster.get(3).leaderships = [{ groupId: first.groupId, leaderId: 3, leaderEpoch: 6 }];
    cluster.controller(3).leadershipChanged();
    await new Promise((resolve) => setTimeout(resolve, 4 * HEARTBEAT_INTERVAL_MS));
    assert.ok(recorded(first.groupId, 2, 7)(), 'a stale leadership report was recorded');
    cluster.get(2).leaderships = [];
    cluster.get(3).leaderships = [];
    await cluster.waitForIdenticalStores();
  });

  it('fences a stopped broker after its lease, catches it up and unfences it when it returns', async () => {
    const leader = await cluster.waitForLeader();
    const stopped = followerOf(cluster, leader);
    const stoppedAtMs = Date.now();
    await cluster.stopBroker(stopped);
    await waitFor('the stopped broker fenced', () => cluster.controller(leader).brokerState(stopped) === 'FENCED', WAIT_MS);
    // The lease runs from the last heartbeat, which left up to one interval before the stop.
    assert.ok(Date.now() - stoppedAtMs >= LEASE_MS - HEARTBEAT_INTERVAL_MS, `fenced ${Date.now() - stoppedAtMs} ms after the stop, before the lease ran out`);
    const survivor = cluster.controller(followerOf(cluster, leader));
    // Two live brokers now: RF 3 cannot be placed, RF 2 avoids the fenced broker.
    await rejectsWith(survivor.createTopic({ name: 'while-down', numPartitions: 2, replicationFactor: 3, configs: {} }, false), 'INVALID_REPLICATION_FACTOR');
    await survivor.createTopic({ name: 'while-down', numPartitions: 2, replicationFactor: 2, configs: {} }, false);
    assert.ok(survivor.store.topic('while-down')?.partitions.every((partition) => !partition.replicas.includes(stopped)));

    await cluster.startBroker(stopped);
    await waitFor('the returned broker LIVE everywhere', () => cluster.running().every((controller) => controller.brokerState(stopped) === 'LIVE'), WAIT_MS);
    const reference = await cluster.waitForIdenticalStores();
    assert.ok(reference.includes('"while-down"'), 'the returned broker caught up with what it missed');
  });

  it('elects a new leader when the leader dies; it takes writes and fences the old one', async () => {
    const oldLeader = await cluster.waitForLeader();
    await cluster.stopBroker(oldLeader);
    const newLeader = await cluster.waitForLeader();
    assert.notEqual(newLeader, oldLeader);
    const follower = cluster.controller(followerOf(cluster, newLeader));
    await follower.createTopic({ name: 'after-failover', numPartitions: 1, replicationFactor: 2, configs: {} }, false);
    assert.ok(follower.store.topic('after-failover') !== undefined);
    await waitFor('the old leader fenced', () => cluster.controller(newLeader).brokerState(oldLeader) === 'FENCED', WAIT_MS);

    await cluster.startBroker(oldLeader);
    await waitFor('the old leader LIVE again', () => cluster.running().every((controller) => controller.brokerState(oldLeader) === 'LIVE'), WAIT_MS);
    const reference = await cluster.waitForIdenticalStores();
    assert.ok(reference.includes('"after-failover"'));
  });

  it('decommissions a broker: its replicas get targets elsewhere, and it is DECOMMISSIONED once they moved', async () => {
    const leader = await cluster.waitForLeader();
    const caller = cluster.controller(followerOf(cluster, leader));
    // With three brokers an RF 3 partition has nowhere to go.
    await rejectsWith(caller.decommission(2), 'INVALID_REPLICATION_FACTOR');
    assert.equal(caller.brokerState(2), 'LIVE', 'a refused decommission changes nothing');
    await caller.deleteTopic('orders');
    const listing = (store: ClusterStore) => store.topics().flatMap((topic) => topic.partitions.filter((partition) => partition.replicas.includes(2)));
    const expected = listing(caller.store).length;
    assert.ok(expected > 0);
    assert.deepEqual(await caller.decommission(2), { partitionsMoved: expected });
    await waitFor('broker 2 DECOMMISSIONING everywhere', () => cluster.running().every((controller) => controller.brokerState(2) === 'DECOMMISSIONING'), WAIT_MS);
    await rejectsWith(caller.createTopic({ name: 'no-room', numPartitions: 1, replicationFactor: 3, configs: {} }, false), 'INVALID_REPLICATION_FACTOR');
    for (const partition of listing(caller.store)) {
      assert.ok(partition.targetReplicas !== null && !partition.targetReplicas.includes(2));
      // What each partition's leader reports once its voters equal the target.
      await caller.reassignmentDone(partition.groupId, partition.targetReplicas);
    }
    await waitFor('broker 2 DECOMMISSIONED everywhere', () => cluster.running().every((controller) => controller.brokerState(2) === 'DECOMMISSIONED'), WAIT_MS);
    await cluster.waitForIdenticalStores();
  });

  it('adds a broker that joins the configuration to the controller group as a learner: it catches up and registers', async () => {
    const leader = await cluster.waitForLeader();
    await cluster.addBroker(4);
    await waitFor('broker 4 a learner', () => cluster.controller(leader).controllerReplica.status().conf.learners.includes(4), WAIT_MS);
    await waitFor('broker 4 LIVE everywhere', () => cluster.running().every((controller) => controller.brokerState(4) === 'LIVE'), WAIT_MS);
    const reference = await cluster.waitForIdenticalStores();
    assert.ok(reference.includes('"after-failover"'), 'the new broker holds the metadata made before it joined');
    assert.deepEqual(cluster.controller(4).controllerReplica.status().conf.voters.sort(), IDS, 'voters unchanged');
    // Its writes are forwarded like any follower's.
    await cluster.controller(4).createTopic({ name: 'from-four', numPartitions: 1, replicationFactor: 2, configs: {} }, false);
    assert.ok(cluster.controller(4).store.topic('from-four') !== undefined);
  });

  it('a leader closing cleanly hands the group to another voter without an election timeout', async () => {
    const leader = await cluster.waitForLeader();
    await cluster.stopBroker(leader, true);
    // Without the handover no new leader could exist before an election timeout (0.5-1 s) passed.
    await waitFor('a new leader right after the close', () => cluster.agreedLeader() !== undefined, 300);
    const successor = cluster.agreedLeader() as BrokerId;
    assert.ok(IDS.includes(successor) && successor !== leader);
    await cluster.controller(successor).deleteTopic('from-four');
  });
});

describe('BrokerLiveness: the leader\'s leases and waiting leader updates', () => {
  const broker = (id: number, fenced = false): BrokerRecord => ({ id, host: 'h', port: 1, internalAddress: 'h:2', rack: '', incarnation: 1, fenced, decommissioning: false });
  const partition = (groupId: number, leaderId: number, leaderEpoch: number): ClusterPartition => ({
    topic: 't',
    partition: groupId - 1,
    groupId,
    initialReplicas: [1, 2, 3],
    replicas: [1, 2, 3],
    targetReplicas: null,
    leaderId,
    leaderEpoch,
  });

  it('expires leases from the last renewal, skips fenced brokers, and starts unknown brokers afresh', () => {
    const liveness = new BrokerLiveness(1000);
    liveness.restart([broker(1), broker(2)], 0);
    liveness.renew(1, 500);
    assert.deepEqual(liveness.expired([broker(1), broker(2), broker(3)], 1001), [2], 'broker 3 was not tracked: its lease starts now');
    assert.deepEqual(liveness.expired([broker(1), broker(2, true), broker(3)], 1600), [1], 'a fenced broker is not fenced again');
    assert.deepEqual(liveness.expired([broker(3)], 2002), [3]);
    assert.equal(liveness.isCurrent(1, 1500), true);
    assert.equal(liveness.isCurrent(1, 1501), false);
    assert.equal(liveness.isCurrent(9, 0), false);
    liveness.restart([broker(1)], 5000);
    assert.deepEqual(liveness.expired([broker(1)], 5900), [], 'a new leadership starts every lease afresh');
  });

  it('keeps only leaderships newer than the metadata, the latest per group', () => {
    const stored = new Map([[1, partition(1, 1, 5)], [2, partition(2, 2, 3)]]);
    const liveness = new BrokerLiveness(1000);
    const waiting = liveness.report(
      [
        { groupId: 1, leaderId: 1, leaderEpoch: 5 }, // what the store shows already
        { groupId: 1, leaderId: 3, leaderEpoch: 4 }, // stale: an older term
        { groupId: 2, leaderId: 3, leaderEpoch: 4 },
        { groupId: 2, leaderId: 1, leaderEpoch: 6 },
        { groupId: 2, leaderId: 3, leaderEpoch: 5 }, // older than the one waiting
        { groupId: 7, leaderId: 1, leaderEpoch: 9 }, // no such partition
      ],
      (groupId) => stored.get(groupId),
    );
    assert.equal(waiting, 1);
    assert.deepEqual(liveness.takeUpdates(10, (groupId) => stored.get(groupId)), [{ groupId: 2, leaderId: 1, leaderEpoch: 6 }]);
    assert.equal(liveness.pendingUpdateCount, 0);
    liveness.report([{ groupId: 1, leaderId: 2, leaderEpoch: 6 }], (groupId) => stored.get(groupId));
    stored.set(1, partition(1, 2, 6)); // applied meanwhile through another report
    assert.deepEqual(liveness.takeUpdates(10, (groupId) => stored.get(groupId)), [], 'updates the metadata caught up with are dropped');
  });
});
