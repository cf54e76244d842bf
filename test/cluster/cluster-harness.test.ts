/**
 * The harness itself, with independent single brokers (no peers): start, produce, SIGKILL and
 * restart on the same port and data dir, pause and resume, close without leftovers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Producer } from '../../producer/producer.js';
import { Admin } from '../../client/admin.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { ClusterHarness } from '../fixtures/cluster-harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('harness: start, kill, restart with the same data, pause, resume, close leaves nothing behind', { timeout: 60_000 }, async () => {
  const harness = await ClusterHarness.start({ brokers: 2, mode: 'single', logLevel: 'warn' });
  const pids: number[] = [];
  try {
    assert.equal(harness.bootstrap.length, 2);
    const broker = harness.broker(1);
    assert.equal(broker.state, 'running');
    pids.push(broker.pid!, harness.broker(2).pid!);

    const admin = new Admin({ brokers: broker.address, retry: { ...DEFAULT_RETRY, retries: 20, initialRetryMs: 50, maxRetryMs: 500 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 1 }] });
    const producer = new Producer({ brokers: broker.address, acks: 'all' });
    await producer.connect();
    await producer.send({ topic: 'kept', messages: Array.from({ length: 100 }, (_, i) => ({ value: `v${i}` })) });
    await producer.disconnect();

    assert.equal(await harness.kill(1), 'SIGKILL');
    assert.equal(harness.broker(1).state, 'stopped');
    assert.ok(!alive(pids[0]));
    await harness.restart(1);
    assert.equal(harness.broker(1).starts, 2);
    assert.equal(harness.broker(1).address, broker.address, 'same client port after restart');
    pids.push(harness.broker(1).pid!);
    const [end] = await admin.listOffsets('kept', 'latest');
    assert.equal(end.offset, 100, 'the restarted broker has its data dir back');
    await admin.disconnect();

    harness.pause(2);
    await assert.rejects(harness.metadataOf(2, [], 500), 'a paused broker does not answer');
    harness.resume(2);
    const metadata = await harness.metadataOf(2);
    assert.equal(metadata.brokers.length, 1);
    assert.match(harness.output(1), /\[exit SIGKILL\]/);
  } finally {
    const codes = await harness.close();
    assert.deepEqual([...codes.values()], [0, 0], 'SIGTERM ends each broker cleanly');
  }
  for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone`);
  assert.ok(!existsSync(harness.rootDir), 'the temporary directory is removed');
});

test('harness: a broker that cannot start fails start() with its output, and leaves nothing', { timeout: 30_000 }, async () => {
  await assert.rejects(
    ClusterHarness.start({ brokers: 1, mode: 'single', flags: ['--num-partitions', 'lots'] }),
    (error: Error) => /broker 1 exited/.test(error.message) && /num-partitions|num\.partitions/.test(error.message),
  );
});
