/**
 * A leader that stops being one without knowing it: SIGSTOPped past the election timeout, or cut
 * off from the other two brokers (through the fault proxies). Writes sent straight to it (raw
 * Produce, no client retries or rerouting) are never acknowledged; the majority side elects a new
 * leader and goes on acknowledging; once the old leader is back it learns the later term (it
 * follows, or leads again if the balancer hands the partition back to it), catches up, and the
 * whole run checks clean. The majority's leadership may move on after that election (the
 * preferred-leader balancer), so its writes follow whoever leads it; the last test makes it move.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '../../client/admin.js';
import { BrokerError } from '../../client/errors.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { Producer } from '../../producer/producer.js';
import { ClusterHarness, waitUntil } from '../fixtures/cluster-harness.js';
import { ClusterHistory } from './cluster-history.js';
import { produceDirect, produceRecords } from './cluster-workload.js';

/** raft.election.ticks (12) x raft.tick.ms (50) x 2: the longest randomized election timeout. */
const ELECTION_TIMEOUT_MS_MAX = 1_200;
const RECORDS = Number(process.env.BROOK_CLUSTER_STALE_RECORDS ?? 6_000);
/**
 * Deadline of each raw write to the stale leader: longer than the fault can last (a new leader
 * within 20 s, then up to 15 s for the majority's write), so a paused broker answers them itself
 * once it is continued instead of the client giving up first (the test wants its answers).
 */
const DIRECT_TIMEOUT_MS = 40_000;

let cluster: ClusterHarness;

before(async () => {
  cluster = await ClusterHarness.start({ brokers: 3 });
});

after(async () => {
  await cluster?.close();
});

/** How long a topic's creation may wait for all three brokers to be LIVE. */
const CREATE_TOPIC_TIMEOUT_MS = 30_000;

