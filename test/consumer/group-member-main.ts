/**
 * A group member in its own process, for tests that SIGKILL one: consumes a topic in a group and
 * prints one JSON line per event on stdout — {"ready":...} once connected, {"assigned":[...]}
 * after every rebalance, {"record":"value"} for every record processed (printed inside the
 * handler, so before its offset can be committed: a killed member may print records that another
 * member then processes again, never the other way round).
 *
 * Usage: node group-member-main.js BROKERS GROUP TOPIC [key=value ...] with keys
 * sessionTimeoutMs, rebalanceTimeoutMs, heartbeatIntervalMs, autoCommitIntervalMs,
 * groupInstanceId, assignor, handlerDelayMs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer } from '../../consumer/consumer.js';
import type { AssignorName } from '../../consumer/assignors/assignor-names.js';

const [brokers, groupId, topic, ...rest] = process.argv.slice(2);
const options = Object.fromEntries(rest.map((pair) => pair.split('=') as [string, string]));
const number = (name: string, fallback: number) => (options[name] === undefined ? fallback : Number(options[name]));
const print = (event: unknown) => process.stdout.write(`${JSON.stringify(event)}\n`);

const consumer = new Consumer({
  brokers,
  groupId,
  maxWaitMs: 100,
  sessionTimeoutMs: number('sessionTimeoutMs', 3_000),
  rebalanceTimeoutMs: number('rebalanceTimeoutMs', 3_000),
  heartbeatIntervalMs: number('heartbeatIntervalMs', 300),
  autoCommitIntervalMs: number('autoCommitIntervalMs', 200),
  ...(options.groupInstanceId !== undefined ? { groupInstanceId: options.groupInstanceId } : {}),
  partitionAssigners: [(options.assignor ?? 'range') as AssignorName],
  rebalanceListener: {
    onPartitionsAssigned: () => {
      print({ assigned: consumer.assignment().map((p) => p.partition).sort((a, b) => a - b) });
    },
    onPartitionsRevoked: () => undefined,
  },
});
const handlerDelayMs = number('handlerDelayMs', 0);
await consumer.connect();
consumer.subscribe({ topics: [topic], fromBeginning: true });
process.once('SIGTERM', () => void consumer.disconnect());
print({ ready: process.pid });
await consumer.run({
  eachMessage: async ({ message }) => {
    print({ record: message.value!.toString() });
    if (handlerDelayMs > 0) await sleep(handlerDelayMs);
  },
});
