import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Producer, type RecordMetadata } from '../../producer/producer.js';
import { Consumer } from '../../consumer/consumer.js';
import { Admin } from '../../client/admin.js';
import { partitionForKey } from '../../producer/murmur2.js';
import { brokerPerFile } from './broker-process.js';

const broker = brokerPerFile();

test('100k keyed records over 4 partitions come back identical and in order per partition', { timeout: 90_000 }, async () => {
  const topic = 'keyed-100k';
  const partitions = 4;
  const admin = new Admin({ brokers: broker.address });
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();

  const total = 100_000;
  const producer = new Producer({ brokers: broker.address, acks: 'all', compression: 'lz4', lingerMs: 2 });
  await producer.connect();
  const sent: Array<Array<{ key: string; value: string; offset: number }>> = Array.from({ length: partitions }, () => []);
  const chunk = 5_000;
  const sends: Array<Promise<void>> = [];
  for (let start = 0; start < total; start += chunk) {
    const messages = Array.from({ length: chunk }, (_, j) => ({ key: `key-${(start + j) % 997}`, value: `value-${start + j}-${'x'.repeat((start + j) % 50)}`, headers: { seq: String(start + j) } }));
    sends.push(producer.send({ topic, messages }).then((results: RecordMetadata[]) => {
      results.forEach((result, j) => {
        assert.equal(result.partition, partitionForKey(Buffer.from(messages[j].key), partitions));
        sent[result.partition].push({ key: messages[j].key, value: messages[j].value, offset: result.offset });
      });
    }));
  }
  await Promise.all(sends);
  await producer.disconnect();
  for (const list of sent) list.sort((a, b) => a.offset - b.offset);
  assert.equal(sent.reduce((n, list) => n + list.length, 0), total);

  const consumer = new Consumer({ brokers: broker.address, maxWaitMs: 100 });
  await consumer.connect();
  await consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
  const received: Array<Array<{ key: string; value: string; offset: number }>> = Array.from({ length: partitions }, () => []);
  let count = 0;
  for await (const message of consumer) {
    received[message.partition].push({ key: message.key!.toString(), value: message.value!.toString(), offset: message.offset });
    if (++count === total) break;
  }
  await consumer.disconnect();
  for (let p = 0; p < partitions; p++) {
    assert.ok(sent[p].length > 0, `partition ${p} got records`);
    assert.deepEqual(received[p], sent[p], `partition ${p} is identical and in order`);
  }
});
