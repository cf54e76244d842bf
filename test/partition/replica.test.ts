import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotLeaderError } from '../../broker/partition/replica-errors.js';
import type { AppendOutcome } from '../../broker/partition/replica.js';
import { isControlBatch } from '../../record/batch-header.js';
import { Role } from '../../raft/types.js';
import { ReplicaCluster, makeBatch, valuesOf } from './replica-cluster.js';

const NODES = [1, 2, 3];

async function assertIdenticalLogs(cluster: ReplicaCluster): Promise<Buffer> {
  const ids = [...cluster.replicas.keys()];
  const reference = await cluster.committedBytes(ids[0], 1);
  for (const id of ids.slice(1)) {
    const bytes = await cluster.committedBytes(id, 1);
    assert.ok(bytes.equals(reference), `node ${id}'s committed log differs from node ${ids[0]}'s`);
  }
  return reference;
}

test('a leader is elected; acks=all appends are committed and byte-identical on every replica', async () => {
  const cluster = await ReplicaCluster.start(NODES);
  try {
    const leader = await cluster.waitForLeader();
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => leader.append(makeBatch(`a${i}`), 'all')));
    // Offsets are assigned in order, contiguously, 3 records per batch.
    for (let i = 1; i < outcomes.length; i++) assert.equal(outcomes[i].baseOffset, outcomes[i - 1].lastOffset + 1);
    for (const outcome of outcomes) assert.equal(outcome.lastOffset - outcome.baseOffset, 2);
    // Acknowledged means committed on the leader.
    assert.ok(leader.highWatermark > outcomes[outcomes.length - 1].lastOffset);
    await cluster.waitForConvergence();
    const bytes = await assertIdenticalLogs(cluster);
    const expected = Array.from({ length: 12 }, (_, i) => [0, 1, 2].map((k) => `a${i}-${k}`)).flat();
    assert.deepEqual(valuesOf(bytes), expected);
    // The first batch is the first leader's marker, a control batch at offset 1 that consumers skip.
    assert.equal(bytes.readBigInt64BE(0), 1n);
    assert.ok(isControlBatch(bytes, 0));
    // Followers refuse appends with the leader's id as a hint.
    const follower = [...cluster.replicas.values()].find((replica) => replica.role === Role.Follower);
    assert.ok(follower !== undefined);
    await assert.rejects(follower.append(makeBatch('x'), 'all'), (error: unknown) => error instanceof NotLeaderError && error.leaderHint === leader.nodeId);
  } finally {
    await cluster.close();
  }
});

test('after the leader loses power, every acknowledged append survives and a new leader takes over', async () => {
  const cluster = await ReplicaCluster.start(NODES, { tailCacheBytes: 4096 });
  try {
    const leader = await cluster.waitForLeader();
    const acknowledged: string[] = [];
    let crashed = false;
    const appends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i++) {
      const tag = `b${i}`;
      appends.push(
        leader.append(makeBatch(tag, 2, 512), 'all').then(
          () => {
            if (!crashed) acknowledged.push(tag);
          },
          () => undefined,
        ),
      );
      if (i === 25) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    await cluster.waitFor('some acknowledgements', () => acknowledged.length >= 10);
    crashed = true;
    const oldLeader = leader.nodeId;
    await cluster.crash(oldLeader);
    await Promise.all(appends);
    const newLeader = await cluster.waitForLeader();
    assert.notEqual(newLeader.nodeId, oldLeader);
    await newLeader.append(makeBatch('after'), 'all');
    const values = valuesOf(await cluster.committedBytes(newLeader.nodeId));
    for (const tag of acknowledged) assert.ok(values.includes(`${tag}-0`) && values.includes(`${tag}-1`), `acknowledged ${tag} lost`);

    // The old leader comes back from what its disk kept and catches up (from disk: its tail cache is tiny).
    await cluster.open(oldLeader);
    await cluster.waitForConvergence();
    await assertIdenticalLogs(cluster);
    assert.ok(newLeader.coldReads > 0, 'catching up should have read from the segment files');
  } finally {
    await cluster.close();
  }
});