async function createTopic(topic: string): Promise<void> {
  // Placement takes only LIVE brokers, and three replicas need all three. A broker that the test
  // before paused or cut off can still be fenced after the wait below saw it LIVE (seen once beside
  // a CPU burner): its lease (9 s) runs from its last heartbeat before the fault, and its links
  // come back only when the peers' reconnect backoff (up to 5 s) tries again. It is unfenced at
  // its next heartbeat, so a refusal for that reason is tried again.
  const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
  await admin.connect();
  try {
    const deadlineMs = Date.now() + CREATE_TOPIC_TIMEOUT_MS;
    for (;;) {
      await cluster.waitForRegistered(cluster.ids(), CREATE_TOPIC_TIMEOUT_MS);
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }] });
        return;
      } catch (error) {
        if (!(error instanceof BrokerError && error.code === 'INVALID_REPLICATION_FACTOR') || Date.now() >= deadlineMs) throw error;
        await sleep(200);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

function newProducer(): Producer {
  return new Producer({
    brokers: cluster.bootstrap,
    acks: 'all',
    requestTimeoutMs: 5_000,
    deliveryTimeoutMs: 60_000,
    retry: { retries: 100, initialRetryMs: 50, maxRetryMs: 500, maxRetryTimeMs: 50_000 },
  });
}

/**
 * Raw Produce requests (acks=all) to whichever broker other than `stale` leads `topic`/0 now,
 * until one is acknowledged (15 s): resolves with that broker. The leader is looked up again for
 * every attempt, because the broker first seen leading after the fault need not keep it: the
 * preferred-leader balancer hands the partition to its preferred replica as soon as that one is
 * caught up (when neither the stale leader nor the new one is the preferred replica). A timeout
 * names the last answers and every running broker's view of the partition.
 */
async function majorityWrite(topic: string, stale: number, kind: string, faultAtMs: number, history?: ClusterHistory): Promise<number> {
  const majority = cluster.ids().filter((id) => id !== stale);
  const answers: string[] = [];
  let attempt = 0;
  return waitUntil(`a write acknowledged by a leader of the majority (brokers ${majority.join(',')})`, 15_000, async () => {
    const value = `majority-${kind}-${attempt}`;
    const process = `majority-${attempt++}`;
    const sentMs = Date.now();
    const target = await cluster.leaderOf(topic, 0, majority);
    if (target === undefined) {
      answers.push(`+${sentMs - faultAtMs} ms ${process}: no broker of the majority claims the leadership`);
      return undefined;
    }
    history?.events.push({ type: 'send', process, topic, partition: 0, value, timeMs: Date.now() });
    const answer = await produceDirect(cluster.broker(target).address, topic, 0, [value], 3_000);
    if ('errorCode' in answer && answer.errorCode === 'NONE') {
      history?.events.push({ type: 'ack', process, topic, value, partition: 0, offset: answer.baseOffset, timeMs: Date.now() });
      return target;
    }
    answers.push(`+${sentMs - faultAtMs} ms ${process} to broker ${target} (answered in ${Date.now() - sentMs} ms): ${JSON.stringify(answer)}`);
    history?.events.push({ type: 'indeterminate', process, value, error: JSON.stringify(answer), timeMs: Date.now() });
    return undefined;
  }, 200).catch(async (error: unknown) => {
    if (error instanceof Error) {
      const views = await Promise.all(
        cluster.runningIds().map(async (id) => {
          const metadata = await cluster.metadataOf(id, [topic]).catch((cause: unknown) => String(cause));
          const partition = typeof metadata === 'string' ? metadata : metadata.topics.find((t) => t.name === topic)?.partitions[0];
          return `broker ${id}: ${JSON.stringify(partition)}`;
        }),
      );
      error.message += `\nthe last answers (times from the fault):\n  ${answers.slice(-8).join('\n  ')}\neach running broker's view of ${topic}/0 now:\n  ${views.join('\n  ')}`;
    }
    throw error;
  });
}

/** The broker leading `topic`/0 by its own account, with that leadership's epoch. */
async function leaderAndEpoch(topic: string): Promise<{ leader: number; epoch: number }> {
  return waitUntil(`a leader of ${topic}/0 and its epoch`, 20_000, async () => {
    const leader = await cluster.leaderOf(topic, 0);
    if (leader === undefined) return undefined;
    const seen = (await cluster.metadataOf(leader, [topic])).topics.find((t) => t.name === topic)?.partitions[0];
    return seen?.leader === leader ? { leader, epoch: seen.leaderEpoch } : undefined;
  });
}

/**
 * Runs `fault` (which makes `leader` stale and returns the heal) while a producer writes through
 * the client and raw Produce requests go straight to the stale leader; then heals, checks the run.
 */
async function staleLeaderRun(topic: string, kind: string, fault: (leader: number) => Promise<() => Promise<void>>): Promise<string> {
  await createTopic(topic);
  const firstLeader = await cluster.waitForLeader(topic, 0);
  const history = new ClusterHistory(firstLeader, `${kind} the leader of ${topic}/0`);
  const producer = newProducer();
  await producer.connect();
  let heal: (() => Promise<void>) | undefined;
  try {
    const producing = produceRecords({ history, producer, process: 'producer-1', topic, first: 0, count: RECORDS, inFlightMax: 200 });
    await waitUntil('first acknowledgements', 30_000, () => (history.acknowledgedCount >= RECORDS / 4 ? true : undefined), 20);

    // The leader as of now (the balancer may have handed the partition to its preferred replica
    // since it was created), and its epoch, which the stale leader stays in until it hears.
    const { leader, epoch: staleEpoch } = await leaderAndEpoch(topic);
    const faultAtMs = Date.now();
    heal = await fault(leader);
    // Raw writes to the stale leader: each is recorded as a send; only an answer of NONE would be
    // an acknowledgement, and none may come.
    const direct: Array<Promise<Awaited<ReturnType<typeof produceDirect>>>> = [];
    for (let i = 0; i < 5; i++) {
      const value = `direct-${kind}-${i}`;
      history.events.push({ type: 'send', process: `direct-${i}`, topic, partition: 0, value, timeMs: Date.now() });
      direct.push(
        produceDirect(cluster.broker(leader).address, topic, 0, [value], DIRECT_TIMEOUT_MS).then((answer) => {
          if ('errorCode' in answer && answer.errorCode === 'NONE') {
            history.events.push({ type: 'ack', process: `direct-${i}`, topic, value, partition: 0, offset: answer.baseOffset, timeMs: Date.now() });
          } else {
            const error = 'error' in answer ? answer.error : `${answer.errorCode}: ${answer.errorMessage}`;
            history.events.push({ type: 'indeterminate', process: `direct-${i}`, value, error, timeMs: Date.now() });
          }
          return answer;
        }),
      );
      await sleep(100);
    }
    const successor = await cluster.waitForLeader(topic, 0, 20_000, leader);
    await sleep(ELECTION_TIMEOUT_MS_MAX);
    // The majority side goes on while the old leader is still paused or cut off. (Through the
    // Producer this is not asked: it can keep asking the stale broker for metadata or retry a
    // timed-out request on it; see README.)
    const acknowledgedBy = await majorityWrite(topic, leader, kind, faultAtMs, history);
    assert.notEqual(acknowledgedBy, leader);
    const majorityOutcome = acknowledgedBy === successor
      ? `the new leader ${successor} acknowledged a write`
      : `leadership moved on to broker ${acknowledgedBy} inside the majority, which acknowledged a write`;
    await heal();
    heal = undefined;
    const healedAtMs = Date.now();
    history.nemesis(kind, `broker-${leader}`, faultAtMs, healedAtMs);

    const answers = await Promise.all(direct);
    for (const answer of answers) {
      assert.ok(!('errorCode' in answer) || answer.errorCode !== 'NONE', `the stale leader acknowledged a write: ${JSON.stringify(answer)}`);
    }
    // The requests reached the stale broker and it refused them itself (not only timeouts on the way).
    const refusals = answers.flatMap((answer) => ('errorCode' in answer ? [answer.errorCode] : []));
    assert.ok(refusals.length > 0, `the stale leader answered none of the direct writes: ${JSON.stringify(answers)}`);
    await producing;
    const producedAtMs = Date.now();

    // It has heard of the later term: its own metadata names a leader of a later epoch (another
    // broker, or itself when the balancer handed the partition back to it as its preferred replica
    // while the producer finished), and its log catches up.
    await waitUntil(`broker ${leader} in an epoch after ${staleEpoch}`, 20_000, async () => {
      const seen = (await cluster.metadataOf(leader, [topic])).topics.find((t) => t.name === topic)?.partitions[0];
      return seen !== undefined && seen.leader > 0 && seen.leaderEpoch > staleEpoch ? seen.leader : undefined;
    });
    assert.ok(successor !== leader);
    const caughtUpAtMs = Date.now();
    const comparison = await history.compareReplicas(cluster, topic, 1);
    assert.deepEqual(comparison.replicas[0], [1, 2, 3]);
    await history.readAll(cluster.bootstrap, topic, comparison);
    const result = history.assertClean();
    assert.ok(history.acknowledgedCount >= RECORDS * 0.9, `${history.acknowledgedCount} of ${RECORDS} acknowledged`);
    const answered = answers.map((answer) => ('errorCode' in answer ? answer.errorCode : answer.error.split(':')[0])).join(', ');
    return `stale leader ${leader}, new leader ${successor}; ${majorityOutcome}; direct writes to the stale leader answered: ${answered}; ${result.counts.acknowledged} acknowledged, ${result.counts.indeterminate} indeterminate; ` +
      `healed ${healedAtMs - faultAtMs} ms after the fault, the producer done ${producedAtMs - healedAtMs} ms and the old leader in a later epoch ${caughtUpAtMs - producedAtMs} ms after that`;
  } catch (error) {
    if (error instanceof Error) error.message += `\n${cluster.logs(8_000)}`;
    throw error;
  } finally {
    // A failed run must not leave its fault in place for the next test on this cluster.
    await heal?.();
    await producer.disconnect().catch(() => undefined);
  }
}

test('a leader SIGSTOPped past the election timeout acknowledges nothing after SIGCONT and rejoins as follower', { timeout: 120_000 }, async (t) => {
  t.diagnostic(await staleLeaderRun('paused-leader', 'pause', async (leader) => {
    cluster.pause(leader);
    return async () => {
      cluster.resume(leader);
    };
  }));
});

test('a leader cut off from the other brokers (minority side) acknowledges no produce; the majority goes on', { timeout: 120_000 }, async (t) => {
  t.diagnostic(await staleLeaderRun('isolated-leader', 'partition', async (leader) => {
    cluster.isolate(leader);
    return async () => {
      cluster.heal();
    };
  }));
});

test('the majority goes on when its leadership moves on after the election (to a new preferred replica)', { timeout: 90_000 }, async (t) => {
  const topic = 'moved-leader';
  await createTopic(topic);
  const leader = await cluster.waitForLeader(topic, 0);
  const faultAtMs = Date.now();
  cluster.isolate(leader);
  try {
    const successor = await cluster.waitForLeader(topic, 0, 20_000, leader);
    const third = cluster.ids().find((id) => id !== leader && id !== successor);
    assert.ok(third !== undefined);
    // The same replicas with the third broker first: it becomes the preferred leader, and the new
    // leader's balancer (every leader.balance.interval.ms, 10 s) hands it the leadership.
    const replicas = (await cluster.metadataOf(successor, [topic])).topics.find((t) => t.name === topic)?.partitions[0]?.replicas ?? [];
    if (replicas[0] !== third) {
      const admin = new Admin({ brokers: [cluster.broker(successor).address, cluster.broker(third).address], retry: { ...DEFAULT_RETRY, retries: 30 } });
      await admin.connect();
      try {
        await admin.reassignPartitions({ reassignments: [{ topic, partition: 0, replicas: [third, successor, leader] }] });
      } finally {
        await admin.disconnect();
      }
    }
    const electedAtMs = Date.now();
    await cluster.waitForLeader(topic, 0, 30_000, successor);
    assert.equal(await cluster.leaderOf(topic, 0, [successor, third]), third);
    const movedAtMs = Date.now();
    const acknowledgedBy = await majorityWrite(topic, leader, 'moved', faultAtMs);
    assert.equal(acknowledgedBy, third);
    t.diagnostic(
      `isolated leader ${leader}; broker ${successor} led ${electedAtMs - faultAtMs} ms after the fault, broker ${third} (now preferred) ` +
        `${movedAtMs - electedAtMs} ms later and acknowledged a write ${Date.now() - movedAtMs} ms after that`,
    );
  } catch (error) {
    if (error instanceof Error) error.message += `\n${cluster.logs(8_000)}`;
    throw error;
  } finally {
    cluster.heal();
  }
});
