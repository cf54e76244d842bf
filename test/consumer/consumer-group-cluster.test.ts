/**
 * Consumer groups on three real brokers (test/fixtures/cluster-harness.ts): the offsets topic is
 * Raft-replicated, so a SIGKILL of the coordinator's broker loses no commit and the group carries
 * on with the new coordinator; four members share a 12-partition RF=3 topic; a SIGKILLed member
 * process is replaced within session + rebalance time with no record skipped; a static member
 * restarts without a rebalance; a cooperative join does not pause kept partitions; lag stays log
 * end minus committed. One cluster serves every test of the file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Admin } from '../../client/admin.js';
import { GroupsClient } from '../../client/groups-client.js';
import { Consumer } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import { ClusterHarness } from '../fixtures/cluster-harness.js';
import { startReadyProcess } from '../fixtures/ready-process.js';

const MEMBER_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'group-member-main.js');

const SESSION_TIMEOUT_MS = 4_000;
const REBALANCE_TIMEOUT_MS = 4_000;
const PARTITIONS = 12;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let cluster: ClusterHarness;
let admin: Admin;
let groups: GroupsClient;

before(async () => {
  cluster = await ClusterHarness.start({ brokers: 3, logLevel: 'warn', proxies: false, flags: ['--groups-initial-rebalance-delay-ms', '100'] });
  admin = new Admin({ brokers: cluster.bootstrap });
  await admin.connect();
  groups = new GroupsClient(admin.cluster);
});

after(async () => {
  groups?.close();
  await admin?.disconnect();
  await cluster?.close();
});

async function createAndFill(topic: string, partitions: number, perPartition: number): Promise<void> {
  // A broker restarted by an earlier test counts as live again only after its next heartbeat.
  await until(async () => {
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }] });
      return true;
    } catch (error) {
      if (error instanceof Error && /INVALID_REPLICATION_FACTOR/.test(error.message)) return false;
      throw error;
    }
  }, `creating ${topic} with three replicas`);
  await cluster.leadersOf(topic, partitions);
  const producer = new Producer({ brokers: cluster.bootstrap, lingerMs: 5 });
  await producer.connect();
  const messages = [];
  for (let partition = 0; partition < partitions; partition++) for (let i = 0; i < perPartition; i++) messages.push({ value: `${partition}-${i}`, partition });
  await producer.send({ topic, messages });
  await producer.disconnect();
}

test('three brokers: 4 members share 12 partitions; SIGKILL of the coordinator\'s broker loses no commit and the group carries on', async () => {
  const consumers: Consumer[] = [];
  const runs: Promise<void>[] = [];
  let producer: Producer | undefined;
  let killed: number | undefined;
  try {
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: PARTITIONS, replicationFactor: 3 }] });
    await cluster.leadersOf('orders', PARTITIONS);
    producer = new Producer({ brokers: cluster.bootstrap, lingerMs: 5 });
    await producer.connect();
    let produced = 0;
    const produce = async (count: number) => {
      const messages = Array.from({ length: count }, () => ({ value: String(produced++) }));
      await producer!.send({ topic: 'orders', messages });
    };
    await produce(1_200);

    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const consumer = new Consumer({
        brokers: cluster.bootstrap, groupId: 'billing', maxWaitMs: 100, sessionTimeoutMs: SESSION_TIMEOUT_MS,
        rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS, heartbeatIntervalMs: 300, autoCommitIntervalMs: 200,
        retry: { retries: 20, maxRetryTimeMs: 60_000 },
        ...(process.env.GROUPS_TEST_LOG ? { logger: (m: string) => process.stderr.write(`${Date.now() % 100000} c${i} ${m}\n`) } : {}),
      });
      await consumer.connect();
      consumer.subscribe({ topics: ['orders'], fromBeginning: true });
      consumers.push(consumer);
      runs.push(consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) }));
    }
    await until(() => seen.size === 1_200, 'the first 1,200 records');
    const owned = consumers.map((c) => c.assignment().map((p) => p.partition));
    assert.deepEqual(owned.flat().sort((a, b) => a - b), Array.from({ length: PARTITIONS }, (_, i) => i), `distinct and covering: ${JSON.stringify(owned)}`);

    // Every record committed, then the coordinator's broker dies.
    await until(async () => (await groups.describeGroup('billing')).offsets.reduce((sum, o) => sum + o.committedOffset, 0) >= 1_200, 'commits of all 1,200');
    const before = await groups.describeGroup('billing');
    const coordinatorAddress = await groups.coordinatorOf('billing');
    const coordinatorId = cluster.ids().find((id) => cluster.broker(id).address === coordinatorAddress)!;
    assert.ok(coordinatorId !== undefined, `coordinator ${coordinatorAddress} is one of the brokers`);
    if (process.env.GROUPS_TEST_LOG) process.stderr.write(`${Date.now() % 100000} killing ${coordinatorId}\n`);
    await cluster.kill(coordinatorId);
    killed = coordinatorId;

    // Commits survive on the new coordinator; the group goes on consuming what comes next.
    await until(async () => {
      try {
        const now = await groups.describeGroup('billing');
        return now.offsets.length === PARTITIONS;
      } catch {
        return false;
      }
    }, 'a new coordinator answering', 60_000);
    const after = await groups.describeGroup('billing');
    for (const offset of before.offsets) {
      const now = after.offsets.find((o) => o.partition === offset.partition)!;
      assert.ok(now.committedOffset >= offset.committedOffset, `partition ${offset.partition}: committed ${now.committedOffset} after, ${offset.committedOffset} before`);
    }
    await produce(600);
    await until(() => seen.size === 1_800, 'the records produced after the failover', 60_000);
    await until(async () => (await groups.describeGroup('billing')).offsets.reduce((sum, o) => sum + o.committedOffset, 0) >= 1_800, 'commits of all 1,800', 30_000);
    const final = await groups.describeGroup('billing');
    for (const offset of final.offsets) assert.equal(offset.lag, offset.logEndOffset - offset.committedOffset);
    assert.ok(cluster.runningIds().length === 2);
  } finally {
    for (const consumer of consumers) await consumer.disconnect();
    await Promise.allSettled(runs);
    await producer?.disconnect();
    if (killed !== undefined) {
      await cluster.restart(killed);
      await cluster.waitForRegistered([killed]);
    }
  }
});

test('three brokers: a SIGKILLed member process is replaced within session + rebalance time; no record is skipped', async () => {
  await createAndFill('kill-orders', PARTITIONS, 200);
  const start = () => startReadyProcess({
    name: 'group member',
    args: [MEMBER_MAIN, cluster.bootstrap.join(','), 'g-kill', 'kill-orders', `sessionTimeoutMs=${SESSION_TIMEOUT_MS}`, `rebalanceTimeoutMs=${REBALANCE_TIMEOUT_MS}`, 'handlerDelayMs=2'],
    readyPattern: /"ready"/,
    startTimeoutMs: 30_000,
  });
  const members = await Promise.all([start(), start(), start()]);
  const events = (i: number) => members[i].output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { assigned?: number[]; record?: string });
  const lastAssigned = (i: number) => events(i).filter((e) => e.assigned !== undefined).at(-1)?.assigned ?? [];
  try {
    await until(() => [0, 1, 2].every((i) => lastAssigned(i).length === 4), 'three members with four partitions each');
    await until(() => events(0).filter((e) => e.record !== undefined).length > 50, 'the first member consuming');
    const killedAtMs = Date.now();
    await members[0].stop('SIGKILL');
    await until(() => lastAssigned(1).length + lastAssigned(2).length === PARTITIONS, 'the survivors owning all partitions', SESSION_TIMEOUT_MS + REBALANCE_TIMEOUT_MS + 10_000);
    const reassignedMs = Date.now() - killedAtMs;
    assert.ok(reassignedMs <= SESSION_TIMEOUT_MS + REBALANCE_TIMEOUT_MS + 1_000, `reassigned in ${reassignedMs} ms`);
    const seen = () => new Set([0, 1, 2].flatMap((i) => events(i).filter((e) => e.record !== undefined).map((e) => e.record!)));
    await until(() => seen().size === PARTITIONS * 200, 'every record processed', 60_000);
  } finally {
    await Promise.all(members.map((m) => m.stop('SIGTERM')));
  }
});

test('three brokers: a static member restarts without a rebalance; a cooperative join does not pause kept partitions', async () => {
  await createAndFill('static-coop', 6, 1_000);
  const config = { maxWaitMs: 100, sessionTimeoutMs: SESSION_TIMEOUT_MS, rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS, heartbeatIntervalMs: 300, partitionAssigners: ['cooperative-sticky' as const] };
  const delivered: Array<{ atMs: number; partition: number }> = [];
  const a = new Consumer({ brokers: cluster.bootstrap, groupId: 'g-static-coop', groupInstanceId: 'a', ...config });
  await a.connect();
  a.subscribe({ topics: ['static-coop'], fromBeginning: true });
  const aRun = a.run({ eachMessage: async ({ partition }) => { delivered.push({ atMs: Date.now(), partition }); await sleep(2); } });
  let b = new Consumer({ brokers: cluster.bootstrap, groupId: 'g-static-coop', groupInstanceId: 'b', ...config });
  let bRun: Promise<void> | undefined;
  try {
    await until(() => a.assignment().length === 6 && delivered.length > 50, 'a owning all six');
    await b.connect();
    b.subscribe({ topics: ['static-coop'], fromBeginning: true });
    const joinMs = Date.now();
    bRun = b.run({ eachMessage: async () => { await sleep(2); } });
    await until(() => b.assignment().length === 3 && b.groupMembership().state === 'stable' && !b.groupMembership().state.startsWith('re'), 'b owning three');
    const stableMs = Date.now();
    const kept = a.assignment().map((p) => p.partition);
    const during = delivered.filter((d) => d.atMs >= joinMs && d.atMs <= stableMs && kept.includes(d.partition));
    let longestGapMs = 0;
    for (let i = 1; i < during.length; i++) longestGapMs = Math.max(longestGapMs, during[i].atMs - during[i - 1].atMs);
    // An eager member would stop for about the whole rebalance; a cooperative one goes on.
    assert.ok(during.length > 0 && longestGapMs < Math.max(300, (stableMs - joinMs) / 2), `kept partitions went on (${during.length} records, longest gap ${longestGapMs} ms over ${stableMs - joinMs} ms)`);

    // b restarts with the same instance id: same generation, same partitions.
    const generation = (await groups.describeGroup('g-static-coop')).generationId;
    const owned = b.assignment().map((p) => p.partition);
    await b.disconnect();
    await bRun;
    b = new Consumer({ brokers: cluster.bootstrap, groupId: 'g-static-coop', groupInstanceId: 'b', ...config });
    await b.connect();
    b.subscribe({ topics: ['static-coop'], fromBeginning: true });
    bRun = b.run({ eachMessage: async () => undefined });
    await until(() => b.assignment().length === 3, 'b back with its partitions');
    assert.deepEqual(b.assignment().map((p) => p.partition), owned);
    assert.equal((await groups.describeGroup('g-static-coop')).generationId, generation, 'no rebalance');
  } finally {
    await b.disconnect();
    await a.disconnect();
    await Promise.allSettled([aRun, bRun]);
  }
});
