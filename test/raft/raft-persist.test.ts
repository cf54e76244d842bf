import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sendableBeforePersist } from '../../raft/sendable-before-persist.js';
import { MessageType } from '../../raft/types.js';
import { TranscriptCluster } from './transcript-cluster.js';

test('a leader sends its entries before they are durable, but counts itself only after advance()', () => {
  const c = new TranscriptCluster();
  for (const line of ['nodes 3', 'campaign 1', 'stabilize', 'isolate 3']) c.run(line);
  const leader = c.raftNode(1);
  assert.equal(leader.propose(new TextEncoder().encode('x'), 4).ok, true);
  const ready = leader.ready();
  assert.equal(ready.mustSync, true);
  const appends = ready.messages.filter((m) => m.type === MessageType.Append);
  assert.equal(appends.length, 2);
  assert.ok(ready.messages.every(sendableBeforePersist), "a leader's appends may leave before its own write");
  // The driver sends first; follower 2 persists and acknowledges while the leader's write is still
  // in progress. One acknowledgement of three voters is not a quorum without the leader's own copy.
  c.raftNode(2).step(appends.find((m) => m.to === 2)!);
  c.run('process-ready 2');
  c.run('deliver 1');
  assert.equal(leader.status().commit, 1, 'the leader does not count an entry it has not made durable');
  c.storageOf(1).append(ready.entries);
  if (ready.hardState !== undefined) c.storageOf(1).setHardState(ready.hardState);
  leader.advance(ready);
  assert.equal(leader.status().commit, 5);
});

test('votes and acknowledgements wait for the persist', () => {
  const c = new TranscriptCluster();
  c.run('nodes 3');
  c.run('campaign 1');
  const candidate = c.raftNode(1).ready();
  const preVotes = candidate.messages.filter((m) => m.type === MessageType.PreVote);
  assert.equal(preVotes.length, 2);
  assert.ok(candidate.messages.every((m) => !sendableBeforePersist(m)));
  c.raftNode(1).advance(candidate);
  c.raftNode(2).step(preVotes[0]);
  const voter = c.raftNode(2).ready();
  assert.ok(voter.messages.length === 1 && !sendableBeforePersist(voter.messages[0]));
});
