/**
 * CPU of an idle local cluster: three broker processes holding --partitions partitions at
 * replication factor 3 (every broker a replica of each), nothing produced.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/cluster-idle.js [--partitions 1000] [--seconds 30]
 *
 * Creates the partitions (in topics of --partitions-per-topic), waits until every partition has
 * a leader and --settle-seconds more, then reads each broker's utime+stime from /proc/<pid>/stat
 * at the start and end of --seconds and prints CPU % per broker process (100 % = one core).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../client/admin.js';
import { DEFAULT_RETRY } from '../client/retry.js';
import { ClusterHarness, waitUntil } from '../test/fixtures/cluster-harness.js';

const { values: args } = parseArgs({
  options: {
    partitions: { type: 'string', default: '1000' },
    'partitions-per-topic': { type: 'string', default: '100' },
    seconds: { type: 'string', default: '30' },
    'settle-seconds': { type: 'string', default: '10' },
  },
});
const partitions = Number(args.partitions);
const perTopic = Number(args['partitions-per-topic']);
const seconds = Number(args.seconds);
const settleSeconds = Number(args['settle-seconds']);

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function main(): Promise<void> {
  const cluster = await ClusterHarness.start({ brokers: 3, proxies: false, logLevel: 'warn' });
  try {
    const admin = new Admin({ brokers: cluster.bootstrap, requestTimeoutMs: 120_000, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    const topics: string[] = [];
    for (let created = 0; created < partitions; created += perTopic) {
      const topic = `idle-${topics.length}`;
      topics.push(topic);
      await admin.createTopics({ topics: [{ topic, numPartitions: Math.min(perTopic, partitions - created), replicationFactor: 3 }] });
    }
    const createdAtMs = performance.now();
    await waitUntil(`leaders for all ${partitions} partitions`, 300_000, async () => {
      const metadata = await cluster.metadataOf(1, topics, 10_000);
      const led = metadata.topics.reduce((sum, topic) => sum + topic.partitions.filter((p) => p.leader > 0).length, 0);
      return led === partitions ? true : undefined;
    }, 1_000);
    await admin.disconnect();
    console.log(`${partitions} partitions (RF=3) in ${topics.length} topics led after ${((performance.now() - createdAtMs) / 1000).toFixed(1)} s; settling ${settleSeconds} s`);
    await sleep(settleSeconds * 1000);
    const pids = cluster.ids().map((id) => cluster.broker(id).pid!);
    const before = pids.map(cpuTicks);
    const startMs = performance.now();
    await sleep(seconds * 1000);
    const elapsedSeconds = (performance.now() - startMs) / 1000;
    const after = pids.map(cpuTicks);
    console.log(`idle CPU over ${elapsedSeconds.toFixed(1)} s (raft.tick.ms 50, heartbeat every 3 ticks), per broker process:`);
    cluster.ids().forEach((id, index) => {
      const percent = ((after[index] - before[index]) / clockTicksPerSecond / elapsedSeconds) * 100;
      console.log(`  broker ${id} (pid ${pids[index]}): ${percent.toFixed(2)} %`);
    });
  } finally {
    await cluster.close();
  }
}

await main();
