/**
 * Consumer groups against a real broker process (the Groups service over gRPC): sharing, a
 * SIGKILLed member's partitions reassigned in time, at-least-once across kills, static members,
 * cooperative rebalancing without pausing partitions that stay, lag, and the CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../../client/admin.js';
import { GroupsClient } from '../../client/groups-client.js';
import { Consumer, type ConsumerConfig } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import { makeDataDir, removeDataDir, startBrokerProcess, type BrokerProcess } from '../e2e/broker-process.js';
import { startReadyProcess, type ReadyProcess } from '../fixtures/ready-process.js';
import { runCli } from '../cli/cli-process.js';

const MEMBER_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'group-member-main.js');
const SESSION_TIMEOUT_MS = 3_000;
const REBALANCE_TIMEOUT_MS = 3_000;

let broker: BrokerProcess;
let dataDir: string;
let admin: Admin;
let groups: GroupsClient;

before(async () => {
  dataDir = makeDataDir();
  broker = await startBrokerProcess(dataDir, 0, ['--groups-initial-rebalance-delay-ms', '100']);
  admin = new Admin({ brokers: broker.address });
  await admin.connect();
  groups = new GroupsClient(admin.cluster);
});

after(async () => {
  groups?.close();
  await admin?.disconnect();
  await broker?.stop();
  if (dataDir !== undefined) removeDataDir(dataDir);
});

async function createAndFill(topic: string, partitions: number, perPartition: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  const producer = new Producer({ brokers: broker.address, lingerMs: 5 });
  await producer.connect();
  const messages = [];
  for (let partition = 0; partition < partitions; partition++) for (let i = 0; i < perPartition; i++) messages.push({ value: `${partition}-${i}`, partition });
  await producer.send({ topic, messages });
  await producer.disconnect();
}

function groupConsumer(groupId: string, extra: Partial<ConsumerConfig> = {}): Consumer {
  return new Consumer({ brokers: broker.address, groupId, maxWaitMs: 100, sessionTimeoutMs: SESSION_TIMEOUT_MS, rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS, heartbeatIntervalMs: 300, autoCommitIntervalMs: 200, ...extra });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('4 members on 12 partitions own distinct partitions covering all; lag is log end minus committed', async () => {
  await createAndFill('share12', 12, 100);
  const consumers = [0, 1, 2, 3].map(() => groupConsumer('g-share12', { autoCommit: false }));
  let count = 0;
  const runs: Promise<void>[] = [];
  try {
    for (const c of consumers) {
      await c.connect();
      c.subscribe({ topics: ['share12'], fromBeginning: true });
      runs.push(c.run({ eachMessage: async () => void count++ }));
    }
    await until(() => count === 1_200, 'every record');
    const owned = consumers.map((c) => c.assignment().map((p) => p.partition));
    assert.deepEqual(owned.flat().sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i), `distinct and covering: ${JSON.stringify(owned)}`);
    assert.ok(owned.every((list) => list.length === 3));
    // Commit a different amount per partition, then compare the lag reported with log end - committed.
    for (const c of consumers) await c.commitOffsets(c.assignment().map((p) => ({ topic: 'share12', partition: p.partition, offset: 8 * p.partition })));
    const described = await groups.describeGroup('g-share12');
    assert.equal(described.state, 'Stable');
    assert.equal(described.members.length, 4);
    assert.equal(described.offsets.length, 12);
    for (const offset of described.offsets) {
      assert.equal(offset.committedOffset, 8 * offset.partition);
      assert.equal(offset.logEndOffset, 100);
      assert.equal(offset.lag, offset.logEndOffset - offset.committedOffset);
    }
    assert.ok((await admin.listGroups()).some((g) => g.groupId === 'g-share12' && g.state === 'Stable'));
    assert.equal((await admin.describeGroup('g-share12')).members.length, 4);
    await assert.rejects(admin.resetOffsets({ groupId: 'g-share12', topics: [{ topic: 'share12' }], to: 'earliest' }), /NON_EMPTY_GROUP/, 'no reset while members are active');
  } finally {
    for (const c of consumers) await c.disconnect();
    await Promise.allSettled(runs);
  }
});

async function startMember(groupId: string, topic: string, extra: string[] = []): Promise<{ process: ReadyProcess; events: () => Array<Record<string, unknown>> }> {
  const started = await startReadyProcess({
    name: 'group member',
    args: [MEMBER_MAIN, broker.address, groupId, topic, `sessionTimeoutMs=${SESSION_TIMEOUT_MS}`, `rebalanceTimeoutMs=${REBALANCE_TIMEOUT_MS}`, ...extra],
    readyPattern: /"ready"/,
    startTimeoutMs: 20_000,
  });
  const events = () => started.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { process: started, events };
}

function lastAssignment(events: Array<Record<string, unknown>>): number[] {
  const assigned = events.filter((e) => e.assigned !== undefined);
  return assigned.length === 0 ? [] : (assigned[assigned.length - 1].assigned as number[]);
}

test('SIGKILL a member: its partitions are reassigned within session + rebalance time; no record is skipped', async () => {
  await createAndFill('kill12', 12, 250);
  const members = await Promise.all([0, 1, 2].map(() => startMember('g-kill', 'kill12', ['handlerDelayMs=2'])));
  try {
    await until(() => members.every((m) => lastAssignment(m.events()).length === 4), 'three members with four partitions each');
    await until(() => members[0].events().filter((e) => e.record !== undefined).length > 50, 'the first member consuming');
    const killedAtMs = Date.now();
    await members[0].process.stop('SIGKILL');
    await until(() => [...lastAssignment(members[1].events()), ...lastAssignment(members[2].events())].length === 12, 'the survivors owning all 12', SESSION_TIMEOUT_MS + REBALANCE_TIMEOUT_MS + 10_000);
    const reassignedMs = Date.now() - killedAtMs;
    assert.ok(reassignedMs <= SESSION_TIMEOUT_MS + REBALANCE_TIMEOUT_MS + 1_000, `reassigned in ${reassignedMs} ms`);
    // At least once: every record reaches some member, however the kill fell.
    const seen = () => new Set(members.flatMap((m) => m.events().filter((e) => e.record !== undefined).map((e) => e.record as string)));
    await until(() => seen().size === 12 * 250, 'every record processed', 30_000);
    const total = members.reduce((sum, m) => sum + m.events().filter((e) => e.record !== undefined).length, 0);
    process.stdout.write(`# kill: reassigned in ${reassignedMs} ms; ${total - 3_000} records processed twice\n`);
  } finally {
    await Promise.all(members.map((m) => m.process.stop('SIGTERM')));
  }
});

test('a static member restarting within the session timeout causes no rebalance', async () => {
  await createAndFill('static4', 4, 10);
  const other = groupConsumer('g-static', { groupInstanceId: 'host-b' });
  await other.connect();
  other.subscribe({ topics: ['static4'], fromBeginning: true });
  const otherRun = other.run({ eachMessage: async () => undefined });
  let first = groupConsumer('g-static', { groupInstanceId: 'host-a' });
  await first.connect();
  first.subscribe({ topics: ['static4'], fromBeginning: true });
  let firstRun = first.run({ eachMessage: async () => undefined });
  await until(() => first.assignment().length === 2 && other.assignment().length === 2 && other.groupMembership().state === 'stable', 'two static members with two partitions each');
  const before = first.assignment().map((p) => p.partition);
  const generation = (await groups.describeGroup('g-static')).generationId;
  const otherRebalances = other.groupMembership().rebalances;
  await first.disconnect();
  await firstRun;
  first = groupConsumer('g-static', { groupInstanceId: 'host-a' });
  await first.connect();
  first.subscribe({ topics: ['static4'], fromBeginning: true });
  firstRun = first.run({ eachMessage: async () => undefined });
  await until(() => first.assignment().length === 2, 'the restarted member owning its partitions');
  assert.deepEqual(first.assignment().map((p) => p.partition), before);
  await sleep(1_000);
  assert.equal((await groups.describeGroup('g-static')).generationId, generation, 'same generation: no rebalance');
  assert.equal(other.groupMembership().rebalances, otherRebalances, 'the other member did not rebalance');
  await first.disconnect();
  await other.disconnect();
  await Promise.all([firstRun, otherRun]);
});

test('cooperative: adding a member does not pause the partitions that stay (measured)', async () => {
  await createAndFill('coop6', 6, 2_000);
  const delivered: Array<{ atMs: number; partition: number }> = [];
  const revoked: number[] = [];
  const config = { partitionAssigners: ['cooperative-sticky' as const] };
  const a = groupConsumer('g-coop', config);
  await a.connect();
  a.subscribe({ topics: ['coop6'], fromBeginning: true, rebalanceListener: { onPartitionsRevoked: (p) => void revoked.push(...p.map((x) => x.partition)) } });
  const aRun = a.run({ eachMessage: async ({ partition }) => { delivered.push({ atMs: Date.now(), partition }); await sleep(1); } });
  await until(() => a.assignment().length === 6 && delivered.length > 100, 'a owning all six');
  const b = groupConsumer('g-coop', config);
  await b.connect();
  b.subscribe({ topics: ['coop6'], fromBeginning: true });
  const startMs = Date.now();
  const bRun = b.run({ eachMessage: async () => { await sleep(1); } });
  await until(() => b.assignment().length === 3 && b.groupMembership().state === 'stable', 'b owning three');
  const endMs = Date.now();
  const kept = a.assignment().map((p) => p.partition);
  assert.equal(kept.length, 3);
  assert.deepEqual([...revoked].sort(), [0, 1, 2, 3, 4, 5].filter((p) => !kept.includes(p)), 'only the moved partitions were revoked');
  const during = delivered.filter((d) => d.atMs >= startMs && d.atMs <= endMs && kept.includes(d.partition));
  let longestGapMs = 0;
  for (let i = 1; i < during.length; i++) longestGapMs = Math.max(longestGapMs, during[i].atMs - during[i - 1].atMs);
  process.stdout.write(`# cooperative: rebalance took ${endMs - startMs} ms; a delivered ${during.length} records meanwhile, longest gap ${longestGapMs} ms\n`);
  assert.ok(during.length > 0, 'records delivered during the rebalance');
  // An eager member would stop for about the whole rebalance; a cooperative one goes on.
  assert.ok(longestGapMs < Math.max(300, (endMs - startMs) / 2), `longest gap in delivery ${longestGapMs} ms over a ${endMs - startMs} ms rebalance`);
  await a.disconnect();
  await b.disconnect();
  await Promise.all([aRun, bRun]);
});

test('CLI: consume --group commits; groups list, describe, reset-offsets, delete', async () => {
  await createAndFill('cli3', 3, 5);
  const brokers = ['--brokers', broker.address];
  const consumed = await runCli(['consume', 'cli3', '--group', 'g-cli', '--from-beginning', '--max-messages', '15', ...brokers]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout.trim().split('\n').length, 15);
  const again = await runCli(['consume', 'cli3', '--group', 'g-cli', '--from-beginning', '--idle-timeout-ms', '1500', ...brokers]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, '', 'the group resumes after its committed offsets');

  const listed = await runCli(['groups', 'list', ...brokers]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /g-cli\s+Empty/);
  const described = await runCli(['groups', 'describe', 'g-cli', ...brokers]);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /cli3\s+0\s+5\s+5\s+0/);

  const reset = await runCli(['groups', 'reset-offsets', 'g-cli', '--topic', 'cli3:0,1', '--to-offset', '2', ...brokers]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /cli3\s+0\s+5\s+2/);
  const afterReset = await runCli(['consume', 'cli3', '--group', 'g-cli', '--max-messages', '6', ...brokers]);
  assert.equal(afterReset.code, 0, afterReset.stderr);
  assert.deepEqual(afterReset.stdout.trim().split('\n').sort(), ['0-2', '0-3', '0-4', '1-2', '1-3', '1-4']);
  const latest = await runCli(['groups', 'reset-offsets', 'g-cli', '--topic', 'cli3', '--to-datetime', 'not a date', ...brokers]);
  assert.equal(latest.code, 2);

  const deleted = await runCli(['groups', 'delete', 'g-cli', ...brokers]);
  assert.equal(deleted.code, 0, deleted.stderr);
  const gone = await runCli(['groups', 'describe', 'g-cli', ...brokers]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /GROUP_ID_NOT_FOUND/);
});
