/**
 * The client API of a three-broker cluster (real broker processes, no fault injection): Metadata
 * and DescribeCluster from any broker, and the NOT_LEADER_OR_FOLLOWER answers with a leader hint
 * that Produce, Fetch and ListOffsets give on a follower and on a broker holding no replica.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeBatch } from '../../record/record-batch.js';
import { ClusterHarness, waitUntil } from '../fixtures/cluster-harness.js';
import { RawClient } from './broker-process.js';

let harness: ClusterHarness;
const clients = new Map<number, RawClient>();

before(async () => {
  harness = await ClusterHarness.start({ brokers: 3, proxies: false, logLevel: 'warn' });
  for (const id of harness.ids()) clients.set(id, new RawClient(harness.broker(id).address));
});

after(async () => {
  for (const client of clients.values()) client.close();
  await harness?.close();
});

const client = (id: number): RawClient => clients.get(id)!;

function batchOf(value: string): Buffer {
  return encodeBatch([{ key: null, value: Buffer.from(value) }], { nowMs: Date.now() });
}

/** Creates a topic through broker 1 and waits until every partition has a leader; returns the leaders. */
async function createTopic(name: string, numPartitions: number, replicationFactor: number): Promise<number[]> {
  const created = await client(1).call('CreateTopics', { topics: [{ name, numPartitions, replicationFactor }] });
  assert.equal(created.results[0].errorCode, 'NONE', created.results[0].errorMessage);
  return harness.leadersOf(name, numPartitions);
}

describe('cluster client API', { timeout: 90_000 }, () => {
  it('every broker describes the same cluster', async () => {
    for (const id of harness.ids()) {
      const cluster = await waitUntil(`broker ${id} to see three live brokers`, 10_000, async () => {
        const answer = await client(id).call('DescribeCluster', {});
        return answer.brokers.length === 3 && answer.brokers.every((broker: { state: string }) => broker.state === 'LIVE') ? answer : undefined;
      });
      assert.equal(cluster.clusterId, 'brook');
      assert.deepEqual(cluster.controllerVoterIds, [1, 2, 3]);
      assert.ok([1, 2, 3].includes(cluster.controllerId));
      assert.deepEqual(cluster.brokers.map((broker: { broker: { nodeId: number; host: string; port: number } }) => `${broker.broker.nodeId}@${broker.broker.host}:${broker.broker.port}`), harness.ids().map((each) => `${each}@${harness.broker(each).address}`));
    }
  });

  it('a follower refuses Produce, Fetch and ListOffsets with a hint to the leader; the leader serves', async () => {
    const [leader] = await createTopic('hinted', 1, 3);
    const follower = harness.ids().find((id) => id !== leader)!;
    const leaderAddress = harness.broker(leader).address;
    const produced = await client(follower).call('Produce', { acks: 'ACKS_ALL', timeoutMs: 5000, topics: [{ name: 'hinted', partitions: [{ partition: 0, recordBatch: batchOf('x') }] }] });
    const refusal = produced.topics[0].partitions[0];
    assert.equal(refusal.errorCode, 'NOT_LEADER_OR_FOLLOWER');
    assert.equal(refusal.currentLeader.leaderId, leader);
    assert.equal(refusal.currentLeader.address, leaderAddress);
    assert.ok(refusal.currentLeader.leaderEpoch > 0);

    const fetched = await client(follower).call('Fetch', { maxWaitMs: 0, topics: [{ name: 'hinted', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    assert.equal(fetched.topics[0].partitions[0].errorCode, 'NOT_LEADER_OR_FOLLOWER');
    assert.deepEqual(fetched.topics[0].partitions[0].currentLeader, refusal.currentLeader, 'the fetch encoder carries the hint');

    const offsets = await client(follower).call('ListOffsets', { topics: [{ name: 'hinted', partitions: [{ partition: 0 }] }] });
    assert.equal(offsets.topics[0].partitions[0].errorCode, 'NOT_LEADER_OR_FOLLOWER');
    assert.equal(offsets.topics[0].partitions[0].currentLeader.address, leaderAddress);

    const accepted = await client(leader).call('Produce', { acks: 'ACKS_ALL', timeoutMs: 5000, topics: [{ name: 'hinted', partitions: [{ partition: 0, recordBatch: batchOf('y') }] }] });
    assert.equal(accepted.topics[0].partitions[0].errorCode, 'NONE');
    assert.equal(accepted.topics[0].partitions[0].currentLeader ?? null, null);
  });

  it('a broker holding no replica refuses with a hint, and Metadata from it names the leader', async () => {
    const leaders = await createTopic('single-replica', 3, 1);
    for (let partition = 0; partition < 3; partition++) {
      const leader = leaders[partition];
      const other = harness.ids().find((id) => id !== leader)!;
      const hint = await waitUntil(`broker ${other} to learn the leader of single-replica/${partition}`, 10_000, async () => {
        const produced = await client(other).call('Produce', { acks: 'ACKS_ALL', timeoutMs: 5000, topics: [{ name: 'single-replica', partitions: [{ partition, recordBatch: batchOf('z') }] }] });
        const answer = produced.topics[0].partitions[0];
        assert.ok(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE'].includes(answer.errorCode), answer.errorCode);
        return answer.currentLeader ?? undefined;
      });
      assert.equal(hint.leaderId, leader);
      assert.equal(hint.address, harness.broker(leader).address);
      const metadata = await client(other).call('Metadata', { topics: ['single-replica'] });
      const described = metadata.topics[0].partitions.find((item: { partition: number }) => item.partition === partition);
      assert.equal(described.leaderId, leader);
      assert.deepEqual(described.replicaIds, [leader]);
    }
  });

  it('reassignment to an unknown broker is refused; a topic asking more replicas than brokers too', async () => {
    await createTopic('moving', 1, 3);
    const response = await client(2).call('ReassignPartitions', { reassignments: [{ topic: 'moving', partition: 0, replicaIds: [1, 2, 9] }, { topic: 'absent', partition: 0, replicaIds: [1] }] });
    assert.equal(response.results[0].errorCode, 'INVALID_REPLICA_ASSIGNMENT');
    assert.match(response.results[0].errorMessage, /broker 9/);
    assert.equal(response.results[1].errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    const created = await client(3).call('CreateTopics', { topics: [{ name: 'too-wide', numPartitions: 1, replicationFactor: 4 }] });
    assert.equal(created.results[0].errorCode, 'INVALID_REPLICATION_FACTOR');
  });
});
