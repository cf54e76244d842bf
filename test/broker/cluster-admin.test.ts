/**
 * The cluster administration RPCs on a single broker: DescribeCluster shows that broker alone;
 * ReassignPartitions and DecommissionBroker are refused with INVALID_REQUEST and a reason, and
 * change nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brokerPerFile } from './broker-process.js';

const running = brokerPerFile(['--node-id', '7'], async ({ client }) => {
  const created = await client.call('CreateTopics', { topics: [{ name: 'moved', numPartitions: 2 }] });
  assert.equal(created.results[0].errorCode, 'NONE');
});

describe('cluster administration on a single broker', { timeout: 30_000 }, () => {
  it('DescribeCluster shows this broker, live, controller, holding and leading every partition', async () => {
    const response = await running.client.call('DescribeCluster', {});
    const [host, port] = running.broker.address.split(':');
    assert.equal(response.controllerId, 7);
    assert.deepEqual(response.controllerVoterIds, [7]);
    assert.ok(response.clusterId.length > 0);
    assert.equal(response.brokers.length, 1);
    const [self] = response.brokers;
    assert.deepEqual(self.broker, { nodeId: 7, host, port: Number(port), rack: '' });
    assert.equal(self.state, 'LIVE');
    assert.equal(self.replicaCount, 2);
    assert.equal(self.leaderCount, 2);
    const metadata = await running.client.call('Metadata', { topics: [] });
    assert.equal(response.clusterId, metadata.clusterId, 'the same cluster id as Metadata');
  });

  it('ReassignPartitions is refused per partition, in request order', async () => {
    const response = await running.client.call('ReassignPartitions', {
      reassignments: [
        { topic: 'moved', partition: 1, replicaIds: [7, 8] },
        { topic: 'missing', partition: 0, replicaIds: [7] },
      ],
    });
    assert.deepEqual(response.results.map((result: { topic: string; partition: number; errorCode: string }) => [result.topic, result.partition, result.errorCode]), [
      ['moved', 1, 'INVALID_REQUEST'],
      ['missing', 0, 'INVALID_REQUEST'],
    ]);
    assert.match(response.results[0].errorMessage, /runs alone/);
    const described = await running.client.call('DescribeTopics', { names: ['moved'] });
    assert.deepEqual(described.topics[0].partitions[1].replicaIds, [7], 'nothing moved');
    assert.deepEqual(described.topics[0].partitions[1].targetReplicaIds, []);
  });

  it('DecommissionBroker is refused with a reason', async () => {
    const response = await running.client.call('DecommissionBroker', { nodeId: 7 });
    assert.equal(response.errorCode, 'INVALID_REQUEST');
    assert.match(response.errorMessage, /cluster\.peers/);
    assert.equal(response.partitionsMoved, 0);
    const cluster = await running.client.call('DescribeCluster', {});
    assert.equal(cluster.brokers[0].state, 'LIVE');
  });

  it('Metadata still reports this broker as leader of every partition with its address', async () => {
    const metadata = await running.client.call('Metadata', { topics: ['moved'] });
    const [host, port] = running.broker.address.split(':');
    assert.deepEqual(metadata.brokers, [{ nodeId: 7, host, port: Number(port), rack: '' }]);
    assert.equal(metadata.controllerId, 7);
    for (const partition of metadata.topics[0].partitions) {
      assert.equal(partition.errorCode, 'NONE');
      assert.equal(partition.leaderId, 7);
      assert.deepEqual(partition.replicaIds, [7]);
    }
  });
});
