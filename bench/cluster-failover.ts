/**
 * Failover time of a local cluster of three broker processes: how long after a SIGKILL of a
 * partition's leader the first write is acknowledged again.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/cluster-failover.js [--trials 20] [--writers 4]
 *
 * One topic, one partition, replication factor 3, acks=all. --writers loops each send one small
 * record at a time, back to back, through a producer with fast retries. A trial SIGKILLs the
 * partition's leader at t0 and measures until the first acknowledgement of a write that began
 * after t0 (a write already in flight at t0 does not count, so this includes one round trip
 * through the new leader). Then the killed broker is restarted and the cluster settles before
 * the next trial. Prints each trial and p50/p99/max over all.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../client/admin.js';
import { DEFAULT_RETRY } from '../client/retry.js';
import { Producer } from '../producer/producer.js';
import { ClusterHarness, waitUntil } from '../test/fixtures/cluster-harness.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    writers: { type: 'string', default: '4' },
    'settle-ms': { type: 'string', default: '1000' },
  },
});
const trials = Number(args.trials);
const writers = Number(args.writers);
const settleMs = Number(args['settle-ms']);
const TOPIC = 'failover';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const cluster = await ClusterHarness.start({ brokers: 3, proxies: false, logLevel: 'warn' });
  const producer = new Producer({
    brokers: cluster.bootstrap,
    acks: 'all',
    lingerMs: 0,
    requestTimeoutMs: 3_000,
    retry: { retries: 200, initialRetryMs: 10, maxRetryMs: 100, maxRetryTimeMs: 60_000, jitterFactor: 0.2 },
  });
  let stopping = false;
  /** When the first write that began after the kill was acknowledged. */
  let firstAckAfterMs: number | undefined;
  let killedAtMs = Infinity;
  const loops: Array<Promise<void>> = [];
  try {
    const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }] });
    await admin.disconnect();
    await cluster.waitForLeader(TOPIC, 0);
    await producer.connect();
    for (let writer = 0; writer < writers; writer++) {
      loops.push(
        (async () => {
          for (let sequence = 0; !stopping; sequence++) {
            const beganMs = performance.now();
            try {
              await producer.send({ topic: TOPIC, messages: [{ value: `w${writer}-${sequence}` }] });
              if (beganMs > killedAtMs && firstAckAfterMs === undefined) firstAckAfterMs = performance.now();
            } catch {
              await sleep(10);
            }
          }
        })(),
      );
    }
    await sleep(settleMs);
    const results: number[] = [];
    for (let trial = 1; trial <= trials; trial++) {
      const leader = await cluster.waitForLeader(TOPIC, 0);
      firstAckAfterMs = undefined;
      killedAtMs = performance.now();
      await cluster.kill(leader, 'SIGKILL');
      await waitUntil('a write acknowledged after the kill', 60_000, () => firstAckAfterMs, 2);
      const failoverMs = firstAckAfterMs! - killedAtMs;
      results.push(failoverMs);
      killedAtMs = Infinity;
      const successor = await cluster.waitForLeader(TOPIC, 0, 20_000, leader);
      console.log(`trial ${String(trial).padStart(2)}: killed leader ${leader}, new leader ${successor}, first acknowledged write after ${failoverMs.toFixed(0)} ms`);
      await cluster.restart(leader);
      await cluster.waitForRegistered(cluster.ids());
      await sleep(settleMs);
    }
    const sorted = [...results].sort((a, b) => a - b);
    console.log(`failover over ${trials} trials (SIGKILL of the leader -> first acknowledged write, RF=3, acks=all, election ticks 12 x 50 ms):`);
    console.log(`  p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms`);
  } finally {
    stopping = true;
    await Promise.race([Promise.all(loops), sleep(10_000)]);
    await producer.disconnect().catch(() => undefined);
    await cluster.close();
  }
}

await main();
