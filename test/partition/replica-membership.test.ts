import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MembershipChangeError } from '../../broker/partition/replica-errors.js';
import { ConfChangeType, Role } from '../../raft/types.js';
import { ReplicaCluster, makeBatch, valuesOf } from './replica-cluster.js';

test('membership: a learner joins, is promoted, a voter leaves; the configuration survives a restart of every node', async () => {
  const cluster = await ReplicaCluster.start([1, 2, 3]);
  try {
    let leader = await cluster.waitForLeader();
    for (let i = 0; i < 4; i++) await leader.append(makeBatch(`m${i}`), 'all');
    const joining = await cluster.open(4);
    await leader.changeMembership({ type: ConfChangeType.AddLearner, nodeId: 4 });
    // One change at a time: a second one while the first is in flight is refused.
    const promote = { type: ConfChangeType.AddVoter, nodeId: 4 };
    await cluster.waitFor('the learner catching up', () => {
      const progress = leader.status().progress?.get(4);
      return progress !== undefined && progress.match >= leader.status().commit;
    });
    await leader.changeMembership(promote);
    await assert.rejects(leader.changeMembership(promote), MembershipChangeError);
    const leaving = [1, 2, 3].find((id) => id !== leader.nodeId) as number;
    await leader.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: leaving });
    await cluster.stop(leaving);
    const voters = [1, 2, 3, 4].filter((id) => id !== leaving);
    await leader.append(makeBatch('after-change'), 'all');
    await cluster.waitForConvergence();
    assert.deepEqual(joining.status().conf, { voters, learners: [] });

    for (const id of voters) await cluster.stop(id);
    for (const id of voters) await cluster.open(id);
    for (const id of voters) assert.deepEqual(cluster.get(id).status().conf, { voters, learners: [] }, `node ${id} after restart`);
    leader = await cluster.waitForLeader();
    await leader.append(makeBatch('after-restart'), 'all');
    await cluster.waitForConvergence();
    const values = valuesOf(await cluster.committedBytes(4));
    assert.deepEqual(values.filter((value) => value.endsWith('-0')), ['m0-0', 'm1-0', 'm2-0', 'm3-0', 'after-change-0', 'after-restart-0']);
  } finally {
    await cluster.close();
  }
});

test('leadership transfer hands the group to the chosen voter', async () => {
  const cluster = await ReplicaCluster.start([1, 2, 3]);
  try {
    const leader = await cluster.waitForLeader();
    await leader.append(makeBatch('t'), 'all');
    const target = [1, 2, 3].find((id) => id !== leader.nodeId) as number;
    leader.transferLeadership(target);
    const next = await cluster.waitFor('the transfer', () => cluster.leader()?.nodeId === target && cluster.leader());
    assert.equal(next.nodeId, target);
    await next.append(makeBatch('u'), 'all');
    await cluster.waitForConvergence();
  } finally {
    await cluster.close();
  }
});

test('acks=leader resolves at the leader\'s own write, and such an append is lost when that leader is deposed', async () => {
  const cluster = await ReplicaCluster.start([1, 2, 3]);
  try {
    const first = await cluster.waitForLeader();
    await first.append(makeBatch('kept'), 'all');
    cluster.isolate(first.nodeId);
    const outcome = await first.append(makeBatch('leader-only'), 'leader');
    // Acknowledged, yet not committed: no majority has it.
    assert.ok(first.highWatermark <= outcome.baseOffset);
    const others = [1, 2, 3].filter((id) => id !== first.nodeId).map((id) => cluster.get(id));
    const second = await cluster.waitFor('a majority leader', () => others.find((replica) => replica.role === Role.Leader));
    await second.append(makeBatch('majority'), 'all');
    cluster.heal();
    await cluster.waitForConvergence();
    const values = valuesOf(await cluster.committedBytes(first.nodeId));
    assert.ok(values.includes('kept-0') && values.includes('majority-0'));
    assert.ok(!values.includes('leader-only-0'), 'the acks=leader append was overwritten by the new leader');
  } finally {
    await cluster.close();
  }
});
