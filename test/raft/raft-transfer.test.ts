import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageType, Role } from '../../raft/types.js';
import { TranscriptCluster } from './transcript-cluster.js';

function cluster(lines: string[]): TranscriptCluster {
  const c = new TranscriptCluster();
  for (const line of lines) c.run(line);
  return c;
}

test('a transfer that cannot finish within an election timeout is abandoned and proposals resume', () => {
  const c = cluster(['nodes 3', 'campaign 1', 'stabilize', 'isolate 3', 'transfer-leadership 1 3']);
  const leader = c.raftNode(1);
  assert.equal(leader.status().transferee, 3);
  assert.equal(leader.propose(new Uint8Array(1), 1).ok, false);
  c.run('tick 1 9');
  c.run('stabilize 1 2');
  assert.equal(leader.status().transferee, 3);
  c.run('tick 1');
  c.run('stabilize 1 2');
  assert.equal(leader.status().transferee, undefined);
  assert.equal(leader.status().role, Role.Leader);
  assert.equal(leader.propose(new Uint8Array(1), 1).ok, true);
});

test('a transfer to an up-to-date follower sends TimeoutNow at once; learners and strangers are ignored', () => {
  const c = cluster(['nodes 3 learners=4', 'campaign 1', 'stabilize']);
  const leader = c.raftNode(1);
  c.sent.length = 0;
  leader.transferLeadership(4);
  leader.transferLeadership(9);
  assert.equal(leader.status().transferee, undefined);
  leader.transferLeadership(2);
  c.run('process-ready 1');
  assert.deepEqual(c.sent.map((m) => [m.type, m.to]), [[MessageType.TimeoutNow, 2]]);
  c.run('stabilize');
  assert.equal(c.statusOf(2).role, Role.Leader);
  assert.equal(c.statusOf(2).term, 2);
});

test('a failed snapshot send is retried after the next heartbeat answer', () => {
  const c = cluster(['nodes 3', 'campaign 1', 'stabilize', 'isolate 3', 'propose 1 a 5', 'stabilize', 'compact 1 6', 'heal', 'tick 1']);
  // Deliver the heartbeat round, then let the leader send its snapshot, and lose it.
  c.run('stabilize 1 2');
  c.run('deliver 3');
  c.run('process-ready 3');
  c.run('deliver 1');
  c.run('process-ready 1');
  c.run('deliver 3');
  c.run('process-ready 3');
  c.run('deliver 1');
  c.run('process-ready 1');
  const snapshots = c.sent.filter((m) => m.type === MessageType.Snapshot);
  assert.equal(snapshots.length, 1);
  c.run('drop 3');
  c.raftNode(1).reportSnapshot(3, false);
  assert.equal(c.statusOf(1).progress?.get(3)?.state, 'probe');
  c.run('tick 1');
  c.run('stabilize');
  assert.equal(c.sent.filter((m) => m.type === MessageType.Snapshot).length, 2);
  assert.equal(c.statusOf(3).commit, c.statusOf(1).commit);
});
