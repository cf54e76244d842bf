import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageType, type Ready } from '../../raft/types.js';
import { TranscriptCluster } from './transcript-cluster.js';

const PROPOSALS_PER_CYCLE = 16;

function persist(c: TranscriptCluster, id: number, ready: Ready): void {
  c.storageOf(id).append(ready.entries);
  if (ready.hardState !== undefined) c.storageOf(id).setHardState(ready.hardState);
}

test('a batch of proposals between two ready() calls goes to each follower in one Append, and its commit in one more', () => {
  const c = new TranscriptCluster();
  for (const line of ['nodes 3', 'campaign 1', 'stabilize']) c.run(line);
  const leader = c.raftNode(1);
  const first = leader.lastIndex() + 1;
  for (let k = 0; k < PROPOSALS_PER_CYCLE; k++) assert.equal(leader.propose(new Uint8Array([k]), 1).ok, true);
  const ready = leader.ready();
  assert.equal(ready.entries.length, PROPOSALS_PER_CYCLE);
  for (const to of [2, 3]) {
    const appends = ready.messages.filter((m) => m.type === MessageType.Append && m.to === to);
    assert.equal(appends.length, 1, `one Append to ${to} for the whole batch`);
    assert.deepEqual(appends[0].entries.map((e) => e.index), Array.from({ length: PROPOSALS_PER_CYCLE }, (_, k) => first + k));
  }
  persist(c, 1, ready);
  leader.advance(ready);
  // Both followers persist and answer once each.
  for (const to of [2, 3]) {
    const follower = c.raftNode(to);
    follower.step(ready.messages.find((m) => m.type === MessageType.Append && m.to === to)!);
    const answer = follower.ready();
    persist(c, to, answer);
    follower.advance(answer);
    assert.equal(answer.messages.length, 1);
    leader.step(answer.messages[0]);
  }
  // Two acknowledgements moved the commit; the followers hear of it in one Append each.
  const commit = leader.ready();
  assert.equal(commit.hardState?.commit, first + PROPOSALS_PER_CYCLE - 1);
  assert.equal(commit.committedEntries.length, PROPOSALS_PER_CYCLE);
  for (const to of [2, 3]) {
    const appends = commit.messages.filter((m) => m.type === MessageType.Append && m.to === to);
    assert.equal(appends.length, 1, `one commit Append to ${to}`);
    assert.equal(appends[0].commit, first + PROPOSALS_PER_CYCLE - 1);
    assert.deepEqual(appends[0].entries, []);
  }
  leader.advance(commit);
  assert.equal(leader.hasReady(), false);
});

test('a batch larger than one message still fills the in-flight window at ready()', () => {
  const c = new TranscriptCluster();
  for (const line of ['nodes 3 max-entries=4', 'campaign 1', 'stabilize']) c.run(line);
  const leader = c.raftNode(1);
  for (let k = 0; k < 10; k++) assert.equal(leader.propose(new Uint8Array([k]), 1).ok, true);
  const ready = leader.ready();
  for (const to of [2, 3]) {
    const sizes = ready.messages.filter((m) => m.type === MessageType.Append && m.to === to).map((m) => m.entries.length);
    assert.deepEqual(sizes, [4, 4, 2]);
  }
});

test('while a Ready is being written, takeSendableMessages hands over the Appends of later proposals, and answers commit them before the leader wrote them', () => {
  const c = new TranscriptCluster();
  for (const line of ['nodes 3', 'campaign 1', 'stabilize']) c.run(line);
  const leader = c.raftNode(1);
  const first = leader.lastIndex() + 1;
  assert.equal(leader.propose(new Uint8Array([1]), 1).ok, true);
  const writing = leader.ready();
  // Proposed while `writing` is outstanding: its Appends need not wait for that write.
  assert.equal(leader.propose(new Uint8Array([2]), 1).ok, true);
  const early = leader.takeSendableMessages();
  for (const to of [2, 3]) {
    const appends = early.filter((m) => m.type === MessageType.Append && m.to === to);
    assert.equal(appends.length, 1, `one early Append to ${to}`);
    assert.deepEqual(appends[0].entries.map((e) => e.index), [first + 1]);
  }
  assert.ok(early.every((m) => m.type === MessageType.Append));
  for (const to of [2, 3]) {
    const follower = c.raftNode(to);
    assert.deepEqual(follower.takeSendableMessages(), []);
    assert.equal(follower.leaderCommitIndex(), undefined);
    for (const m of [...writing.messages, ...early]) if (m.to === to) follower.step(m);
    const answer = follower.ready();
    persist(c, to, answer);
    follower.advance(answer);
    for (const m of answer.messages) leader.step(m);
  }
  // Both followers hold both entries durably: committed while the leader's own write is pending.
  assert.equal(leader.leaderCommitIndex(), first + 1);
  persist(c, 1, writing);
  leader.advance(writing);
  const next = leader.ready();
  assert.deepEqual(next.entries.map((e) => e.index), [first + 1]);
  assert.equal(next.hardState?.commit, first + 1);
  // Nothing is sent twice: the next Ready's Appends only carry the commit.
  for (const m of next.messages) if (m.type === MessageType.Append) assert.deepEqual(m.entries, []);
});