test('appends on a leader cut off in a minority are never acknowledged, and its divergent suffix is truncated', async () => {
  const cluster = await ReplicaCluster.start(NODES);
  try {
    const first = await cluster.waitForLeader();
    await first.append(makeBatch('committed'), 'all');
    await cluster.waitForConvergence();
    cluster.isolate(first.nodeId);
    const settled: string[] = [];
    const minority: Array<Promise<AppendOutcome | undefined>> = [];
    for (let i = 0; i < 5; i++) {
      minority.push(
        first.append(makeBatch(`lost${i}`), 'all').then(
          (outcome) => {
            settled.push(`acknowledged lost${i}`);
            return outcome;
          },
          (error: unknown) => {
            assert.ok(error instanceof NotLeaderError, String(error));
            return undefined;
          },
        ),
      );
    }
    // The cut-off leader wrote them to its own log.
    await cluster.waitFor('the minority writes', () => first.logEndOffset > first.highWatermark);
    const others = NODES.filter((id) => id !== first.nodeId).map((id) => cluster.get(id));
    const second = await cluster.waitFor('a majority leader', () => others.find((replica) => replica.role === Role.Leader));
    await second.append(makeBatch('majority'), 'all');
    // Check-quorum makes the old leader step down; its appends fail, none is acknowledged.
    await cluster.waitFor('the old leader stepping down', () => first.role !== Role.Leader);
    assert.deepEqual(await Promise.all(minority), [undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(settled, []);

    cluster.heal();
    await cluster.waitForConvergence();
    const bytes = await assertIdenticalLogs(cluster);
    const values = valuesOf(bytes);
    assert.ok(values.includes('committed-0') && values.includes('majority-0'));
    assert.ok(!values.some((value) => value.startsWith('lost')), 'the divergent suffix must be gone');
    // No replica ever showed consumers an offset that later changed.
    assert.ok(cluster.checkCommittedNeverChanged(second.nodeId) > 0);
    assert.equal(first.logEndOffset, second.logEndOffset);
  } finally {
    await cluster.close();
  }
});

test('a follower behind the leader log start restarts from it (snapshot) and then replicates', async () => {
  const cluster = await ReplicaCluster.start(NODES);
  try {
    const leader = await cluster.waitForLeader();
    const lagging = NODES.find((id) => id !== leader.nodeId) as number;
    cluster.isolate(lagging);
    for (let i = 0; i < 6; i++) await leader.append(makeBatch(`old${i}`), 'all');
    const start = leader.highWatermark;
    await leader.log.advanceLogStartOffset(start);
    assert.equal(leader.logStartOffset, start);
    cluster.heal();
    await leader.append(makeBatch('new'), 'all');
    await cluster.waitForConvergence();
    const follower = cluster.get(lagging);
    assert.equal(follower.logStartOffset, start);
    const fromStart = await cluster.committedBytes(lagging, start);
    assert.ok(fromStart.equals(await cluster.committedBytes(leader.nodeId, start)));
    assert.deepEqual(valuesOf(fromStart), ['new-0', 'new-1', 'new-2']);
    // The follower keeps its restart point across a restart.
    await cluster.stop(lagging);
    const reopened = await cluster.open(lagging);
    assert.equal(reopened.logStartOffset, start);
    await leader.append(makeBatch('later'), 'all');
    await cluster.waitForConvergence();
    assert.deepEqual(valuesOf(await cluster.committedBytes(lagging)), ['new-0', 'new-1', 'new-2', 'later-0', 'later-1', 'later-2']);
  } finally {
    await cluster.close();
  }
});

test('a follower drops Appends whose batches were damaged on the way, and recovers once they arrive intact', async () => {
  const cluster = await ReplicaCluster.start(NODES);
  try {
    const leader = await cluster.waitForLeader();
    const victim = NODES.find((id) => id !== leader.nodeId) as number;
    cluster.corruptTo.add(victim);
    for (let i = 0; i < 5; i++) await leader.append(makeBatch(`d${i}`), 'all');
    // The appends commit on the leader and the healthy follower; the damaged copies reach the
    // victim on their own time, so wait for it to have refused one rather than assume it has.
    await cluster.waitFor('a damaged Append dropped', () => cluster.get(victim).droppedMessages > 0);
    assert.ok(cluster.get(victim).logEndOffset < leader.logEndOffset);
    cluster.corruptTo.clear();
    await cluster.waitForConvergence();
    await assertIdenticalLogs(cluster);
  } finally {
    await cluster.close();
  }
});

test('group commit: many concurrent appends share few fdatasyncs on every replica', async () => {
  const cluster = await ReplicaCluster.start(NODES);
  try {
    const leader = await cluster.waitForLeader();
    await leader.append(makeBatch('warm-up'), 'all');
    await cluster.waitForConvergence();
    const before = new Map(NODES.map((id) => [id, cluster.logSyncs.get(id) ?? 0]));
    const appends = 64;
    await Promise.all(Array.from({ length: appends }, (_, i) => leader.append(makeBatch(`g${i}`, 4, 200), 'all')));
    await cluster.waitForConvergence();
    for (const id of NODES) {
      const syncs = (cluster.logSyncs.get(id) ?? 0) - before.get(id)!;
      assert.ok(syncs >= 1 && syncs <= appends / 4, `node ${id}: ${syncs} fdatasyncs for ${appends} appends`);
    }
  } finally {
    await cluster.close();
  }
});

test('a leader whose fdatasync stalls acknowledges what both followers hold durably once its log has written it, and replicates what is proposed meanwhile', async () => {
  const cluster = await ReplicaCluster.start(NODES);
  const gates = [gate(), gate()];
  try {
    const leader = await cluster.waitForLeader();
    await leader.append(makeBatch('warm-up'), 'all');
    await cluster.waitForConvergence();
    const followers = NODES.filter((id) => id !== leader.nodeId);
    let gateOfSyncs = gates[0];
    cluster.syncHolds.set(leader.nodeId, () => gateOfSyncs.opened);
    const within = <T>(what: string, promise: Promise<T>): Promise<T> =>
      Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not acknowledged in time`)), 5_000))]);
    // The first append's Ready waits in the leader's fdatasync: written there, durable on both followers.
    const first = await within('the append whose leader sync stalls', leader.append(makeBatch('s1'), 'all'));
    assert.ok(leader.highWatermark > first.lastOffset);
    // Proposed while that Ready is still being written: its Appends leave at once all the same.
    let secondAcknowledged = false;
    const second = leader.append(makeBatch('s2'), 'all').then((outcome) => {
      secondAcknowledged = true;
      return outcome;
    });
    await cluster.waitFor('both followers holding the second append', () => followers.every((id) => cluster.get(id).logEndOffset > first.lastOffset + 3));
    assert.equal(secondAcknowledged, false, 'not acknowledged before the leader has written it');
    // The first sync completes; the next Ready writes the second append and stalls in its sync.
    gateOfSyncs = gates[1];
    gates[0].open();
    const outcome = await within('the append written by the leader but not yet synced there', second);
    assert.equal(outcome.baseOffset, first.lastOffset + 1);
    gates[1].open();
    await cluster.waitForConvergence();
    assert.equal(cluster.leader(), leader);
    const bytes = await assertIdenticalLogs(cluster);
    assert.deepEqual(valuesOf(bytes).slice(-6), ['s1-0', 's1-1', 's1-2', 's2-0', 's2-1', 's2-2']);
  } finally {
    for (const g of gates) g.open();
    await cluster.close();
  }
});

function gate(): { readonly opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
