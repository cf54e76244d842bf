/**
 * Three broker processes, an RF=3 topic of three partitions, keyed records produced with
 * acks=all while the leader of each partition in turn is SIGKILLed and restarted. Afterwards
 * every acknowledged record is there, in send order, on every replica, and the replicas' files
 * are byte-identical below the high watermark. The run is recorded as a chaos history and checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin } from '../../client/admin.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { Producer } from '../../producer/producer.js';
import { ClusterHarness, disconnectWithin, waitUntil } from '../fixtures/cluster-harness.js';
import { assertAcknowledgedInSendOrder, ClusterHistory } from './cluster-history.js';
import { produceRecords, sequenceOf } from './cluster-workload.js';

/**
 * The 50k records (BROOK_CLUSTER_RECORDS overrides). The load goes on until the last
 * kill is over, so the run's length is set by the three kill-and-restart rounds (about 25 s on an
 * idle 2-core machine) more than by this number; a smaller one under CI would save little.
 */
const RECORDS = Number(process.env.BROOK_CLUSTER_RECORDS ?? 50_000);
/** Acknowledgements the two remaining brokers must give before the killed one comes back. */
const PROGRESS_WITHOUT_KILLED = Math.min(500, Math.floor(RECORDS / 50));
const PARTITIONS = 3;
const TOPIC = 'failover';

test(`${RECORDS}+ keyed acks=all records survive a SIGKILL and restart of each partition's leader`, { timeout: 240_000 }, async (t) => {
  const cluster = await ClusterHarness.start({ brokers: 3 });
  const history = new ClusterHistory(RECORDS, 'SIGKILL and restart the leader of each partition once');
  let producer: Producer | undefined;
  try {
    const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });
    await admin.disconnect();
    await cluster.leadersOf(TOPIC, PARTITIONS);

    producer = new Producer({
      brokers: cluster.bootstrap,
      acks: 'all',
      requestTimeoutMs: 10_000,
      deliveryTimeoutMs: 120_000,
      retry: { retries: 100, initialRetryMs: 50, maxRetryMs: 1_000, maxRetryTimeMs: 60_000 },
    });
    await producer.connect();
    // At least RECORDS records, and the load goes on until every kill is over, so no failover
    // happens on an idle cluster.
    let killsDone = false;
    let produced = false;
    const producing = produceRecords({
      history,
      producer,
      process: 'producer-1',
      topic: TOPIC,
      first: 0,
      count: RECORDS * 100,
      inFlightMax: 2_000,
      stop: (sequence) => killsDone && sequence >= RECORDS,
    }).finally(() => {
      produced = true;
    });

    for (let partition = 0; partition < PARTITIONS; partition++) {
      const progressBefore = ((partition + 1) * RECORDS) / (PARTITIONS + 1);
      await waitUntil(`${progressBefore} acknowledgements`, 120_000, () => (history.acknowledgedCount >= progressBefore ? true : undefined), 20);
      const leader = await cluster.waitForLeader(TOPIC, partition);
      const killedAtMs = Date.now();
      assert.equal(await cluster.kill(leader, 'SIGKILL'), 'SIGKILL');
      const successor = await cluster.waitForLeader(TOPIC, partition, 20_000, leader);
      assert.notEqual(successor, leader);
      // Writes go on without the killed broker before it comes back.
      const acknowledgedAtKill = history.acknowledgedCount;
      await waitUntil('writes acknowledged by the remaining two brokers', 60_000, () => (produced || history.acknowledgedCount >= acknowledgedAtKill + PROGRESS_WITHOUT_KILLED ? true : undefined), 20);
      await cluster.restart(leader);
      history.nemesis('kill', `broker-${leader}`, killedAtMs, Date.now());
      await cluster.waitForRegistered(cluster.ids());
    }
    killsDone = true;
    await producing;
    await producer.disconnect();
    producer = undefined;

    const sent = history.acknowledgedCount + history.indeterminateCount;
    assert.ok(sent >= RECORDS && history.acknowledgedCount >= sent * 0.9, `${history.acknowledgedCount} of ${sent} acknowledged (${history.indeterminateCount} indeterminate)`);
    const comparison = await history.compareReplicas(cluster, TOPIC, PARTITIONS);
    for (const holders of comparison.replicas) assert.deepEqual(holders, [1, 2, 3], 'every broker holds a replica of every partition');
    await history.readAll(cluster.bootstrap, TOPIC, comparison);
    const result = history.assertClean();
    t.diagnostic(`${result.counts.sent} sent, ${result.counts.acknowledged} acknowledged, ${result.counts.indeterminate} indeterminate, ${result.counts.duplicates} duplicates; high watermarks ${comparison.endOffsets.join(',')}`);
    assert.equal(result.counts.lost, 0);
    assertAcknowledgedInSendOrder(history.acks(), sequenceOf);
    for (const id of cluster.ids()) assert.equal(cluster.broker(id).state, 'running', `broker ${id} runs at the end`);
    const codes = await cluster.close();
    assert.deepEqual([...codes.values()], [0, 0, 0], 'every broker exits cleanly on SIGTERM');
  } catch (error) {
    if (error instanceof Error) error.message += `\n${cluster.logs(8_000)}`;
    throw error;
  } finally {
    // Brokers first: a producer still holding records would wait for them to be delivered.
    await cluster.close();
    await disconnectWithin(producer, 5_000);
  }
});
