/**
 * The client API of a four-broker cluster (real broker processes, no fault injection): Metadata
 * and DescribeCluster from any broker; the NOT_LEADER_OR_FOLLOWER answers with a leader hint that
 * Produce, Fetch and ListOffsets give on a follower and on a broker holding no replica; and the
 * admin CLI moving a partition and decommissioning a broker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeBatch } from '../../record/record-batch.js';
import { ClusterHarness, waitUntil } from '../fixtures/cluster-harness.js';
import { runCli } from '../cli/cli-process.js';
import { RawClient } from './broker-process.js';

let harness: ClusterHarness;
const clients = new Map<number, RawClient>();

before(async () => {
  harness = await ClusterHarness.start({ brokers: 4, proxies: false, logLevel: 'warn' });
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
      const cluster = await waitUntil(`broker ${id} to see four live brokers`, 10_000, async () => {
        const answer = await client(id).call('DescribeCluster', {});
        return answer.brokers.length === 4 && answer.brokers.every((broker: { state: string }) => broker.state === 'LIVE') ? answer : undefined;
      });
      assert.equal(cluster.clusterId, 'brook');
      assert.deepEqual(cluster.controllerVoterIds, [1, 2, 3, 4]);
      assert.ok([1, 2, 3, 4].includes(cluster.controllerId));
      assert.deepEqual(cluster.brokers.map((broker: { broker: { nodeId: number; host: string; port: number } }) => `${broker.broker.nodeId}@${broker.broker.host}:${broker.broker.port}`), harness.ids().map((each) => `${each}@${harness.broker(each).address}`));
    }
  });

  it('a follower refuses Produce, Fetch, ListOffsets and Subscribe with a hint to the leader; the leader serves', async () => {
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

    const stream = client(follower).subscribe({ topics: [{ name: 'hinted', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    const streamed = await new Promise<{ errorCode: string; currentLeader: { address: string } }>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    stream.cancel();
    assert.equal(streamed.errorCode, 'NOT_LEADER_OR_FOLLOWER');
    assert.equal(streamed.currentLeader.address, leaderAddress, 'Subscribe ends the partition with the hint');

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
    const created = await client(3).call('CreateTopics', { topics: [{ name: 'too-wide', numPartitions: 1, replicationFactor: 5 }] });
    assert.equal(created.results[0].errorCode, 'INVALID_REPLICATION_FACTOR');
  });

  it('brook partitions reassign moves a partition onto another broker; brook broker decommission empties one', async () => {
    await createTopic('relocated', 1, 3);
    const before = (await client(1).call('DescribeTopics', { names: ['relocated'] })).topics[0].partitions[0];
    const outsider = harness.ids().find((id) => !before.replicaIds.includes(id))!;
    const target = [outsider, before.replicaIds[0], before.replicaIds[1]];
    const brokers = ['--brokers', harness.bootstrap.join(',')];
    const reassigned = await runCli(['partitions', 'reassign', '--topic', 'relocated', '--partition', '0', '--replicas', target.join(','), ...brokers]);
    assert.equal(reassigned.code, 0, reassigned.stderr);
    assert.match(reassigned.stdout, new RegExp(`reassigning relocated/0 to \\[${target.join(',')}\\]`));
    await waitUntil('the reassignment to finish', 45_000, async () => {
      const now = (await client(2).call('DescribeTopics', { names: ['relocated'] })).topics[0].partitions[0];
      return now.targetReplicaIds.length === 0 && [...now.replicaIds].sort().join() === [...target].sort().join() ? now : undefined;
    });
    const described = await runCli(['topics', 'describe', 'relocated', ...brokers]);
    assert.match(described.stdout, new RegExp(`partition 0 .*replicas \\[${target.join(',')}\\]`));

    const decommissioned = await runCli(['broker', 'decommission', String(outsider), ...brokers]);
    assert.equal(decommissioned.code, 0, decommissioned.stderr);
    assert.match(decommissioned.stdout, new RegExp(`decommissioning broker ${outsider}: moving \\d+ replicas away`));
    await waitUntil(`broker ${outsider} to hold no replica`, 60_000, async () => {
      const cluster = await runCli(['cluster', 'describe', '--json', ...brokers]);
      const state = JSON.parse(cluster.stdout).brokers.find((broker: { id: number }) => broker.id === outsider)?.state;
      return state === 'DECOMMISSIONED' ? true : undefined;
    }, 500);
    const after = (await client(1).call('DescribeTopics', { names: ['relocated'] })).topics[0].partitions[0];
    assert.ok(!after.replicaIds.includes(outsider), `replicas ${after.replicaIds} left broker ${outsider}`);
  });
});
