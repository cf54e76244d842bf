/**
 * A replica whose stored batches went bad (README.md, "Damaged storage"): it finds the damage (a
 * scrub after an unclean restart, or a read), never serves it, cuts its log there, votes for no
 * one until it holds again what it may have acknowledged, and ends byte-identical to the others.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ReplicaClosedError } from '../../broker/partition/replica-errors.js';
import { CLEAN_SHUTDOWN_FILE } from '../../broker/storage/partition-log.js';
import { CorruptLogError } from '../../broker/storage/storage-errors.js';
import type { NodeId } from '../../raft/types.js';
import { dataBatchCount, flipRecordBit, segmentFiles } from '../fixtures/flip-bit.js';
import { ReplicaCluster, makeBatch, valuesOf } from './replica-cluster.js';

const NODES: NodeId[] = [1, 2, 3];
const LOG = { segmentBytes: 16 * 1024, maxBatchBytes: 8 * 1024, tailCacheBytes: 2048, indexIntervalBytes: 512 } as const;
const BATCHES = 40;

async function filled(cluster: ReplicaCluster, tag: string): Promise<void> {
  const leader = await cluster.waitForLeader();
  for (let i = 0; i < BATCHES; i++) await leader.append(makeBatch(`${tag}${i}`, 2, 200), 'all');
  await cluster.waitForConvergence();
}

/** Every replica holds the same committed bytes, with every value of `tags` exactly once. */
async function assertIdentical(cluster: ReplicaCluster, tags: readonly string[]): Promise<void> {
  await cluster.waitForConvergence(20_000);
  const reference = await cluster.committedBytes(NODES[0]);
  for (const id of NODES.slice(1)) assert.ok((await cluster.committedBytes(id)).equals(reference), `node ${id} differs from node ${NODES[0]}`);
  const values = valuesOf(reference);
  for (const tag of tags) {
    for (let i = 0; i < BATCHES; i++) assert.equal(values.filter((value) => value === `${tag}${i}-0`).length, 1, `${tag}${i} is in the log once`);
  }
}

/** Power loss of `id`, one bit flipped in its oldest segment, restart: the scrub finds it and the replica is reopened to repair. */
async function damageAndRepair(cluster: ReplicaCluster, id: NodeId): Promise<number> {
  await cluster.crash(id);
  const flipped = flipRecordBit(cluster.dir(id), 0, 1);
  const scrubbing = await cluster.open(id);
  const failure = await cluster.waitFor('the scrub to find the flipped bit', () => scrubbing.failed);
  assert.ok(failure instanceof CorruptLogError, String(failure));
  assert.equal(failure.offset, flipped.batchBaseOffset);
  await cluster.stop(id);
  const repairing = await cluster.open(id);
  assert.equal(repairing.repairing, true);
  assert.equal(repairing.logEndOffset, flipped.batchBaseOffset, 'the log is cut at the damaged batch');
  return flipped.batchBaseOffset;
}

test('a follower whose stored batch went bad finds it after an unclean restart, fetches it again, and ends byte-identical', async () => {
  const cluster = await ReplicaCluster.start(NODES, LOG);
  try {
    await filled(cluster, 'a');
    const leader = (await cluster.waitForLeader()).nodeId;
    const follower = NODES.find((id) => id !== leader) as NodeId;
    await damageAndRepair(cluster, follower);
    // The leader had it matched far beyond its new end: it must back off below what it acknowledged.
    await cluster.waitFor('the repair to finish', () => !cluster.get(follower).repairing, 20_000);
    await assertIdentical(cluster, ['a']);
  } finally {
    await cluster.close();
  }
});

