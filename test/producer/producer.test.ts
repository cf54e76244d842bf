import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Producer } from '../../producer/producer.js';
import { partitionForKey } from '../../producer/murmur2.js';
import { BrokerError, StateError } from '../../client/errors.js';
import { decodeBatch } from '../../record/record-batch.js';
import { startScriptedBroker, type ScriptedBroker } from '../client/fixtures/scripted-broker.js';

let broker: ScriptedBroker;
before(async () => {
  broker = await startScriptedBroker();
});
after(() => broker.close());

const fastRetry = { retries: 5, initialRetryMs: 10, maxRetryMs: 50, multiplier: 2, jitterFactor: 0.2, maxRetryTimeMs: 5_000 };

function storedValues(topic: string, partition: number): string[] {
  const values: string[] = [];
  for (const bytes of broker.logs.get(topic)![partition]) {
    for (let pos = 0; pos < bytes.length;) {
      const decoded = decodeBatch(bytes, pos);
      for (const record of decoded.records) values.push(record.value!.toString());
      pos += decoded.size;
    }
  }
  return values;
}

test('send resolves every record\'s partition and offset; keys land where murmur2 puts them', async () => {
  broker.createTopic('keyed', 4);
  const producer = new Producer({ brokers: broker.address, retry: fastRetry });
  await producer.connect();
  const messages = Array.from({ length: 200 }, (_, i) => ({ key: `key-${i % 17}`, value: `v${i}` }));
  const results = await producer.send({ topic: 'keyed', messages });
  assert.equal(results.length, 200);
  const nextOffset = [0, 0, 0, 0];
  for (let i = 0; i < 200; i++) {
    const expected = partitionForKey(Buffer.from(`key-${i % 17}`), 4);
    assert.equal(results[i].partition, expected);
    assert.equal(results[i].offset, nextOffset[expected]++, 'offsets are consecutive per partition, in send order');
  }
  for (let p = 0; p < 4; p++) {
    const values = storedValues('keyed', p);
    assert.deepEqual(values, results.map((r, i) => ({ r, i })).filter(({ r }) => r.partition === p).map(({ i }) => `v${i}`));
  }
  // Four partitions on one broker travelled together.
  assert.ok(broker.produceRequests.some((request) => request.length > 1), 'one Produce request carries many partitions');
  await producer.disconnect();
  await assert.rejects(producer.send({ topic: 'keyed', messages }), StateError);
});

test('bulk data for several partitions goes out as several requests in flight at once', async () => {
  broker.createTopic('bulk', 4);
  const producer = new Producer({ brokers: broker.address, retry: fastRetry, maxInFlightRequestsPerBroker: 5 });
  await producer.connect();
  const requestsBefore = broker.produceRequests.length;
  const value = Buffer.alloc(1000, 0x62);
  // 300 records of 1 KB per partition: each partition's data alone passes the spread threshold.
  const messages = Array.from({ length: 1200 }, (_, i) => ({ value, partition: i % 4 }));
  const results = await producer.send({ topic: 'bulk', messages });
  assert.equal(results.length, 1200);
  const requests = broker.produceRequests.slice(requestsBefore);
  assert.equal(requests.length, 4, 'one request per partition');
  assert.deepEqual(requests.map((request) => request.map((p) => p.partition)).flat().sort(), [0, 1, 2, 3]);
  for (let p = 0; p < 4; p++) assert.equal(storedValues('bulk', p).length, 300);
  await producer.disconnect();
});

test('an explicit partition and a custom partitioner are honoured', async () => {
  broker.createTopic('custom', 3);
  const producer = new Producer({ brokers: broker.address, partitioner: ({ value }) => (value!.length % 3) });
  await producer.connect();
  const results = await producer.send({ topic: 'custom', messages: [{ value: 'a' }, { value: 'bb' }, { value: 'ccc' }, { value: 'x', partition: 2 }] });
  assert.deepEqual(results.map((r) => r.partition), [1, 2, 0, 2]);
  await producer.disconnect();
});

