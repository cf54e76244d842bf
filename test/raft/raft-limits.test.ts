import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftNode } from '../../raft/raft-node.js';
import { MessageType, type Message, type RaftConfig } from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';
import { TranscriptCluster } from './transcript-cluster.js';

function electedCluster(options: string): TranscriptCluster {
  const cluster = new TranscriptCluster();
  for (const line of [`nodes 3 ${options}`, 'campaign 1', 'stabilize']) cluster.run(line);
  assert.equal(cluster.statusOf(1).role, 'leader');
  cluster.sent.length = 0;
  return cluster;
}

function appendsTo(cluster: TranscriptCluster, to: number): Message[] {
  return cluster.sent.filter((m) => m.type === MessageType.Append && m.to === to && m.entries.length > 0);
}

test('maxUncommittedBytes: the leader refuses proposals beyond the limit until entries commit', () => {
  const cluster = electedCluster('max-uncommitted-bytes=10');
  // Followers are cut off, so nothing commits.
  cluster.run('isolate 2 3');
  const node = cluster.raftNode(1);
  const bytes = (n: number): Uint8Array => new Uint8Array(n);
  assert.equal(node.propose(bytes(6), 1).ok, true);
  assert.equal(node.propose(bytes(4), 1).ok, true);
  const refused = node.propose(bytes(1), 1);
  assert.deepEqual(refused, { ok: false, reason: 'uncommitted-bytes-limit', leader: 1 });
  cluster.run('heal');
  cluster.run('tick 1');
  cluster.run('stabilize');
  assert.equal(node.propose(bytes(8), 1).ok, true, 'accepted again once the earlier entries committed');
});

test('maxUncommittedBytes: one entry larger than the limit is accepted when nothing is pending', () => {
  const cluster = electedCluster('max-uncommitted-bytes=10');
  const node = cluster.raftNode(1);
  assert.equal(node.propose(new Uint8Array(50), 1).ok, true);
  assert.equal(node.propose(new Uint8Array(1), 1).ok, false);
});

test('maxEntriesPerMessage and maxMessageBytes bound every Append (but one entry always goes)', () => {
  const cluster = electedCluster('max-entries=3 max-message-bytes=20 max-inflight=100 max-inflight-bytes=100000');
  cluster.run('isolate 3');
  const node = cluster.raftNode(1);
  for (let i = 0; i < 10; i++) node.propose(new Uint8Array(4), 2);
  node.propose(new Uint8Array(50), 1);
  cluster.run('heal');
  cluster.run('tick 1');
  cluster.run('stabilize');
  const appends = appendsTo(cluster, 3);
  assert.ok(appends.length >= 4);
  for (const m of appends) {
    assert.ok(m.entries.length <= 3, `${m.entries.length} entries in one Append`);
    const bytes = m.entries.reduce((sum, e) => sum + e.data.length, 0);
    assert.ok(bytes <= 20 || m.entries.length === 1, `${bytes} bytes in one Append`);
  }
  assert.ok(appends.some((m) => m.entries.length === 1 && m.entries[0].data.length === 50));
  assert.equal(cluster.statusOf(3).commit, cluster.statusOf(1).commit);
});

test('maxInflightMessages: a silent follower in replicate mode gets at most that many Appends', () => {
  const cluster = electedCluster('max-inflight=3 max-entries=1');
  cluster.run('stash 2');
  const node = cluster.raftNode(1);
  for (let i = 0; i < 10; i++) {
    node.propose(new Uint8Array(1), 1);
    cluster.run('process-ready 1');
    cluster.run('stash 2');
  }
  assert.equal(appendsTo(cluster, 2).length, 3);
  assert.equal(appendsTo(cluster, 3).length, 3, 'node 3 has not answered either');
  // Once answers come back, the window reopens and the rest flows.
  cluster.run('unstash 2');
  cluster.run('stabilize');
  assert.equal(cluster.statusOf(2).commit, cluster.statusOf(1).commit);
  assert.equal(cluster.statusOf(1).commit, cluster.raftNode(1).lastIndex());
});

test('maxInflightBytes: the window closes on bytes before messages', () => {
  const cluster = electedCluster('max-inflight=100 max-inflight-bytes=25 max-entries=1');
  for (let i = 0; i < 5; i++) {
    cluster.raftNode(1).propose(new Uint8Array(10), 1);
    cluster.run('process-ready 1');
    cluster.run('stash 2 3');
  }
  // 10 + 10 + 10 >= 25: the third Append closes the window.
  assert.equal(appendsTo(cluster, 2).length, 3);
});

test('every limit must be a positive number: no "0 means unlimited"', () => {
  const base: RaftConfig = {
    id: 1,
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    maxMessageBytes: 1,
    maxEntriesPerMessage: 1,
    maxInflightMessages: 1,
    maxInflightBytes: 1,
    maxUncommittedBytes: 1,
    random: () => 0,
  };
  const storage = (): MemoryStorage => new MemoryStorage({ voters: [1], learners: [] });
  assert.doesNotThrow(() => new RaftNode(base, storage()));
  for (const name of ['maxMessageBytes', 'maxEntriesPerMessage', 'maxInflightMessages', 'maxInflightBytes', 'maxUncommittedBytes'] as const) {
    assert.throws(() => new RaftNode({ ...base, [name]: 0 }, storage()), new RegExp(name));
  }
  assert.throws(() => new RaftNode({ ...base, heartbeatTicks: 10 }, storage()), /heartbeatTicks/);
});

test('a follower refuses proposals and names the leader', () => {
  const cluster = electedCluster('');
  assert.deepEqual(cluster.raftNode(2).propose(new Uint8Array(1), 1), { ok: false, reason: 'not-leader', leader: 1 });
});
