import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftNode } from '../../raft/raft-node.js';
import { MessageType, Role, type Message, type RaftConfig, type Ready } from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';
import { testRaftConfig } from './test-raft-config.js';
import { TranscriptCluster } from './transcript-cluster.js';

function config(id: number, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return testRaftConfig(id, overrides);
}

function message(fields: Partial<Message> & { type: MessageType; from: number; to: number; term: number }): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0, ...fields };
}

/** Persists a Ready into the storage and advances, as a driver would. */
function handle(node: RaftNode, storage: MemoryStorage): Ready {
  const ready = node.ready();
  if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
  storage.append(ready.entries);
  if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
  node.advance(ready);
  return ready;
}

test('a follower campaigns after its randomized election timeout, in [electionTicks, 2 * electionTicks)', () => {
  for (const [random, expectedTicks] of [[0, 10], [0.5, 15], [0.99, 19]] as const) {
    const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
    const node = new RaftNode(config(1, { random: () => random }), storage);
    let ticks = 0;
    while (node.status().role === Role.Follower) {
      node.tick();
      ticks++;
      assert.ok(ticks < 100);
    }
    assert.equal(ticks, expectedTicks);
    assert.equal(node.status().role, Role.PreCandidate);
    assert.equal(node.status().term, 0, 'a pre-vote does not bump the term');
  }
});

test('a learner or removed node never campaigns', () => {
  const storage = new MemoryStorage({ voters: [1, 2], learners: [3] });
  const node = new RaftNode(config(3), storage);
  for (let i = 0; i < 100; i++) node.tick();
  assert.equal(node.status().role, Role.Follower);
  assert.equal(node.hasReady(), false);
});

test('a single voter elects itself but commits its no-op only once it is durable', () => {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  const node = new RaftNode(config(1), storage);
  node.step(message({ type: MessageType.Hup, from: 1, to: 1, term: 0 }));
  assert.equal(node.status().role, Role.Leader);
  const proposed = node.propose(new TextEncoder().encode('batch'), 3);
  assert.deepEqual(proposed, { ok: true, index: 2, term: 1 });
  assert.equal(node.status().commit, 0, 'nothing is durable yet');
  const first = handle(node, storage);
  assert.deepEqual(first.entries.map((e) => [e.index, e.count]), [[1, 1], [2, 3]]);
  assert.equal(first.committedEntries.length, 0);
  assert.equal(node.status().commit, 4, 'advance() made the entries durable, and the leader counts itself');
  const second = handle(node, storage);
  assert.deepEqual(second.committedEntries.map((e) => e.index), [1, 2]);
});

test('a node votes once per term, and only for a candidate whose log is at least as up to date', () => {
  const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
  storage.append([{ index: 1, count: 5, term: 2, type: 0, data: new Uint8Array(0) }]);
  storage.setHardState({ term: 2, vote: 0, commit: 0 });
  const node = new RaftNode(config(1, { checkQuorum: false }), storage);
  const vote = (from: number, term: number, index: number, logTerm: number): Message => {
    node.step(message({ type: MessageType.Vote, from, to: 1, term, index, logTerm }));
    const ready = handle(node, storage);
    const answer = ready.messages.find((m) => m.type === MessageType.VoteResponse);
    assert.ok(answer !== undefined);
    return answer;
  };
  assert.equal(vote(2, 3, 4, 2).reject, true, 'shorter log of the same last term');
  assert.equal(vote(2, 3, 9, 1).reject, true, 'longer log but older last term');
  const granted = vote(2, 3, 5, 2);
  assert.equal(granted.reject, false);
  assert.equal(storage.initialState().hardState.vote, 2, 'the vote is in the persisted hard state');
  assert.equal(vote(3, 3, 50, 3).reject, true, 'already voted for 2 in term 3');
  assert.equal(vote(2, 3, 5, 2).reject, false, 'a repeated request from the same candidate is granted again');
});

test('the vote survives a restart: the restarted node does not vote twice in a term', () => {
  const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
  let node = new RaftNode(config(1, { checkQuorum: false }), storage);
  node.step(message({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
  handle(node, storage);
  node = new RaftNode(config(1, { checkQuorum: false }), storage);
  node.step(message({ type: MessageType.Vote, from: 3, to: 1, term: 1 }));
  const ready = handle(node, storage);
  assert.equal(ready.messages[0].reject, true);
});

test('split votes: both candidates retry in a later term and one wins', () => {
  const cluster = new TranscriptCluster();
  // Node 3 hears node 1 first, node 4 hears node 2 first: two votes each, three needed.
  const script = ['nodes 4 flags=none', 'campaign 1', 'process-ready 1', 'stash 4', 'campaign 2', 'process-ready 2', 'deliver 3 4', 'unstash 4', 'stabilize'];
  for (const line of script) cluster.run(line);
  // Each saw two refusals out of four voters: the election is lost, and each goes back to follower.
  for (const id of [1, 2, 3, 4]) assert.notEqual(cluster.statusOf(id).role, Role.Leader);
  assert.equal(cluster.statusOf(1).term, 1);
  // Node 1's timeout (10 ticks) ends first.
  cluster.run('tick-all 10');
  cluster.run('stabilize');
  assert.equal(cluster.statusOf(1).role, Role.Leader);
  assert.equal(cluster.statusOf(1).term, 2);
  for (const id of [2, 3, 4]) assert.equal(cluster.statusOf(id).leader, 1);
});

test('a higher term in any message turns a leader into a follower; a lower term is answered, not obeyed', () => {
  const cluster = new TranscriptCluster();
  for (const line of ['nodes 3', 'campaign 1', 'stabilize']) cluster.run(line);
  const leader = cluster.raftNode(1);
  leader.step(message({ type: MessageType.AppendResponse, from: 2, to: 1, term: 5 }));
  assert.equal(leader.status().role, Role.Follower);
  assert.equal(leader.status().term, 5);
  const follower = cluster.raftNode(3);
  follower.step(message({ type: MessageType.Vote, from: 2, to: 3, term: 5, index: 99, logTerm: 9 }));
  assert.equal(follower.status().term, 1, 'node 3 heard from its leader recently: the vote is ignored (lease)');
});

test('two leaders in one term is an invariant violation and throws', () => {
  const cluster = new TranscriptCluster();
  for (const line of ['nodes 3', 'campaign 1', 'stabilize']) cluster.run(line);
  const leader = cluster.raftNode(1);
  assert.throws(() => leader.step(message({ type: MessageType.Heartbeat, from: 2, to: 1, term: 1 })), /two leaders/);
});

test('ready() twice without advance() is a driver bug and throws', () => {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  const node = new RaftNode(config(1), storage);
  node.step(message({ type: MessageType.Hup, from: 1, to: 1, term: 0 }));
  node.ready();
  assert.equal(node.hasReady(), false);
  assert.throws(() => node.ready(), /advance/);
});
