/**
 * ClusterTopics, the cluster broker's TopicService, over a scripted controller and replica set:
 * which leader Metadata reports (the local replica's view, else the metadata's), the refusal and
 * hint for partitions held elsewhere, auto-creation through the controller, and the cluster view.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { LeadershipRefusal, NewTopicSpec, ReassignmentSpec, ServedPartition } from '../../broker/api/topic-service.js';
import { ClusterTopics, type ClusterMetadataSource, type LocalReplicas } from '../../broker/cluster/cluster-topics.js';
import { loadBrokerConfig } from '../../broker/config/broker-config.js';
import type { ApplyResult, BrokerRecord, ClusterPartition, ClusterTopic } from '../../broker/controller/controller-types.js';
import type { PartitionLog } from '../../broker/storage/partition-log.js';
import { TopicError } from '../../broker/topics/topic-error.js';

const SELF = 1;
const config = loadBrokerConfig({ flags: { 'node-id': SELF, peers: '1@127.0.0.1:19001,2@127.0.0.1:19002,3@127.0.0.1:19003,4@127.0.0.1:19004' }, env: {} });

function broker(id: number, fields: Partial<BrokerRecord> = {}): BrokerRecord {
  return { id, host: '127.0.0.1', port: 9090 + id, internalAddress: `127.0.0.1:1900${id}`, rack: `r${id}`, incarnation: 1, fenced: false, decommissioning: false, ...fields };
}

function partition(index: number, replicas: number[], leaderId: number, fields: Partial<ClusterPartition> = {}): ClusterPartition {
  return { topic: 'orders', partition: index, groupId: 10 + index, initialReplicas: replicas, replicas, targetReplicas: null, leaderId, leaderEpoch: 5, ...fields };
}

/** A held replica whose leadership the test sets. */
function replica(index: number, refusal: LeadershipRefusal | undefined, epoch = 9): ServedPartition {
  return {
    topic: 'orders',
    index,
    leaderEpoch: epoch,
    highWatermark: 0,
    logStartOffset: 0,
    logEndOffset: 0,
    log: {} as PartitionLog,
    leadership: () => refusal,
    append: () => Promise.reject(new Error('not used')),
    read: () => Promise.resolve(Buffer.alloc(0)),
    onChange: () => () => undefined,
  };
}

class FakeController implements ClusterMetadataSource {
  topicsByName = new Map<string, ClusterTopic>();
  brokerList: BrokerRecord[] = [broker(1), broker(2), broker(3, { fenced: true }), broker(4, { decommissioning: true })];
  leaderId = 2;
  created: NewTopicSpec[] = [];
  reassigned: ReassignmentSpec[][] = [];
  /** What the next createTopic does besides recording it. */
  onCreate: (spec: NewTopicSpec) => void = (spec) => this.addTopic(spec.name, [partition(0, [1, 2, 3], 0), partition(1, [2, 3, 4], 0)]);

  readonly store = {
    topics: () => [...this.topicsByName.values()],
    topic: (name: string) => this.topicsByName.get(name),
    brokers: () => this.brokerList,
    broker: (id: number) => this.brokerList.find((item) => item.id === id),
    brokerState: (id: number) => {
      const found = this.brokerList.find((item) => item.id === id);
      return found === undefined ? undefined : found.decommissioning ? ('DECOMMISSIONING' as const) : found.fenced ? ('FENCED' as const) : ('LIVE' as const);
    },
    replicaCounts: () => new Map([[1, 2], [2, 3], [3, 3], [4, 1]]),
  };

  addTopic(name: string, partitions: ClusterPartition[]): void {
    this.topicsByName.set(name, { name, topicId: `${name}-id`, createdMs: 1, configs: { 'retention.ms': '1000' }, partitions: partitions.map((item) => ({ ...item, topic: name })) });
  }

  async createTopic(spec: NewTopicSpec): Promise<void> {
    this.created.push(spec);
    if (this.topicsByName.has(spec.name)) throw new TopicError('TOPIC_ALREADY_EXISTS', `topic ${spec.name} already exists`);
    this.onCreate(spec);
  }
  async deleteTopic(): Promise<void> {}
  async alterTopicConfigs(): Promise<void> {}
  async createPartitions(): Promise<void> {}
  async reassign(list: readonly ReassignmentSpec[]): Promise<readonly ApplyResult[]> {
    this.reassigned.push([...list]);
    return [{ errorCode: 'NONE', errorMessage: '' }, { errorCode: 'REASSIGNMENT_IN_PROGRESS', errorMessage: 'busy' }];
  }
  async decommission(): Promise<{ partitionsMoved: number }> {
    return { partitionsMoved: 4 };
  }
}

