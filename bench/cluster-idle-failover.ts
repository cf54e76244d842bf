/**
 * Failover of an idle partition: how long after a SIGKILL of the leader of a partition that
 * nobody wrote to for a while (its group quiesced, see raft/README.md "Quiescence") the first
 * write to it is acknowledged. bench/cluster-failover.ts measures the same under a steady write
 * load, where the group never quiesces.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/cluster-idle-failover.js [--trials 10] [--partitions 100] [--quiet-ms 3000]
 *
 * Three broker processes, one topic of --partitions partitions at replication factor 3. A trial
 * waits --quiet-ms with no writes, SIGKILLs the leader of partition 0 at t0 and at once starts
 * writing one record at a time to partition 0 (acks=all, fast retries); it measures until the
 * first acknowledgement. Then the killed broker is restarted and the cluster settles. Prints each
 * trial and p50/p99/max over all.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../client/admin.js';
import { DEFAULT_RETRY } from '../client/retry.js';
import { Producer } from '../producer/producer.js';
import { ClusterHarness } from '../test/fixtures/cluster-harness.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '100' },
    'quiet-ms': { type: 'string', default: '3000' },
  },
});
const trials = Number(args.trials);
const partitions = Number(args.partitions);
const quietMs = Number(args['quiet-ms']);
const TOPIC = 'idle-failover';

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
  try {
    const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: partitions, replicationFactor: 3 }] });
    await admin.disconnect();
    for (let partition = 0; partition < partitions; partition++) await cluster.waitForLeader(TOPIC, partition, 120_000);
    await producer.connect();
    // The producer learns the leader before the first trial.
    await producer.send({ topic: TOPIC, messages: [{ value: 'warm-up', partition: 0 }] });
    const results: number[] = [];
    for (let trial = 1; trial <= trials; trial++) {
      const leader = await cluster.waitForLeader(TOPIC, 0);
      await sleep(quietMs);
      const killedAtMs = performance.now();
      await cluster.kill(leader, 'SIGKILL');
      let ackedAtMs: number | undefined;
      for (let sequence = 0; ackedAtMs === undefined; sequence++) {
        try {
          await producer.send({ topic: TOPIC, messages: [{ value: `t${trial}-${sequence}`, partition: 0 }] });
          ackedAtMs = performance.now();
        } catch {
          await sleep(10);
        }
      }
      const failoverMs = ackedAtMs - killedAtMs;
      results.push(failoverMs);
      const successor = await cluster.waitForLeader(TOPIC, 0, 20_000, leader);
      console.log(`trial ${String(trial).padStart(2)}: killed leader ${leader}, new leader ${successor}, first acknowledged write after ${failoverMs.toFixed(0)} ms`);
      await cluster.restart(leader);
      await cluster.waitForRegistered(cluster.ids());
    }
    const sorted = [...results].sort((a, b) => a - b);
    console.log(`idle failover over ${trials} trials (${partitions} partitions quiet ${quietMs} ms; SIGKILL of partition 0's leader -> first acknowledged write, RF=3, acks=all):`);
    console.log(`  p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms`);
  } finally {
    await producer.disconnect().catch(() => undefined);
    await cluster.close();
  }
}

await main();
