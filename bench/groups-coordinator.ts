/**
 * The coordinator alone, over the raw Groups protocol (no consumer client): how long `members`
 * joining a new group at once take to reach a synced generation, and how many offsets per second
 * concurrent members commit (each commit waits for its record to be durable in the offsets log).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/groups-coordinator.js [--members 10] [--partitions 100] [--trials 5] [--commit-seconds 5]
 *
 * One broker process (groups.initial.rebalance.delay.ms = 0, so the join time is the protocol's
 * own: two JoinGroup round trips per member, the join phase, the leader's SyncGroup and the
 * write of the group's record). Commits: `members` members of one group, each committing its
 * share of `partitions` partitions (one OffsetCommit per loop, offsets growing) for
 * commit-seconds; prints commits/s, offsets/s and commit latency percentiles.
 */
import { parseArgs } from 'node:util';
import { encodeBatch } from '../record/record-batch.js';
import { RawClient } from '../test/broker/broker-process.js';
import { GroupsTestClient } from '../test/groups/groups-test-client.js';
import { startBenchBroker } from './groups-bench-broker.js';

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '100' },
    trials: { type: 'string', default: '5' },
    'commit-seconds': { type: 'string', default: '5' },
  },
});
const members = Number(args.members);
const partitions = Number(args.partitions);
const trials = Number(args.trials);
const commitSeconds = Number(args['commit-seconds']);
const TOPIC = 'coordinator-bench';

const broker = await startBenchBroker(['--groups-initial-rebalance-delay-ms', '0']);
const raw = new RawClient(broker.address);
const clients = Array.from({ length: members }, () => new GroupsTestClient(broker.address));
try {
  const created = await raw.call('CreateTopics', { topics: [{ name: TOPIC, numPartitions: partitions }] });
  if (created.results[0].errorCode !== 'NONE') throw new Error(created.results[0].errorMessage);
  // Records in every partition so commits up to 1,000,000 are within the high watermark.
  const values = Array.from({ length: 1000 }, () => ({ key: null, value: Buffer.alloc(1) }));
  for (let partition = 0; partition < partitions; partition++) {
    const topics = [{ name: TOPIC, partitions: [{ partition, recordBatch: encodeBatch(values, { nowMs: Date.now() }) }] }];
    for (let i = 0; i < 10; i++) await raw.call('Produce', { acks: 'ACKS_ALL', topics: structuredClone(topics) });
  }

  const joinTimes: number[] = [];
  let lastGroup = { groupId: '', generationId: 0, memberIds: [] as string[] };
  for (let trial = 0; trial < trials; trial++) {
    const groupId = `join-${trial}`;
    const started = performance.now();
    const joined = await Promise.all(clients.map((client, index) => client.joinDynamic(groupId, `m${index}`, `subscription-${TOPIC}`, 10_000)));
    const leader = joined.find((answer) => answer.memberId === answer.leader)!;
    const assignments = leader.members.map((member, index) => ({
      memberId: member.memberId,
      assignment: Buffer.from(JSON.stringify(Array.from({ length: partitions }, (_, p) => p).filter((p) => p % members === index))),
    }));
    const synced = await Promise.all(
      joined.map((answer, index) => clients[index].syncGroup({ groupId, generationId: answer.generationId, memberId: answer.memberId, assignments: answer === leader ? assignments : [] })),
    );
    const tookMs = performance.now() - started;
    if (synced.some((answer) => answer.errorCode !== 'NONE')) throw new Error(`sync failed: ${synced.map((s) => s.errorCode).join(',')}`);
    joinTimes.push(tookMs);
    console.log(`join trial ${trial + 1}: ${members} members synced in generation ${joined[0].generationId} after ${tookMs.toFixed(1)} ms`);
    lastGroup = { groupId, generationId: joined[0].generationId, memberIds: joined.map((answer) => answer.memberId) };
  }
  const sorted = [...joinTimes].sort((a, b) => a - b);
  console.log(`join to synced, ${members} members, ${partitions} partitions: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms (min ${sorted[0].toFixed(1)}, max ${sorted.at(-1)!.toFixed(1)})`);

  // Commits from the members of the last group: each owns partitions p % members === index.
  const latencies: number[] = [];
  let offsetsCommitted = 0;
  const deadline = performance.now() + commitSeconds * 1000;
  await Promise.all(
    clients.map(async (client, index) => {
      const owned = Array.from({ length: partitions }, (_, p) => p).filter((p) => p % members === index);
      for (let offset = 1; performance.now() < deadline; offset++) {
        const sent = performance.now();
        const answer = await client.offsetCommit({
          groupId: lastGroup.groupId,
          generationId: lastGroup.generationId,
          memberId: lastGroup.memberIds[index],
          topics: [{ name: TOPIC, partitions: owned.map((partition) => ({ partition, committedOffset: offset })) }],
        });
        latencies.push(performance.now() - sent);
        if (answer.errorCode !== 'NONE' || answer.topics[0].partitions.some((p) => p.errorCode !== 'NONE')) throw new Error(`commit failed: ${JSON.stringify(answer).slice(0, 300)}`);
        offsetsCommitted += owned.length;
        // Keep the members alive: a heartbeat every few commits.
        if (offset % 20 === 0) await client.heartbeat({ groupId: lastGroup.groupId, generationId: lastGroup.generationId, memberId: lastGroup.memberIds[index] });
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  console.log(
    `commits: ${members} members, ${(latencies.length / commitSeconds).toFixed(0)} commits/s, ${(offsetsCommitted / commitSeconds).toFixed(0)} offsets/s; latency ms p50 ${pick(0.5)} p99 ${pick(0.99)} max ${pick(1)}`,
  );
} finally {
  for (const client of clients) client.close();
  raw.close();
  await broker.stop();
}
