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