test('a repairing replica grants no vote to a log without what it lost: the survivor missing it is not elected', async () => {
  const cluster = await ReplicaCluster.start(NODES, LOG);
  try {
    await filled(cluster, 'a');
    const leader = await cluster.waitForLeader();
    const [victim, other] = NODES.filter((id) => id !== leader.nodeId);
    // Phase b is committed by the leader and the victim only.
    cluster.cut(leader.nodeId, other);
    for (let i = 0; i < BATCHES; i++) await leader.append(makeBatch(`b${i}`, 2, 200), 'all');
    cluster.cut(leader.nodeId, victim);
    await damageAndRepair(cluster, victim);
    // Only the victim (its log now cut inside phase a) and `other` (without phase b) can talk.
    // A vote for `other` would elect a leader without committed entries.
    cluster.isolate(leader.nodeId);
    const deadline = Date.now() + 2_500;
    while (Date.now() < deadline) {
      for (const id of [victim, other]) assert.equal(cluster.get(id).isLeader, false, `node ${id} was elected with the repairing node's vote`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(cluster.get(victim).repairing, true);
    cluster.heal();
    const next = await cluster.waitForLeader(20_000);
    for (let i = 0; i < BATCHES; i++) await next.append(makeBatch(`c${i}`, 2, 200), 'all');
    await cluster.waitFor('the repair to finish', () => !cluster.get(victim).repairing, 20_000);
    await assertIdentical(cluster, ['a', 'b', 'c']);
  } finally {
    await cluster.close();
  }
});

test('a repairing replica votes for a log that holds what it lost: the sound survivor is elected', async () => {
  const cluster = await ReplicaCluster.start(NODES, LOG);
  try {
    await filled(cluster, 'a');
    const leader = (await cluster.waitForLeader()).nodeId;
    const [victim, other] = NODES.filter((id) => id !== leader);
    cluster.cut(leader, victim);
    await damageAndRepair(cluster, victim);
    await cluster.stop(leader);
    const next = await cluster.waitForLeader(20_000);
    assert.equal(next.nodeId, other);
    for (let i = 0; i < BATCHES; i++) await next.append(makeBatch(`b${i}`, 2, 200), 'all');
    await cluster.waitFor('the repair to finish', () => !cluster.get(victim).repairing, 20_000);
    await cluster.open(leader);
    await assertIdentical(cluster, ['a', 'b']);
  } finally {
    await cluster.close();
  }
});

test('a leader asked to serve a batch that went bad on its disk serves nothing, steps aside, and repairs from the new leader', async () => {
  const cluster = await ReplicaCluster.start(NODES, { ...LOG, tailCacheBytes: 0 });
  try {
    await filled(cluster, 'a');
    const leader = await cluster.waitForLeader();
    const flipped = flipRecordBit(cluster.dir(leader.nodeId), 0, 1);
    await assert.rejects(leader.read(flipped.batchBaseOffset, 1 << 20), (error: unknown) => error instanceof ReplicaClosedError && error.cause instanceof CorruptLogError);
    assert.ok(leader.failed instanceof CorruptLogError);
    await cluster.stop(leader.nodeId);
    const next = await cluster.waitForLeader(20_000);
    assert.notEqual(next.nodeId, leader.nodeId);
    const reopened = await cluster.open(leader.nodeId);
    assert.equal(reopened.repairing, true);
    assert.equal(reopened.logEndOffset, flipped.batchBaseOffset);
    for (let i = 0; i < BATCHES; i++) await next.append(makeBatch(`b${i}`, 2, 200), 'all');
    await cluster.waitFor('the repair to finish', () => !reopened.repairing, 20_000);
    await assertIdentical(cluster, ['a', 'b']);
  } finally {
    await cluster.close();
  }
});

test('a power loss that leaves a bad batch before sound ones: recovery cuts there and the replica repairs before it may vote', async () => {
  // No index entries: recovery CRC-checks the whole tail segment, so it (not the scrub) finds the flip.
  const cluster = await ReplicaCluster.start(NODES, { ...LOG, segmentBytes: 1024 * 1024, indexIntervalBytes: 1024 * 1024 });
  try {
    await filled(cluster, 'a');
    const leader = (await cluster.waitForLeader()).nodeId;
    const victim = NODES.find((id) => id !== leader) as NodeId;
    await cluster.crash(victim);
    const dir = cluster.dir(victim);
    const flipped = flipRecordBit(dir, -1, dataBatchCount(dir, -1) - 3);
    const reopened = await cluster.open(victim);
    assert.equal(reopened.logEndOffset, flipped.batchBaseOffset, 'recovery cut the log at the bad batch');
    assert.equal(reopened.repairing, true, 'cut below what it may have acknowledged: it must not vote yet');
    await cluster.waitFor('the repair to finish', () => !reopened.repairing, 20_000);
    await assertIdentical(cluster, ['a']);
  } finally {
    await cluster.close();
  }
});

test('a lone voter has no copy to repair from: the damaged batch stays unreadable, the replica keeps serving the rest', async () => {
  const cluster = await ReplicaCluster.start([1], { ...LOG, tailCacheBytes: 0 });
  try {
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < BATCHES; i++) await leader.append(makeBatch(`a${i}`, 2, 200), 'all');
    const flipped = flipRecordBit(cluster.dir(1), 0, 1);
    await assert.rejects(leader.read(flipped.batchBaseOffset, 1 << 20), CorruptLogError);
    assert.equal(leader.failed, undefined);
    assert.equal(leader.isLeader, true);
    const after = await leader.read(flipped.batchLastOffset + 1, 1 << 20);
    assert.ok(after.length > 0);
    await leader.append(makeBatch('more'), 'all');
  } finally {
    await cluster.close();
  }
});

test('a log that comes back shorter than the commit its state recorded lost durable entries: the replica repairs before it may vote', async () => {
  const cluster = await ReplicaCluster.start(NODES, LOG);
  try {
    await filled(cluster, 'a');
    const leader = (await cluster.waitForLeader()).nodeId;
    const victim = NODES.find((id) => id !== leader) as NodeId;
    // A clean stop records the commit; then the end of the log goes (a bad last batch is cut as a
    // torn write, which recovery cannot tell from one).
    await cluster.stop(victim);
    const dir = cluster.dir(victim);
    const tail = segmentFiles(dir).at(-1) as string;
    await truncate(tail, statSync(tail).size - 600);
    await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
    const reopened = await cluster.open(victim);
    assert.ok(reopened.logEndOffset < cluster.get(leader).logEndOffset);
    assert.equal(reopened.repairing, true);
    await cluster.waitFor('the repair to finish', () => !reopened.repairing, 20_000);
    await assertIdentical(cluster, ['a']);
  } finally {
    await cluster.close();
  }
});

test('a follower that rewrote a stale suffix with other batch boundaries restarts from a recorded commit that is an entry boundary', async () => {
  const cluster = await ReplicaCluster.start(NODES, LOG);
  try {
    await filled(cluster, 'a');
    const old = await cluster.waitForLeader();
    // The cut-off leader appends a stale suffix of 3-record batches that never commits...
    cluster.isolate(old.nodeId);
    const stale = Array.from({ length: 3 }, (_, i) => old.append(makeBatch(`stale${i}`, 3), 'all').catch(() => undefined));
    // ...while the others commit 5-record batches at the same offsets, well past its end.
    const next = await cluster.waitFor('a leader among the others', () => [...cluster.replicas.values()].find((replica) => replica.isLeader && replica.nodeId !== old.nodeId), 20_000);
    for (let i = 0; i < 6; i++) await next.append(makeBatch(`b${i}`, 5), 'all');
    cluster.heal();
    await Promise.all(stale);
    await cluster.waitForConvergence(20_000);
    // Power loss: the state file holds the commit recorded while the suffix was rewritten.
    await cluster.crash(old.nodeId);
    await cluster.open(old.nodeId);
    const leader = await cluster.waitForLeader(20_000);
    for (let i = 0; i < 3; i++) await leader.append(makeBatch(`c${i}`, 5), 'all');
    await cluster.waitForConvergence(20_000);
    const reference = await cluster.committedBytes(NODES[0]);
    for (const id of NODES.slice(1)) assert.ok((await cluster.committedBytes(id)).equals(reference), `node ${id} differs`);
    assert.ok(!valuesOf(reference).some((value) => value.startsWith('stale')), 'the stale suffix never committed');
  } finally {
    await cluster.close();
  }
});
