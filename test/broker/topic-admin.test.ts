/**
 * Topic administration through a real broker: create, describe, alter configs, add partitions,
 * delete; each refusal with its code; and the metadata surviving a restart.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeBatch, iterateRecords } from '../../record/record-batch.js';
import { makeDataDir, RawClient, removeDir, startBrokerProcess, type BrokerProcess } from './broker-process.js';

let broker: BrokerProcess;
let client: RawClient;
let dataDir: string;

before(async () => {
  dataDir = makeDataDir();
  broker = await startBrokerProcess(dataDir, ['--num-partitions', '2']);
  client = new RawClient(broker.address);
});

after(async () => {
  client?.close();
  await broker?.stop('SIGTERM');
  removeDir(dataDir);
});

function codes(response: { results: Array<{ errorCode: string }> }): string[] {
  return response.results.map((result) => result.errorCode);
}

async function describeTopic(name: string) {
  const response = await client.call('DescribeTopics', { names: [name] });
  return response.topics[0];
}

function configValue(topic: { configs: Array<{ name: string; value: string; isDefault: boolean }> }, name: string) {
  return topic.configs.find((entry) => entry.name === name);
}

describe('topic administration', { timeout: 60_000 }, () => {
  it('creates topics, with per-topic results and refusals', async () => {
    const response = await client.call('CreateTopics', {
      topics: [
        { name: 'orders', numPartitions: 4, configs: { 'retention.ms': '3600000' } },
        { name: 'defaults' },
        { name: 'orders', numPartitions: 1 },
        { name: 'zero', numPartitions: -1 },
        { name: 'replicated', numPartitions: 1, replicationFactor: 3 },
        { name: 'bad-config', configs: { 'retention.ms': 'soon' } },
        { name: 'unknown-config', configs: { 'no.such.setting': '1' } },
        { name: 'too-many', numPartitions: 1_000_000 },
      ],
    });
    assert.deepEqual(codes(response), [
      'NONE',
      'NONE',
      'TOPIC_ALREADY_EXISTS',
      'INVALID_PARTITIONS',
      'INVALID_REPLICATION_FACTOR',
      'INVALID_CONFIG',
      'INVALID_CONFIG',
      'INVALID_PARTITIONS',
    ]);
    const validateOnly = await client.call('CreateTopics', { topics: [{ name: 'dry-run' }], validateOnly: true });
    assert.deepEqual(codes(validateOnly), ['NONE']);
    assert.equal((await describeTopic('dry-run')).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION', 'validate_only creates nothing');

    const orders = await describeTopic('orders');
    assert.equal(orders.errorCode, 'NONE');
    assert.equal(orders.partitions.length, 4);
    assert.deepEqual(configValue(orders, 'retention.ms'), { name: 'retention.ms', value: '3600000', isDefault: false });
    assert.equal(configValue(orders, 'segment.bytes')?.isDefault, true);
    assert.equal((await describeTopic('defaults')).partitions.length, 2, 'num.partitions applies when 0 is asked');
  });

  it('describes all topics when none are named', async () => {
    const response = await client.call('DescribeTopics', {});
    const names = response.topics.map((topic: { name: string }) => topic.name);
    assert.ok(names.includes('orders') && names.includes('defaults'));
    assert.deepEqual(names, [...names].sort());
  });

  it('alters topic configs incrementally and keeps the data', async () => {
    await client.call('Produce', { topics: [{ name: 'orders', partitions: [{ partition: 0, recordBatch: encodeBatch([{ key: null, value: Buffer.from('kept') }], { nowMs: 1 }) }] }] });
    const altered = await client.call('AlterTopicConfigs', {
      topics: [
        { name: 'orders', set: { 'message.timestamp.type': 'LogAppendTime', 'segment.bytes': '1048576' }, remove: ['retention.ms'] },
        { name: 'nope', set: { 'retention.ms': '1' } },
        { name: 'defaults', set: { 'flush.policy': 'sometimes' } },
      ],
    });
    assert.deepEqual(codes(altered), ['NONE', 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_CONFIG']);
    const orders = await describeTopic('orders');
    assert.equal(configValue(orders, 'retention.ms')?.isDefault, true);
    assert.equal(configValue(orders, 'message.timestamp.type')?.value, 'LogAppendTime');

    const before = Date.now();
    const produced = await client.call('Produce', { topics: [{ name: 'orders', partitions: [{ partition: 0, records: [{ value: Buffer.from('stamped'), timestampMs: 5 }] }] }] });
    const result = produced.topics[0].partitions[0];
    assert.equal(result.errorCode, 'NONE', result.errorMessage);
    assert.ok(result.logAppendTimeMs >= before, 'the new config is in force: LogAppendTime');
    const fetched = await client.call('Fetch', { decodeRecords: true, topics: [{ name: 'orders', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    const records = fetched.topics[0].partitions[0].records;
    assert.deepEqual(records.map((r: { value: Buffer }) => r.value.toString()), ['kept', 'stamped']);
    assert.equal(records[1].timestampType, 'LOG_APPEND_TIME');
    assert.equal(records[1].timestampMs, result.logAppendTimeMs);
  });

  it('adds partitions, only ever more', async () => {
    const response = await client.call('CreatePartitions', {
      topics: [
        { name: 'defaults', totalCount: 5 },
        { name: 'orders', totalCount: 2 },
        { name: 'nope', totalCount: 3 },
      ],
    });
    assert.deepEqual(codes(response), ['NONE', 'INVALID_PARTITIONS', 'UNKNOWN_TOPIC_OR_PARTITION']);
    assert.equal((await describeTopic('defaults')).partitions.length, 5);
    const produced = await client.call('Produce', { topics: [{ name: 'defaults', partitions: [{ partition: 4, records: [{ value: Buffer.from('new partition') }] }] }] });
    assert.equal(produced.topics[0].partitions[0].errorCode, 'NONE');
  });

  it('deletes topics and their data; a recreated topic starts empty', async () => {
    await client.call('Produce', { topics: [{ name: 'doomed', partitions: [{ partition: 0, records: [{ value: Buffer.from('old') }] }] }] });
    const before = await describeTopic('doomed');
    const response = await client.call('DeleteTopics', { names: ['doomed', 'nope'] });
    assert.deepEqual(codes(response), ['NONE', 'UNKNOWN_TOPIC_OR_PARTITION']);
    assert.equal((await describeTopic('doomed')).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.ok(!existsSync(join(dataDir, 'topics', 'doomed-0')), 'the partition directory is gone');

    await client.call('Produce', { topics: [{ name: 'doomed', partitions: [{ partition: 0, records: [{ value: Buffer.from('new') }] }] }] });
    const after = await describeTopic('doomed');
    assert.notEqual(after.topicId, before.topicId, 'a new incarnation gets a new id');
    const fetched = await client.call('Fetch', { topics: [{ name: 'doomed', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    assert.deepEqual([...iterateRecords(fetched.topics[0].partitions[0].recordBatches)].map((r) => r.value!.toString()), ['new']);
  });

  it('keeps topics, partitions and configs across a restart', async () => {
    const cluster = (await client.call('Metadata', {})).clusterId;
    client.close();
    assert.equal(await broker.stop('SIGTERM'), 0);
    broker = await startBrokerProcess(dataDir, ['--num-partitions', '2', '--advertised-listener', 'brook-1.example:19092']);
    client = new RawClient(broker.address);
    const metadata = await client.call('Metadata', {});
    assert.equal(metadata.clusterId, cluster, 'the cluster id is stable');
    assert.deepEqual([metadata.brokers[0].host, metadata.brokers[0].port], ['brook-1.example', 19092], 'the advertised listener is what clients are told');
    const orders = await describeTopic('orders');
    assert.equal(orders.partitions.length, 4);
    assert.equal(configValue(orders, 'message.timestamp.type')?.value, 'LogAppendTime');
    assert.equal((await describeTopic('defaults')).partitions.length, 5);
  });
});
