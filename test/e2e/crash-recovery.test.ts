import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '../../producer/producer.js';
import { Consumer } from '../../consumer/consumer.js';
import { Admin } from '../../client/admin.js';
import { makeDataDir, removeDataDir, startBrokerProcess } from './broker-process.js';

test('after SIGKILL and restart every acks=all record is still there', { timeout: 90_000 }, async () => {
  const dataDir = makeDataDir();
  let broker = await startBrokerProcess(dataDir);
  const port = broker.port;
  let liveConsumer: Consumer | undefined;
  try {
    const topic = 'durable';
    const partitions = 3;
    const admin = new Admin({ brokers: broker.address });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
    await admin.disconnect();

    // A consumer reads along the whole time, across the crash: it must reconnect and continue
    // where it was, never seeing a record twice or one that the restart lost.
    liveConsumer = new Consumer({ brokers: broker.address, maxWaitMs: 100, retry: { initialRetryMs: 50, maxRetryMs: 500 } });
    await liveConsumer.connect();
    await liveConsumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
    const liveSeen = new Map<string, string>();
    const lastOffset = [-1, -1, -1];
    const liveReading = (async () => {
      for await (const message of liveConsumer) {
        assert.ok(message.offset > lastOffset[message.partition], 'offsets only grow per partition');
        lastOffset[message.partition] = message.offset;
        liveSeen.set(`${message.partition}/${message.offset}`, message.value!.toString());
      }
    })();

    // Produce continuously; the broker is killed while sends are in flight.
    const producer = new Producer({ brokers: broker.address, acks: 'all', retry: { retries: 0 }, deliveryTimeoutMs: 5_000, requestTimeoutMs: 5_000 });
    await producer.connect();
    const acknowledged = new Map<string, string>(); // "partition/offset" -> value
    let sequence = 0;
    let stopProducing = false;
    const sendLoop = (async () => {
      while (!stopProducing) {
        const messages = Array.from({ length: 200 }, () => ({ key: `k${sequence % 101}`, value: `record-${sequence++}` }));
        try {
          const results = await producer.send({ topic, messages });
          results.forEach((r, i) => acknowledged.set(`${r.partition}/${r.offset}`, messages[i].value));
        } catch {
          // Sends in flight when the broker died fail; their records may or may not be stored.
          await sleep(20);
        }
      }
    })();
    while (acknowledged.size < 5_000) await sleep(20);
    await broker.kill();
    await sleep(200);
    stopProducing = true;
    await sendLoop;
    await producer.disconnect().catch(() => undefined);
    const ackedBeforeKill = acknowledged.size;
    assert.ok(ackedBeforeKill >= 5_000);

    broker = await startBrokerProcess(dataDir, port);
    const consumer = new Consumer({ brokers: broker.address, maxWaitMs: 100 });
    await consumer.connect();
    await consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
    const admin2 = new Admin({ brokers: broker.address });
    await admin2.connect();
    const ends = await admin2.listOffsets(topic, 'latest');
    await admin2.disconnect();
    const stored = ends.reduce((n, e) => n + e.offset, 0);
    assert.ok(stored >= ackedBeforeKill, `${stored} records stored, ${ackedBeforeKill} acknowledged`);
    let found = 0;
    let read = 0;
    for await (const message of consumer) {
      const expected = acknowledged.get(`${message.partition}/${message.offset}`);
      if (expected !== undefined) {
        assert.equal(message.value!.toString(), expected, `record at ${message.partition}/${message.offset}`);
        found++;
      }
      if (++read === stored) break;
    }
    await consumer.disconnect();
    assert.equal(found, ackedBeforeKill, 'every acknowledged record was consumed back');

    // The consumer that lived through the crash caught up with the same log.
    const deadlineMs = Date.now() + 30_000;
    while (liveSeen.size < stored && Date.now() < deadlineMs) await sleep(50);
    await liveConsumer.disconnect();
    await liveReading;
    assert.equal(liveSeen.size, stored, 'the live consumer read every stored record once');
    for (const [key, value] of acknowledged) assert.equal(liveSeen.get(key), value, `live consumer has ${key}`);
  } finally {
    await liveConsumer?.disconnect();
    await broker.stop();
    removeDataDir(dataDir);
  }
});
