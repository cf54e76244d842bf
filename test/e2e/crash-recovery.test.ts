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
  try {
    const topic = 'durable';
    const partitions = 3;
    const admin = new Admin({ brokers: broker.address });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
    await admin.disconnect();

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
  } finally {
    await broker.stop();
    removeDataDir(dataDir);
  }
});
