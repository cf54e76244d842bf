/**
 * The coordinator in a three-broker cluster: the offsets topic is created through the controller
 * (RF 3), FindCoordinator names the offsets partition's leader and the others answer
 * NOT_COORDINATOR, and after a SIGKILL of the coordinator's broker another broker takes over with
 * the committed offsets rebuilt from the replicated log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeBatch } from '../../record/record-batch.js';
import { RawClient } from '../broker/broker-process.js';
import { ClusterHarness } from '../fixtures/cluster-harness.js';
import { GroupsTestClient } from './groups-test-client.js';

const TOPIC = 'events';
const GROUP = 'g-cluster';

let cluster: ClusterHarness;

before(async () => {
  cluster = await ClusterHarness.start({
    brokers: 3,
    flags: ['--groups-offsets-partitions', '4', '--groups-initial-rebalance-delay-ms', '0', '--groups-min-session-timeout-ms', '200'],
  });
});

after(async () => {
  await cluster?.close();
});

/** Asks broker `id` for the group's coordinator until it names one (other than `except`). */
async function coordinatorOf(id: number, except = 0, timeoutMs = 30_000): Promise<number> {
  const client = new GroupsTestClient(cluster.broker(id).address);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await client.findCoordinator({ groupId: GROUP }).catch(() => undefined);
      // Until the survivors elect a new leader they may still name the dead one, as a client would
      // find when it cannot connect there and asks again.
      if (answer?.errorCode === 'NONE' && answer.coordinator!.nodeId !== except) return answer.coordinator!.nodeId;
      if (Date.now() > deadline) throw new Error(`no coordinator: ${answer?.errorCode} ${answer?.errorMessage}\n${cluster.logs(1500)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.close();
  }
}

describe('group coordinator in a cluster', { timeout: 120_000 }, () => {
  it('commits survive a SIGKILL of the coordinator', async () => {
    const raw = new RawClient(cluster.broker(1).address);
    const created = await raw.call('CreateTopics', { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 3 }] });
    assert.equal(created.results[0].errorCode, 'NONE', created.results[0].errorMessage);
    raw.close();
    const leader = await cluster.waitForLeader(TOPIC, 0);
    const producer = new RawClient(cluster.broker(leader).address);
    const batch = encodeBatch(Array.from({ length: 20 }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })), { nowMs: Date.now() });
    const produced = await producer.call('Produce', { acks: 'ACKS_ALL', topics: [{ name: TOPIC, partitions: [{ partition: 0, recordBatch: batch }] }] });
    assert.equal(produced.topics[0].partitions[0].errorCode, 'NONE');
    producer.close();

    const coordinator = await coordinatorOf(1);
    assert.equal(await coordinatorOf(2), coordinator, 'every broker names the same coordinator');
    const other = cluster.ids().find((id) => id !== coordinator)!;
    const elsewhere = new GroupsTestClient(cluster.broker(other).address);
    assert.equal((await elsewhere.offsetFetch({ groupId: GROUP })).errorCode, 'NOT_COORDINATOR');
    elsewhere.close();

    const groups = new GroupsTestClient(cluster.broker(coordinator).address);
    const joined = await GroupsTestClient.whileLoading(() => groups.joinGroup({ groupId: GROUP, sessionTimeoutMs: 10_000, groupInstanceId: 'i-1', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] }));
    assert.equal(joined.errorCode, 'NONE', joined.errorMessage);
    const synced = await groups.syncGroup({ groupId: GROUP, generationId: joined.generationId, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('all') }] });
    assert.equal(synced.errorCode, 'NONE', synced.errorMessage);
    const committed = await groups.offsetCommit({ groupId: GROUP, generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: 'i-1', topics: [{ name: TOPIC, partitions: [{ partition: 0, committedOffset: 15 }] }] });
    assert.equal(committed.errorCode, 'NONE', committed.errorMessage);
    assert.equal(committed.topics[0].partitions[0].errorCode, 'NONE', committed.topics[0].partitions[0].errorMessage);
    groups.close();

    await cluster.kill(coordinator);
    const survivor = cluster.ids().find((id) => id !== coordinator)!;
    const next = await coordinatorOf(survivor, coordinator);
    const moved = new GroupsTestClient(cluster.broker(next).address);
    try {
      const fetched = await GroupsTestClient.whileLoading(() => moved.offsetFetch({ groupId: GROUP, topics: [{ name: TOPIC, partitions: [0] }] }), 30_000);
      assert.equal(fetched.errorCode, 'NONE', fetched.errorMessage);
      assert.equal(fetched.topics[0].partitions[0].committedOffset, 15);
      // The static member carries on at the new coordinator without a rebalance.
      const beat = await moved.heartbeat({ groupId: GROUP, generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: 'i-1' });
      assert.equal(beat.errorCode, 'NONE', beat.errorMessage);
      // The data partition may be electing a leader too (its log end is -1, unknown, until then);
      // its log end counts the leader markers of elections besides the 20 records.
      let offset = (await moved.describeGroups({ groupIds: [GROUP], includeLag: true })).groups[0].offsets[0];
      for (let attempt = 0; attempt < 100 && offset.logEndOffset < 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        offset = (await moved.describeGroups({ groupIds: [GROUP], includeLag: true })).groups[0].offsets[0];
      }
      assert.equal(offset.committedOffset, 15);
      assert.ok(offset.logEndOffset >= 20, `log end ${offset.logEndOffset}`);
      assert.equal(offset.lag, offset.logEndOffset - 15);
    } finally {
      moved.close();
    }
  });

  it('clients may not produce to, grow, reconfigure or delete the offsets topic', async () => {
    const raw = new RawClient(cluster.broker(cluster.runningIds()[0]).address);
    try {
      assert.ok((await raw.call('Metadata', { topics: ['__consumer_offsets'] })).topics[0].partitions.length > 0, 'the offsets topic exists by now');
      const batch = encodeBatch([{ key: null, value: Buffer.from('forged') }], { nowMs: Date.now() });
      const produced = await raw.call('Produce', { acks: 'ACKS_ALL', topics: [{ name: '__consumer_offsets', partitions: [{ partition: 0, recordBatch: batch }] }] });
      assert.equal(produced.topics[0].partitions[0].errorCode, 'INVALID_TOPIC_EXCEPTION');
      const grown = await raw.call('CreatePartitions', { topics: [{ name: '__consumer_offsets', totalCount: 64 }] });
      assert.equal(grown.results[0].errorCode, 'INVALID_TOPIC_EXCEPTION');
      const altered = await raw.call('AlterTopicConfigs', { topics: [{ name: '__consumer_offsets', set: { 'retention.ms': '1' } }] });
      assert.equal(altered.results[0].errorCode, 'INVALID_TOPIC_EXCEPTION');
      const deleted = await raw.call('DeleteTopics', { names: ['__consumer_offsets'] });
      assert.equal(deleted.results[0].errorCode, 'INVALID_TOPIC_EXCEPTION');
      assert.ok((await raw.call('Metadata', { topics: ['__consumer_offsets'] })).topics[0].partitions.length > 0, 'still there');
    } finally {
      raw.close();
    }
  });
});
