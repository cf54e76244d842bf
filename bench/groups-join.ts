/**
 * Time for consumers joining a new group at once to reach a stable assignment.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/groups-join.js [--members 10] [--partitions 100] [--trials 5] [--initial-delay-ms 1000]
 *
 * Starts one broker (groups.initial.rebalance.delay.ms as given: the coordinator's wait for more
 * members of a new group), creates a topic, then per trial starts `members` in-process consumers
 * in a fresh group at the same moment and measures until every member holds its partitions in the
 * same generation with all partitions covered exactly once. Prints each trial and the median.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../client/admin.js';
import { Consumer } from '../consumer/consumer.js';
import { startBenchBroker } from './groups-bench-broker.js';

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '100' },
    trials: { type: 'string', default: '5' },
    'initial-delay-ms': { type: 'string', default: '1000' },
    assignor: { type: 'string', default: 'range' },
  },
});
const members = Number(args.members);
const partitions = Number(args.partitions);
const trials = Number(args.trials);
const STABLE_TIMEOUT_MS = 120_000;

const broker = await startBenchBroker(['--groups-initial-rebalance-delay-ms', args['initial-delay-ms']!]);
const times: number[] = [];
try {
  const admin = new Admin({ brokers: broker.address });
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'join-bench', numPartitions: partitions }] });
  await admin.disconnect();
  for (let trial = 0; trial < trials; trial++) {
    const groupId = `join-bench-${trial}`;
    const consumers = Array.from({ length: members }, () => new Consumer({ brokers: broker.address, groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 200, maxWaitMs: 200, partitionAssigners: [args.assignor as 'range'] }));
    await Promise.all(consumers.map((c) => c.connect()));
    const startMs = performance.now();
    const runs = consumers.map((c) => {
      c.subscribe({ topics: ['join-bench'] });
      return c.run({ eachMessage: async () => undefined });
    });
    const stable = () => {
      const generations = new Set(consumers.map((c) => c.groupMembership().generationId));
      const owned = consumers.flatMap((c) => c.assignment().map((p) => p.partition));
      return generations.size === 1 && consumers.every((c) => c.groupMembership().state === 'stable') && owned.length === partitions && new Set(owned).size === partitions;
    };
    while (!stable()) {
      if (performance.now() - startMs > STABLE_TIMEOUT_MS) throw new Error('no stable assignment');
      await sleep(2);
    }
    const elapsedMs = performance.now() - startMs;
    times.push(elapsedMs);
    const generation = consumers[0].groupMembership().generationId;
    process.stdout.write(`trial ${trial + 1}: ${members} members, ${partitions} partitions stable in ${elapsedMs.toFixed(0)} ms (generation ${generation})\n`);
    await Promise.all(consumers.map((c) => c.disconnect()));
    await Promise.allSettled(runs);
  }
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(`median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms (initial rebalance delay ${args['initial-delay-ms']} ms included)\n`);
} finally {
  await broker.stop();
}
