import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfChangeType, Role } from '../../raft/types.js';
import { TranscriptCluster } from './transcript-cluster.js';

function cluster(lines: string[]): TranscriptCluster {
  const c = new TranscriptCluster();
  for (const line of lines) c.run(line);
  return c;
}

test('a removed leader keeps replicating but does not count itself, then steps down on commit', () => {
  const c = cluster(['nodes 3', 'campaign 1', 'stabilize', 'propose-conf-change 1 remove 1', 'process-ready 1', 'deliver 2', 'process-ready 2', 'deliver 1']);
  // Leader 1 and follower 2 hold the entry: a majority of {1,2,3}, but not of the new {2,3}.
  assert.deepEqual(c.statusOf(1).conf.voters, [2, 3]);
  assert.equal(c.statusOf(1).commit, 1);
  assert.equal(c.statusOf(1).role, Role.Leader);
  c.run('deliver 3');
  c.run('process-ready 3');
  c.run('deliver 1');
  assert.equal(c.statusOf(1).commit, 2);
  assert.equal(c.statusOf(1).role, Role.Follower);
  c.run('stabilize');
  assert.ok(c.statusOf(2).role === Role.Leader || c.statusOf(3).role === Role.Leader);
  assert.equal(c.statusOf(2).term, 2);
});

test('a restarted node finds the configuration in its log, committed or not', () => {
  const c = cluster(['nodes 3', 'campaign 1', 'stabilize', 'add-node 4', 'propose-conf-change 1 add-learner 4', 'process-ready 1', 'deliver 2', 'process-ready 2']);
  assert.deepEqual(c.statusOf(2).conf.learners, [4]);
  assert.equal(c.statusOf(2).commit, 1, 'the change is not committed on node 2');
  c.run('restart 2');
  assert.deepEqual(c.statusOf(2).conf, { voters: [1, 2, 3], learners: [4] });
});

test('membership proposals are validated against the configuration in force', () => {
  const c = cluster(['nodes 3', 'campaign 1', 'stabilize', 'add-node 4']);
  const leader = c.raftNode(1);
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 2 }).ok, false);
  assert.deepEqual(leader.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 9 }), { ok: false, reason: 'conf-change-invalid', leader: 1 });
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 }).ok, true);
  c.run('isolate 4');
  c.run('stabilize');
  // The learner has not caught up (it is cut off): promoting it would weaken the quorum.
  assert.deepEqual(leader.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 4 }), { ok: false, reason: 'learner-behind', leader: 1 });
  c.run('heal');
  c.run('tick 1');
  c.run('stabilize');
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 4 }).ok, true);
  c.run('stabilize');
  assert.deepEqual(c.statusOf(4).conf.voters, [1, 2, 3, 4]);
});

test('the last voter cannot be removed', () => {
  const c = cluster(['nodes 1', 'campaign 1', 'stabilize']);
  assert.deepEqual(c.raftNode(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 }), { ok: false, reason: 'conf-change-invalid', leader: 1 });
});

test('a read requested before the new leader commits in its term is answered after that commit', () => {
  const c = cluster(['nodes 3', 'campaign 1', 'process-ready 1', 'deliver 2 3', 'process-ready 2 3', 'deliver 1', 'process-ready 1', 'deliver 2 3', 'process-ready 2 3', 'deliver 1']);
  assert.equal(c.statusOf(1).role, Role.Leader);
  assert.equal(c.statusOf(1).commit, 0);
  const out = [...c.run('read-index 1 early'), ...c.run('stabilize')];
  const readLine = out.find((line) => line.includes('read state'));
  assert.equal(readLine?.trim(), 'read state: index=1 context=early');
});
