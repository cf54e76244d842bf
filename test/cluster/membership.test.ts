/**
 * Brokers leaving and coming back, on one cluster of four broker processes (broker 4 starts
 * later): a restarted broker catches up; after restarts, leader balancing gives each broker its
 * third of the leaderships; decommissioning a broker moves its replicas to the new one with
 * nothing lost. Records are produced (acks=all) throughout and the run is checked as a history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin } from '../../client/admin.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { Producer } from '../../producer/producer.js';
import { ClusterHarness, waitUntil } from '../fixtures/cluster-harness.js';
import { ClusterHistory } from './cluster-history.js';
import { produceRecords } from './cluster-workload.js';
import { replicaDirOf } from './replica-files.js';

const TOPIC = 'moving';
const PARTITIONS = 6;
/** Records per phase; four phases. */
const RECORDS_PER_PHASE = Number(process.env.BROOK_CLUSTER_PHASE_RECORDS ?? 3_000);
const LEADER_BALANCE_INTERVAL_MS = 1_000;

async function leaderCounts(cluster: ClusterHarness): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const leader of await cluster.leadersOf(TOPIC, PARTITIONS)) counts.set(leader, (counts.get(leader) ?? 0) + 1);
  return counts;
}

test('a restarted broker catches up, leaders rebalance after restarts, a decommissioned broker\'s replicas move away with nothing lost', { timeout: 240_000 }, async () => {
  const cluster = await ClusterHarness.start({
    brokers: 4,
    initiallyStopped: [4],
    flags: ['--leader-balance-interval-ms', String(LEADER_BALANCE_INTERVAL_MS)],
  });
  const history = new ClusterHistory(PARTITIONS, 'restart, rebalance, decommission');
  const admin = new Admin({ brokers: cluster.bootstrap.slice(0, 3), retry: { ...DEFAULT_RETRY, retries: 30 } });
  const producer = new Producer({
    brokers: cluster.bootstrap.slice(0, 3),
    acks: 'all',
    requestTimeoutMs: 5_000,
    retry: { retries: 100, initialRetryMs: 50, maxRetryMs: 500, maxRetryTimeMs: 60_000 },
  });
  let next = 0;
  const produce = (count: number): Promise<void> => {
    const first = next;
    next += count;
    return produceRecords({ history, producer, process: 'producer-1', topic: TOPIC, first, count, inFlightMax: 500 });
  };
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });
    await producer.connect();
    await produce(RECORDS_PER_PHASE);

    // A broker down while records keep coming, then back: it catches up from the leaders.
    let startMs = Date.now();
    await cluster.kill(2, 'SIGKILL');
    await produce(RECORDS_PER_PHASE);
    await cluster.restart(2);
    history.nemesis('kill', 'broker-2', startMs, Date.now());
    const caughtUp = await history.compareReplicas(cluster, TOPIC, PARTITIONS, { recordInHistory: false });
    for (const holders of caughtUp.replicas) assert.ok(holders.includes(2), 'the restarted broker holds its replicas again, caught up and identical');

    // Another restart moves leaderships around; balancing brings each broker back to its third.
    startMs = Date.now();
    await cluster.kill(1, 'SIGKILL');
    await cluster.waitForLeader(TOPIC, 0, 20_000, 1);
    await cluster.restart(1);
    history.nemesis('kill', 'broker-1', startMs, Date.now());
    const balanced = await waitUntil('each of brokers 1-3 leading 2 of the 6 partitions', 60_000, async () => {
      const counts = await leaderCounts(cluster);
      return [1, 2, 3].every((id) => counts.get(id) === PARTITIONS / 3) ? counts : undefined;
    }, 500);
    assert.equal([...balanced.values()].reduce((a, b) => a + b, 0), PARTITIONS);

    // Decommission broker 3 while producing: its replicas move to broker 4, nothing is lost.
    await cluster.restart(4);
    await cluster.waitForRegistered([1, 2, 3, 4]);
    startMs = Date.now();
    const producing = produce(RECORDS_PER_PHASE);
    const { partitionsMoved } = await admin.decommissionBroker(3);
    // Every partition of the topic, and of any internal topic the broker holds a replica of.
    assert.ok(partitionsMoved >= PARTITIONS, `broker 3 held a replica of every partition of ${TOPIC}; ${partitionsMoved} moved`);
    await waitUntil('no partition placed on broker 3', 90_000, async () => {
      const metadata = await cluster.metadataOf(1, [TOPIC]);
      const partitions = metadata.topics.find((t) => t.name === TOPIC)?.partitions ?? [];
      return partitions.length === PARTITIONS && partitions.every((p) => !p.replicas.includes(3) && p.replicas.length === 3) ? true : undefined;
    }, 250);
    await waitUntil('broker 3 DECOMMISSIONED', 30_000, async () => {
      const described = await admin.describeCluster();
      return described.brokers.find((broker) => broker.id === 3)?.state === 'DECOMMISSIONED' ? true : undefined;
    }, 250);
    await producing;
    history.nemesis('decommission', 'broker-3', startMs, Date.now());
    await waitUntil('broker 3 holds no replica dir of the topic', 30_000, () =>
      Array.from({ length: PARTITIONS }, (_, p) => replicaDirOf(cluster.broker(3).dataDir, TOPIC, p)).every((dir) => dir === undefined) ? true : undefined,
    );
    await cluster.kill(3, 'SIGTERM');

    const comparison = await history.compareReplicas(cluster, TOPIC, PARTITIONS);
    for (const holders of comparison.replicas) assert.deepEqual(holders, [1, 2, 4], 'replicas on 1, 2 and 4 after the decommission');
    await history.readAll(cluster.bootstrap.filter((_, index) => index !== 2), TOPIC, comparison);
    history.assertClean();
    assert.ok(history.acknowledgedCount >= next * 0.9, `${history.acknowledgedCount} of ${next} acknowledged`);
  } catch (error) {
    if (error instanceof Error) error.message += `\n${cluster.logs(8_000)}`;
    throw error;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect();
    await cluster.close();
  }
});
