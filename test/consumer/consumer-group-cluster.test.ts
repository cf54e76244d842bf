/**
 * Consumer groups on three real brokers (test/fixtures/cluster-harness.ts): the offsets topic is
 * Raft-replicated, so a SIGKILL of the coordinator's broker loses no commit and the group carries
 * on with the new coordinator; four members share a 12-partition RF=3 topic; a SIGKILLed member
 * is replaced in time; lag stays log end minus committed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../../client/admin.js';
import { GroupsClient } from '../../client/groups-client.js';
import { Consumer } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import { ClusterHarness } from '../fixtures/cluster-harness.js';

const SESSION_TIMEOUT_MS = 4_000;
const REBALANCE_TIMEOUT_MS = 4_000;
const PARTITIONS = 12;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('three brokers: 4 members share 12 partitions; SIGKILL of the coordinator\'s broker loses no commit and the group carries on', async () => {
  const cluster = await ClusterHarness.start({ brokers: 3, logLevel: 'warn', proxies: false, flags: ['--groups-initial-rebalance-delay-ms', '100'] });
  const admin = new Admin({ brokers: cluster.bootstrap });
  const groups = new GroupsClient(admin.cluster);
  const consumers: Consumer[] = [];
  const runs: Promise<void>[] = [];
  let producer: Producer | undefined;
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: PARTITIONS, replicationFactor: 3 }] });
    await cluster.leadersOf('orders', PARTITIONS);
    producer = new Producer({ brokers: cluster.bootstrap, lingerMs: 5 });
    await producer.connect();
    let produced = 0;
    const produce = async (count: number) => {
      const messages = Array.from({ length: count }, () => ({ value: String(produced++) }));
      await producer!.send({ topic: 'orders', messages });
    };
    await produce(1_200);

    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const consumer = new Consumer({
        brokers: cluster.bootstrap, groupId: 'billing', maxWaitMs: 100, sessionTimeoutMs: SESSION_TIMEOUT_MS,
        rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS, heartbeatIntervalMs: 300, autoCommitIntervalMs: 200,
        retry: { retries: 20, maxRetryTimeMs: 60_000 },
      });
      await consumer.connect();
      consumer.subscribe({ topics: ['orders'], fromBeginning: true });
      consumers.push(consumer);
      runs.push(consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) }));
    }
    await until(() => seen.size === 1_200, 'the first 1,200 records');
    const owned = consumers.map((c) => c.assignment().map((p) => p.partition));
    assert.deepEqual(owned.flat().sort((a, b) => a - b), Array.from({ length: PARTITIONS }, (_, i) => i), `distinct and covering: ${JSON.stringify(owned)}`);

    // Every record committed, then the coordinator's broker dies.
    await until(async () => (await groups.describeGroup('billing')).offsets.reduce((sum, o) => sum + o.committedOffset, 0) >= 1_200, 'commits of all 1,200');
    const before = await groups.describeGroup('billing');
    const coordinatorAddress = await groups.coordinatorOf('billing');
    const coordinatorId = cluster.ids().find((id) => cluster.broker(id).address === coordinatorAddress)!;
    assert.ok(coordinatorId !== undefined, `coordinator ${coordinatorAddress} is one of the brokers`);
    await cluster.kill(coordinatorId);

    // Commits survive on the new coordinator; the group goes on consuming what comes next.
    await until(async () => {
      try {
        const now = await groups.describeGroup('billing');
        return now.offsets.length === PARTITIONS;
      } catch {
        return false;
      }
    }, 'a new coordinator answering', 60_000);
    const after = await groups.describeGroup('billing');
    for (const offset of before.offsets) {
      const now = after.offsets.find((o) => o.partition === offset.partition)!;
      assert.ok(now.committedOffset >= offset.committedOffset, `partition ${offset.partition}: committed ${now.committedOffset} after, ${offset.committedOffset} before`);
    }
    await produce(600);
    await until(() => seen.size === 1_800, 'the records produced after the failover', 60_000);
    await until(async () => (await groups.describeGroup('billing')).offsets.reduce((sum, o) => sum + o.committedOffset, 0) >= 1_800, 'commits of all 1,800', 30_000);
    const final = await groups.describeGroup('billing');
    for (const offset of final.offsets) assert.equal(offset.lag, offset.logEndOffset - offset.committedOffset);
    assert.ok(cluster.runningIds().length === 2);
  } finally {
    for (const consumer of consumers) await consumer.disconnect();
    await Promise.allSettled(runs);
    await producer?.disconnect();
    groups.close();
    await admin.disconnect();
    await cluster.close();
  }
});