/** A map that counts its changes, as the replica manager's version does. */
class CountingMap<K, V> extends Map<K, V> {
  changes = 0;
  override set(key: K, value: V): this {
    this.changes += 1;
    return super.set(key, value);
  }
  override delete(key: K): boolean {
    this.changes += 1;
    return super.delete(key);
  }
}

class FakeReplicas implements LocalReplicas {
  held = new CountingMap<string, ServedPartition>();
  get version(): number {
    return this.held.changes;
  }
  reconciles = 0;
  /** Replicas the next reconcile opens. */
  pending: Array<[string, ServedPartition]> = [];
  partition(topic: string, index: number): ServedPartition | undefined {
    return this.held.get(`${topic}/${index}`);
  }
  async reconcile(): Promise<void> {
    this.reconciles++;
    for (const [key, value] of this.pending.splice(0)) this.held.set(key, value);
  }
}

function setUp() {
  const controller = new FakeController();
  const replicas = new FakeReplicas();
  const topics = new ClusterTopics({ config, controller, replicas, advertised: () => ({ host: '127.0.0.1', port: 9091 }), logger: pino({ level: 'silent' }) });
  return { controller, replicas, topics };
}

describe('ClusterTopics', () => {
  it('reports each partition with the local replica view when held here, else the metadata leader', () => {
    const { controller, replicas, topics } = setUp();
    controller.addTopic('orders', [
      partition(0, [1, 2, 3], 2), // held here, leads: the local view wins over the stale metadata
      partition(1, [2, 1, 4], 1), // held here, follows broker 2 (hint from the replica)
      partition(2, [2, 4, 3], 2, { targetReplicas: [2, 4, 1] }), // elsewhere, led by 2
      partition(3, [3, 2, 4], 3), // elsewhere, leader 3 is fenced
      partition(4, [1, 2, 4], 0), // held here, election under way
    ]);
    replicas.held.set('orders/0', replica(0, undefined, 7));
    replicas.held.set('orders/1', replica(1, { errorCode: 'NOT_LEADER_OR_FOLLOWER', errorMessage: '', currentLeader: { leaderId: 2, leaderEpoch: 8, address: '127.0.0.1:9092' } }, 8));
    replicas.held.set('orders/4', replica(4, { errorCode: 'LEADER_NOT_AVAILABLE', errorMessage: '' }, 3));
    const described = topics.describe('orders')!;
    assert.deepEqual(
      described.map((item) => [item.partition, item.errorCode, item.leaderId, item.leaderEpoch]),
      [
        [0, 'NONE', 1, 7],
        [1, 'NONE', 2, 8],
        [2, 'NONE', 2, 5],
        [3, 'LEADER_NOT_AVAILABLE', -1, 5],
        [4, 'LEADER_NOT_AVAILABLE', -1, 3],
      ],
    );
    assert.deepEqual(described[2].targetReplicaIds, [2, 4, 1]);
    assert.deepEqual(described[0].targetReplicaIds, []);
    assert.deepEqual(described[3].inSyncReplicaIds, [2, 4], 'replicas on fenced brokers are not in sync');
    assert.equal(topics.describe('missing'), undefined);
  });

  it('builds a topic view once per metadata snapshot and set of local replicas', () => {
    const { controller, replicas, topics } = setUp();
    controller.addTopic('orders', [partition(0, [1, 2, 3], 1), partition(1, [2, 3, 4], 2)]);
    const first = topics.get('orders')!;
    assert.equal(topics.get('orders'), first, 'nothing changed: the same view');
    assert.equal(first.partitions[0], undefined);
    replicas.held.set('orders/0', replica(0, undefined));
    const opened = topics.get('orders')!;
    assert.notEqual(opened, first, 'a replica opened here: a new view');
    assert.ok(opened.partitions[0] !== undefined);
    controller.addTopic('orders', [partition(0, [1, 2, 3], 1), partition(1, [2, 3, 4], 2), partition(2, [1, 3, 4], 1)]);
    assert.equal(topics.get('orders')!.partitions.length, 3, 'a new metadata snapshot: a new view');
  });

  it('serves only the partitions held here, and refuses the others with where the leader is', () => {
    const { controller, replicas, topics } = setUp();
    controller.addTopic('orders', [partition(0, [1, 2, 3], 1), partition(1, [2, 3, 4], 2, { leaderEpoch: 11 }), partition(2, [3, 4, 2], 3), partition(3, [2, 4, 3], 0)]);
    replicas.held.set('orders/0', replica(0, undefined));
    const served = topics.get('orders')!;
    assert.equal(served.partitions.length, 4);
    assert.ok(served.partitions[0] !== undefined);
    assert.equal(served.partitions[1], undefined);
    assert.deepEqual(topics.notHeldHere('orders', 1), {
      errorCode: 'NOT_LEADER_OR_FOLLOWER',
      errorMessage: 'orders-1: broker 1 holds no replica; broker 2 leads it',
      currentLeader: { leaderId: 2, leaderEpoch: 11, address: '127.0.0.1:9092' },
    });
    assert.equal(topics.notHeldHere('orders', 2).errorCode, 'LEADER_NOT_AVAILABLE', 'its leader is fenced');
    assert.equal(topics.notHeldHere('orders', 3).errorCode, 'LEADER_NOT_AVAILABLE', 'no leader known');
    assert.equal(topics.notHeldHere('orders', 9).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.equal(topics.partition('orders', 0), served.partitions[0]);
    controller.topicsByName.delete('orders');
    assert.equal(topics.partition('orders', 0), undefined, 'a deleted topic is gone even while its replica lingers');
  });

  it('auto-creates through the controller and waits for the replicas assigned here', async () => {
    const { controller, replicas, topics } = setUp();
    replicas.pending.push(['fresh/0', replica(0, undefined)]);
    const [first, second] = await Promise.all([topics.getOrAutoCreate('fresh'), topics.getOrAutoCreate('fresh')]);
    assert.equal(first, second, 'concurrent auto-creates share one creation');
    assert.deepEqual(controller.created, [{ name: 'fresh', numPartitions: 0, replicationFactor: 0, configs: {} }]);
    assert.equal(replicas.reconciles, 1);
    assert.ok(first.partitions[0] !== undefined, 'the replica held here is served');
    assert.equal(first.partitions[1], undefined, 'partition 1 lives on brokers 2, 3, 4');
    assert.equal(topics.notHeldHere('fresh', 0).errorCode, 'LEADER_NOT_AVAILABLE');
  });

  it('takes a topic created meanwhile by someone else, and refuses bad names and disabled auto-creation', async () => {
    const { controller, topics } = setUp();
    controller.onCreate = (spec) => {
      controller.addTopic(spec.name, [partition(0, [2, 3, 4], 2)]);
      throw new TopicError('TOPIC_ALREADY_EXISTS', 'raced');
    };
    const raced = await topics.getOrAutoCreate('raced');
    assert.equal(raced.name, 'raced');
    await assert.rejects(topics.getOrAutoCreate('bad/name'), (error: TopicError) => error.errorCode === 'INVALID_TOPIC_EXCEPTION');
    const off = new ClusterTopics({
      config: { ...config, autoCreateTopics: false },
      controller,
      replicas: new FakeReplicas(),
      advertised: () => ({ host: '127.0.0.1', port: 9091 }),
      logger: pino({ level: 'silent' }),
    });
    await assert.rejects(off.getOrAutoCreate('never'), (error: TopicError) => error.errorCode === 'UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('lists brokers that serve, describes the cluster, and maps reassignment results in order', async () => {
    const { controller, topics } = setUp();
    controller.addTopic('orders', [partition(0, [1, 2, 3], 2), partition(1, [2, 3, 4], 2), partition(2, [3, 4, 1], 1)]);
    assert.deepEqual(topics.brokers().map((item) => item.nodeId), [1, 2, 4], 'fenced broker 3 is left out');
    assert.equal(topics.controllerId(), 2);
    controller.leaderId = 0;
    assert.equal(topics.controllerId(), -1);
    const cluster = topics.describeCluster();
    assert.equal(cluster.clusterId, 'brook');
    assert.deepEqual(cluster.controllerVoterIds, [1, 2, 3, 4]);
    assert.deepEqual(
      cluster.brokers.map((item) => [item.broker.nodeId, item.state, item.replicaCount, item.leaderCount, item.internalAddress]),
      [
        [1, 'LIVE', 2, 1, '127.0.0.1:19001'],
        [2, 'LIVE', 3, 2, '127.0.0.1:19002'],
        [3, 'FENCED', 3, 0, '127.0.0.1:19003'],
        [4, 'DECOMMISSIONING', 1, 0, '127.0.0.1:19004'],
      ],
    );
    const results = await topics.reassign([
      { topic: 'orders', partition: 0, replicas: [2, 3, 4] },
      { topic: 'orders', partition: 1, replicas: [1, 2, 3] },
    ]);
    assert.deepEqual(results, [
      { topic: 'orders', partition: 0, errorCode: 'NONE', errorMessage: '' },
      { topic: 'orders', partition: 1, errorCode: 'REASSIGNMENT_IN_PROGRESS', errorMessage: 'busy' },
    ]);
    assert.deepEqual(await topics.decommission(4), { errorCode: 'NONE', errorMessage: '', partitionsMoved: 4 });
  });

  it('lists itself until its registration is applied', () => {
    const { controller, topics } = setUp();
    controller.brokerList = [broker(2)];
    assert.deepEqual(topics.brokers(), [
      { nodeId: 1, host: '127.0.0.1', port: 9091, rack: '' },
      { nodeId: 2, host: '127.0.0.1', port: 9092, rack: 'r2' },
    ]);
  });
});
