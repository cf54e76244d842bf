/**
 * Group consumers against the in-process coordinator (fake-coordinator.ts) and an in-process
 * broker: membership, assignment, commits, rebalance listeners, cooperative rebalancing, static
 * membership, the max poll interval and coordinator errors. Real brokers: consumer-group-e2e.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, type ConsumerConfig, type TopicPartition } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import { startScriptedBroker, type ScriptedBroker } from '../client/fixtures/scripted-broker.js';
import { FakeCoordinator } from './fake-coordinator.js';

let broker: ScriptedBroker;
const RECORDS_PER_PARTITION = 50;

before(async () => {
  broker = await startScriptedBroker();
  for (const [topic, partitions] of [['six', 6], ['coop', 6], ['static', 4], ['slow', 2], ['pattern-a', 2], ['pattern-b', 1], ['other', 1], ['fail', 2]] as const) {
    broker.createTopic(topic, partitions);
  }
  const producer = new Producer({ brokers: broker.address, batchBytes: 2_000 });
  await producer.connect();
  for (const topic of ['six', 'coop', 'static', 'slow', 'pattern-a', 'pattern-b', 'other', 'fail']) {
    const count = broker.logs.get(topic)!.length;
    for (let partition = 0; partition < count; partition++) {
      await producer.send({ topic, messages: Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({ value: `${topic}-${partition}-${i}`, partition })) });
    }
  }
  await producer.disconnect();
});
after(async () => { const t = Date.now(); await broker.close(); if (process.env.DIAG) console.error("CLOSE took", Date.now() - t); });

const FAST: Partial<ConsumerConfig> = { maxWaitMs: 20, sessionTimeoutMs: 1_000, rebalanceTimeoutMs: 1_000, heartbeatIntervalMs: 50, autoCommitIntervalMs: 100 };

function consumer(coordinator: FakeCoordinator, groupId: string, extra: Partial<ConsumerConfig> = {}): Consumer {
  return new Consumer({ brokers: broker.address, groupId, groupsApi: coordinator, ...FAST, ...extra });
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const names = (list: readonly TopicPartition[]) => list.map((p) => `${p.topic}-${p.partition}`).sort();

test('three members share a topic: distinct partitions covering all, every record once, commits recorded', async () => {
  const coordinator = new FakeCoordinator();
  const seen = new Map<string, number>();
  const consumers = [0, 1, 2].map(() => consumer(coordinator, 'g-share'));
  const runs: Promise<void>[] = [];
  for (const c of consumers) {
    await c.connect();
    c.subscribe({ topics: ['six'], fromBeginning: true });
  }
  for (const c of consumers) {
    runs.push(c.run({ eachMessage: async ({ message }) => void seen.set(message.value!.toString(), (seen.get(message.value!.toString()) ?? 0) + 1) }));
  }
  await until(() => seen.size === 6 * RECORDS_PER_PARTITION, 'all records');
  const assignments = consumers.map((c) => names(c.assignment()));
  assert.deepEqual(assignments.flat().sort(), ['six-0', 'six-1', 'six-2', 'six-3', 'six-4', 'six-5']);
  assert.ok(assignments.every((a) => a.length === 2), `two partitions each: ${JSON.stringify(assignments)}`);
  assert.ok([...seen.values()].every((count) => count === 1), 'no record twice while the group is stable');
  await until(() => [...coordinator.group('g-share').offsets.values()].filter((o) => o === RECORDS_PER_PARTITION).length === 6, 'auto-commit of every partition');
  for (const c of consumers) await c.disconnect();
  await Promise.all(runs);
  assert.equal(coordinator.group('g-share').members.size, 0, 'dynamic members left on disconnect');
  coordinator.close();
});

test('a member that leaves hands its partitions over; commit-after-processing skips nothing', async () => {
  const coordinator = new FakeCoordinator();
  const processed = new Set<string>();
  const revokedAt: string[][] = [];
  const first = consumer(coordinator, 'g-handover', { partitionAssigners: ['roundrobin'] });
  const second = consumer(coordinator, 'g-handover', { partitionAssigners: ['roundrobin'] });
  await first.connect();
  await second.connect();
  first.subscribe({ topics: ['six'], fromBeginning: true, rebalanceListener: { onPartitionsRevoked: (p) => void revokedAt.push(names(p)) } });
  second.subscribe({ topics: ['six'], fromBeginning: true });
  let firstCount = 0;
  const firstRun = first.run({
    eachMessage: async ({ message }) => {
      processed.add(message.value!.toString());
      if (++firstCount === 20) void first.disconnect();
    },
  });
  await until(() => firstCount > 0, 'the first member consuming');
  const secondRun = second.run({ eachMessage: async ({ message }) => void processed.add(message.value!.toString()) });
  await until(() => processed.size === 6 * RECORDS_PER_PARTITION, 'every record processed by someone');
  await firstRun;
  assert.ok(revokedAt.length >= 1, 'the leaving member revoked its partitions');
  await until(() => names(second.assignment()).length === 6, 'the remaining member owns all six');
  await second.disconnect();
  await secondRun;
  coordinator.close();
});

test('cooperative: a joining member does not pause partitions that stay; only moved partitions are revoked', async () => {
  const coordinator = new FakeCoordinator();
  const revoked: string[] = [];
  const delivered: Array<{ atMs: number; partition: string }> = [];
  const config = { partitionAssigners: ['cooperative-sticky' as const] };
  const a = consumer(coordinator, 'g-coop', config);
  await a.connect();
  a.subscribe({ topics: ['coop'], fromBeginning: true, rebalanceListener: { onPartitionsRevoked: (p) => void revoked.push(...names(p)) } });
  // A slow handler, so there is always something left to consume during the rebalance.
  const aRun = a.run({ eachMessage: async ({ topic, partition }) => { delivered.push({ atMs: Date.now(), partition: `${topic}-${partition}` }); await sleep(5); } });
  await until(() => names(a.assignment()).length === 6 && delivered.length > 10, 'a owning all six');
  const generationBefore = a.groupMembership().generationId;

  const b = consumer(coordinator, 'g-coop', config);
  await b.connect();
  b.subscribe({ topics: ['coop'], fromBeginning: true });
  const joinStartMs = Date.now();
  const bRun = b.run({ eachMessage: async () => { await sleep(1); } });
  await until(() => names(b.assignment()).length === 3, 'b owning three after the follow-up rebalance');
  const stableMs = Date.now();
  const kept = names(a.assignment());
  assert.equal(kept.length, 3);
  assert.equal(revoked.length, 3, `exactly the three moved partitions were revoked: ${revoked}`);
  assert.ok(kept.every((p) => !revoked.includes(p)), 'partitions that stay were never revoked');
  assert.ok(a.groupMembership().generationId >= generationBefore + 2, 'two rebalances: revoke, then assign');
  // Partitions a kept went on being delivered during the rebalance window.
  const during = delivered.filter((d) => d.atMs >= joinStartMs && d.atMs <= stableMs && kept.includes(d.partition));
  let longestGapMs = 0;
  for (let i = 1; i < during.length; i++) longestGapMs = Math.max(longestGapMs, during[i].atMs - during[i - 1].atMs);
  assert.ok(during.length > 0, 'kept partitions delivered during the rebalance');
  // An eager member would stop for about the whole rebalance; a cooperative one goes on.
  assert.ok(longestGapMs < Math.max(300, (stableMs - joinStartMs) / 2), `no pause on kept partitions (longest gap ${longestGapMs} ms over a ${stableMs - joinStartMs} ms rebalance)`);
  await a.disconnect();
  await b.disconnect();
  await Promise.all([aRun, bRun]);
  coordinator.close();
});

test('a static member that restarts within the session timeout causes no rebalance', async () => {
  const coordinator = new FakeCoordinator();
  const config = { groupInstanceId: 'instance-1', sessionTimeoutMs: 3_000 };
  const other = consumer(coordinator, 'g-static', { groupInstanceId: 'instance-2', sessionTimeoutMs: 3_000 });
  await other.connect();
  other.subscribe({ topics: ['static'], fromBeginning: true });
  const otherRun = other.run({ eachMessage: async () => undefined });
  const first = consumer(coordinator, 'g-static', config);
  await first.connect();
  first.subscribe({ topics: ['static'], fromBeginning: true });
  const firstRun = first.run({ eachMessage: async () => undefined });
  await until(() => first.assignment().length === 2 && other.assignment().length === 2, 'two members with two partitions each');
  const before = names(first.assignment());
  const generations = coordinator.generations.length;
  const otherRebalances = other.groupMembership().rebalances;
  await first.disconnect();
  await firstRun;
  assert.equal(coordinator.group('g-static').members.size, 2, 'a static member does not leave');

  const restarted = consumer(coordinator, 'g-static', config);
  await restarted.connect();
  restarted.subscribe({ topics: ['static'], fromBeginning: true });
  const restartedRun = restarted.run({ eachMessage: async () => undefined });
  await until(() => restarted.assignment().length === 2, 'the restarted member owning its partitions');
  assert.deepEqual(names(restarted.assignment()), before, 'the same partitions come back');
  await sleep(300);
  assert.equal(coordinator.generations.length, generations, 'no new generation');
  assert.equal(other.groupMembership().rebalances, otherRebalances, 'the other member did not rebalance');
  await restarted.disconnect();
  await other.disconnect();
  await Promise.all([restartedRun, otherRun]);
  coordinator.close();
});

test('a handler past maxPollIntervalMs makes the member leave, lose its partitions and rejoin', async () => {
  const coordinator = new FakeCoordinator();
  const lost: string[][] = [];
  const c = consumer(coordinator, 'g-slow', { maxPollIntervalMs: 300, rebalanceListener: { onPartitionsLost: (p) => void lost.push(names(p)) } });
  await c.connect();
  c.subscribe({ topics: ['slow'], fromBeginning: true });
  let calls = 0;
  const run = c.run({ eachMessage: async () => { if (++calls === 1) await sleep(700); } });
  await until(() => lost.length === 1, 'partitions lost after the max poll interval');
  assert.deepEqual(lost[0], ['slow-0', 'slow-1']);
  await until(() => c.assignment().length === 2 && c.groupMembership().state === 'stable', 'rejoined');
  assert.ok(c.groupMembership().rebalances >= 2);
  await c.disconnect();
  await run;
  coordinator.close();
});

test('RegExp subscription; coordinator errors are retried; autoOffsetReset none surfaces an error', async () => {
  const coordinator = new FakeCoordinator();
  coordinator.failNext('joinGroup', 'NOT_COORDINATOR', 2);
  coordinator.failNext('joinGroup', 'COORDINATOR_LOAD_IN_PROGRESS', 1);
  const c = consumer(coordinator, 'g-pattern', { retry: { initialRetryMs: 10, maxRetryMs: 50 } });
  await c.connect();
  c.subscribe({ topic: /^pattern-/, fromBeginning: true });
  let count = 0;
  const run = c.run({ eachMessage: async () => void count++ });
  await until(() => count === 3 * RECORDS_PER_PARTITION, 'records of both matching topics');
  assert.deepEqual(names(c.assignment()), ['pattern-a-0', 'pattern-a-1', 'pattern-b-0']);
  await c.disconnect();
  await run;

  const strict = consumer(coordinator, 'g-none', { autoOffsetReset: 'none' });
  await strict.connect();
  strict.subscribe({ topics: ['other'] });
  await assert.rejects(strict.run({ eachMessage: async () => undefined }), /no committed offset/);
  await strict.disconnect();
  coordinator.close();
});

test('manual commits: commitOffsets with autoCommit off; a stale generation is refused and the member rejoins', async () => {
  const coordinator = new FakeCoordinator();
  const c = consumer(coordinator, 'g-manual', { autoCommit: false });
  await c.connect();
  c.subscribe({ topics: ['fail'], fromBeginning: true });
  let count = 0;
  const run = c.run({ eachMessage: async () => void count++ });
  await until(() => count === 2 * RECORDS_PER_PARTITION, 'all records');
  assert.equal(coordinator.group('g-manual').offsets.size, 0, 'nothing committed without autoCommit');
  await c.commitOffsets();
  assert.deepEqual([...coordinator.group('g-manual').offsets.values()], [RECORDS_PER_PARTITION, RECORDS_PER_PARTITION]);
  await c.commitOffsets([{ topic: 'fail', partition: 0, offset: '10' }]).then(
    () => assert.fail('a commit below the committed offset is refused'),
    (error: Error) => assert.match(error.message, /OFFSET_OUT_OF_RANGE/),
  );
  coordinator.failNext('offsetCommit', 'ILLEGAL_GENERATION');
  await assert.rejects(c.commitOffsets([{ topic: 'fail', partition: 1, offset: 50 }]), /ILLEGAL_GENERATION/);
  assert.deepEqual(await c.committed([{ topic: 'fail', partition: 0 }]), [{ topic: 'fail', partition: 0, offset: RECORDS_PER_PARTITION }]);
  await c.disconnect();
  await run;
  coordinator.close();
});

test('a consumer with a groupId that assigns partitions itself commits as a non-member', async () => {
  const coordinator = new FakeCoordinator();
  const c = consumer(coordinator, 'g-simple');
  await c.connect();
  await c.assign([{ topic: 'other', partition: 0, offset: 'earliest' }]);
  let count = 0;
  for await (const _message of c) if (++count === 10) break;
  await c.commitOffsets();
  assert.deepEqual(await c.committed([{ topic: 'other', partition: 0 }]), [{ topic: 'other', partition: 0, offset: 10 }]);
  assert.throws(() => c.subscribe({ topics: ['other'] }), /exclude each other/);
  await c.disconnect();
  coordinator.close();
});
