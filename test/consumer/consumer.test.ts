import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, type ConsumerMessage } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import { startScriptedBroker, type ScriptedBroker } from '../client/fixtures/scripted-broker.js';

let broker: ScriptedBroker;
before(async () => {
  broker = await startScriptedBroker();
  broker.createTopic('events', 2);
  const producer = new Producer({ brokers: broker.address, batchBytes: 2_000 });
  await producer.connect();
  for (let partition = 0; partition < 2; partition++) {
    await producer.send({ topic: 'events', messages: Array.from({ length: 300 }, (_, i) => ({ value: `p${partition}-${i}`, partition, headers: { n: String(i) } })) });
  }
  await producer.disconnect();
});
after(() => broker.close());

async function take(consumer: Consumer, count: number): Promise<ConsumerMessage[]> {
  const messages: ConsumerMessage[] = [];
  if (count === 0) return messages;
  for await (const message of consumer) {
    messages.push(message);
    if (messages.length === count) break;
  }
  return messages;
}

test('for await reads assigned partitions from earliest, a number, or latest', async () => {
  const consumer = new Consumer({ brokers: broker.address, maxWaitMs: 50 });
  await consumer.connect();
  await consumer.assign([{ topic: 'events', partition: 0, offset: 'earliest' }, { topic: 'events', partition: 1, offset: 295 }]);
  const messages = await take(consumer, 305);
  const p0 = messages.filter((m) => m.partition === 0);
  const p1 = messages.filter((m) => m.partition === 1);
  assert.deepEqual(p0.map((m) => m.offset), Array.from({ length: 300 }, (_, i) => i));
  assert.deepEqual(p1.map((m) => m.value!.toString()), ['p1-295', 'p1-296', 'p1-297', 'p1-298', 'p1-299']);
  assert.equal(p0[7].headers[0].value!.toString(), '7');
  assert.equal(consumer.position('events', 0), 300);
  await consumer.assign([{ topic: 'events', partition: 0, offset: 'latest' }]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(consumer.position('events', 0), 300, 'latest is the end of the log');
  await consumer.disconnect();
});

test('seek moves a partition; pause stops delivery until resume', async () => {
  const consumer = new Consumer({ brokers: broker.address, maxWaitMs: 50 });
  await consumer.connect();
  await consumer.assign([{ topic: 'events', partition: 0, offset: 0 }]);
  const first = await take(consumer, 10);
  assert.deepEqual(first.map((m) => m.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  consumer.seek({ topic: 'events', partition: 0, offset: 250 });
  const afterSeek = await take(consumer, 3);
  assert.deepEqual(afterSeek.map((m) => m.offset), [250, 251, 252]);

  await consumer.assign([{ topic: 'events', partition: 1, offset: 0 }]);
  consumer.pause([{ topic: 'events', partitions: [0] }]);
  assert.deepEqual(consumer.paused(), [{ topic: 'events', partition: 0 }]);
  const whilePaused = await take(consumer, 300);
  assert.ok(whilePaused.every((m) => m.partition === 1), 'nothing from the paused partition');
  consumer.resume([{ topic: 'events' }]);
  const resumed = await take(consumer, 47);
  assert.deepEqual(resumed.map((m) => m.offset), Array.from({ length: 47 }, (_, i) => 253 + i));
  await consumer.disconnect();
});

test('prefetch is bounded in bytes', async () => {
  const maxPrefetchBytes = 4_000;
  const consumer = new Consumer({ brokers: broker.address, maxWaitMs: 50, maxPrefetchBytes, maxBytesPerPartition: 1_000 });
  await consumer.connect();
  await consumer.assign([{ topic: 'events', partition: 0, offset: 0 }, { topic: 'events', partition: 1, offset: 0 }]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const buffered = (consumer as unknown as { bufferedBytes: number }).bufferedBytes;
  assert.ok(buffered > 0, 'something was prefetched');
  // The broker may send one batch past the limit per partition (a consumer must make progress).
  assert.ok(buffered <= maxPrefetchBytes + 2 * 2_000 * 2, `buffered ${buffered} bytes stays near the bound`);
  const all = await take(consumer, 600);
  assert.equal(all.length, 600);
  await consumer.disconnect();
});

test('run with eachBatch hands over per-partition batches; a throwing handler stops run and rewinds', async () => {
  const consumer = new Consumer({ brokers: broker.address, maxWaitMs: 50 });
  await consumer.connect();
  await consumer.assign([{ topic: 'events', partition: 1, offset: 0 }]);
  let seen = 0;
  const running = consumer.run({
    eachBatch: async ({ batch }) => {
      assert.equal(batch.partition, 1);
      assert.equal(batch.messages[0].offset, seen, 'batches continue where the last ended');
      seen += batch.messages.length;
      if (seen === 300) void consumer.disconnect();
    },
  });
  await running;
  assert.equal(seen, 300);

  const failing = new Consumer({ brokers: broker.address, maxWaitMs: 50 });
  await failing.connect();
  await failing.assign([{ topic: 'events', partition: 0, offset: 5 }]);
  await assert.rejects(failing.run({ eachMessage: ({ message }) => { if (message.offset === 8) throw new Error('handler failed'); } }), /handler failed/);
  assert.equal(failing.position('events', 0), 8, 'the failed message is not consumed');
  const again = await take(failing, 1);
  assert.equal(again[0].offset, 8);
  await failing.disconnect();
});