test('send waits when buffer memory is full (backpressure) and resumes as acks free it', async () => {
  broker.createTopic('slow', 1);
  let releaseAcks!: () => void;
  const acksReleased = new Promise<void>((resolve) => { releaseAcks = resolve; });
  broker.onProduce = () => acksReleased.then(() => undefined);
  const bufferMemoryBytes = 20_000;
  const producer = new Producer({ brokers: broker.address, bufferMemoryBytes, batchBytes: 4_000, retry: fastRetry });
  await producer.connect();
  const value = Buffer.alloc(1_000, 1);
  let secondDone = false;
  const first = producer.send({ topic: 'slow', messages: Array.from({ length: 15 }, () => ({ value })) });
  const second = producer.send({ topic: 'slow', messages: Array.from({ length: 15 }, () => ({ value })) }).then((r) => { secondDone = true; return r; });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(secondDone, false, 'the second send is still waiting for memory');
  const requestsBefore = broker.produceRequests.length;
  assert.ok(requestsBefore > 0, 'full batches were sent while waiting');
  releaseAcks();
  const [a, b] = await Promise.all([first, second]);
  broker.onProduce = null;
  assert.deepEqual([...a, ...b].map((r) => r.offset), Array.from({ length: 30 }, (_, i) => i));
  assert.equal(storedValues('slow', 0).length, 30);
  await producer.disconnect();
});

test('retriable errors are retried in order; errors that are not retriable fail the send at once', async () => {
  broker.createTopic('flaky', 1);
  let failuresLeft = 2;
  broker.onProduce = () => (failuresLeft-- > 0 ? 'NOT_LEADER_OR_FOLLOWER' : undefined);
  const producer = new Producer({ brokers: broker.address, retry: fastRetry });
  await producer.connect();
  const results = await producer.send({ topic: 'flaky', messages: [{ value: 'one' }, { value: 'two' }] });
  assert.deepEqual(results.map((r) => r.offset), [0, 1]);
  assert.deepEqual(storedValues('flaky', 0), ['one', 'two'], 'stored once, despite two failed attempts');

  const requestsBefore = broker.produceRequests.length;
  broker.onProduce = () => 'MESSAGE_TOO_LARGE';
  await assert.rejects(producer.send({ topic: 'flaky', messages: [{ value: 'big' }] }), (error: unknown) => error instanceof BrokerError && error.code === 'MESSAGE_TOO_LARGE');
  assert.equal(broker.produceRequests.length, requestsBefore + 1, 'no retry');
  broker.onProduce = null;
  await producer.disconnect();
});

test('many batches of a partition travel together and keep their order through retries', async () => {
  broker.createTopic('ordered', 2);
  let failuresLeft = 3;
  broker.onProduce = () => (failuresLeft-- > 0 ? 'LEADER_NOT_AVAILABLE' : undefined);
  const producer = new Producer({ brokers: broker.address, batchBytes: 300, lingerMs: 20, retry: fastRetry });
  await producer.connect();
  const sends = [];
  for (let i = 0; i < 10; i++) {
    sends.push(producer.send({ topic: 'ordered', messages: Array.from({ length: 20 }, (_, j) => ({ value: `m${i * 20 + j}`, partition: j % 2 })) }));
  }
  const results = (await Promise.all(sends)).flat();
  broker.onProduce = null;
  for (const partition of [0, 1]) {
    const expected = results.map((r, i) => ({ r, i })).filter(({ r }) => r.partition === partition);
    assert.deepEqual(expected.map(({ r }) => r.offset), expected.map((_, k) => k), 'offsets follow send order');
    assert.deepEqual(storedValues('ordered', partition), expected.map(({ i }) => `m${i}`));
  }
  const multiBatch = broker.produceRequests.some((request) => request.some((p) => p.topic === 'ordered' && p.bytes > 400));
  assert.ok(multiBatch, 'a request carried several batches of one partition');
  await producer.disconnect();
});

test('flush sends lingering batches at once', async () => {
  broker.createTopic('linger', 1);
  const producer = new Producer({ brokers: broker.address, lingerMs: 60_000 });
  await producer.connect();
  const sending = producer.send({ topic: 'linger', messages: [{ value: 'waiting' }] });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(storedValues('linger', 0).length, 0, 'lingering');
  await producer.flush();
  assert.deepEqual(await sending, [{ topic: 'linger', partition: 0, offset: 0 }]);
  await producer.disconnect();
});
