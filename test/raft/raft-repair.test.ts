/**
 * A node whose storage lost entries it had made durable (suspendVoting), and a leader that learns
 * from a heartbeat answer that a follower's log ends below what it acknowledged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftNode } from '../../raft/raft-node.js';
import { EntryType, MessageType, Role, type Message } from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';
import { testRaftConfig } from './test-raft-config.js';

function message(fields: Partial<Message> & { type: MessageType; from: number; to: number; term: number }): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0, ...fields };
}

function entries(from: number, to: number, term: number) {
  const out = [];
  for (let index = from; index <= to; index++) out.push({ index, count: 1, term, type: EntryType.Normal, data: new Uint8Array([index]) });
  return out;
}

/** Node 1 in term 2 holding entries 1..`last` of term 1, committed through `commit`. */
function follower(last: number, commit: number): { node: RaftNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
  storage.append(entries(1, last, 1));
  storage.setHardState({ term: 2, vote: 0, commit });
  return { node: new RaftNode(testRaftConfig(1, { random: () => 0 }), storage), storage };
}

function drain(node: RaftNode, storage: MemoryStorage): Message[] {
  const out: Message[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    storage.append(ready.entries);
    if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
    out.push(...ready.messages);
    node.advance(ready);
  }
  return out;
}

test('a node with suspended voting grants no vote or pre-vote and never campaigns, until it holds what it acknowledged', () => {
  const { node, storage } = follower(5, 5);
  node.suspendVoting(9, 2);
  for (const type of [MessageType.PreVote, MessageType.Vote]) {
    node.step(message({ type, from: 2, to: 1, term: 3, index: 5, logTerm: 1 }));
    const answers = drain(node, storage).filter((m) => m.type === MessageType.PreVoteResponse || m.type === MessageType.VoteResponse);
    assert.equal(answers.length, 1);
    assert.equal(answers[0].reject, true, `${MessageType[type]} refused while repairing`);
  }
  for (let i = 0; i < 100; i++) node.tick();
  assert.equal(node.status().role, Role.Follower, 'never campaigns');
  node.step(message({ type: MessageType.TimeoutNow, from: 2, to: 1, term: node.status().term }));
  assert.equal(node.status().role, Role.Follower, 'a transfer does not make it campaign either');
  assert.equal(node.votingSuspended(), true);

  // A leader of the current term brings it through index 9 and commits it.
  const term = node.status().term;
  node.step(message({ type: MessageType.Append, from: 2, to: 1, term, index: 5, logTerm: 1, entries: entries(6, 9, 1), commit: 9 }));
  drain(node, storage);
  assert.equal(node.votingSuspended(), false, 'caught up through 9: it may vote again');
  // Once the leader goes quiet it campaigns again, as any voter would.
  for (let i = 0; i < 100 && node.status().role === Role.Follower; i++) node.tick();
  assert.equal(node.status().role, Role.PreCandidate);
});

test('a repairing node votes only for a candidate at least as up to date as its log was before the loss', () => {
  for (const [index, logTerm, granted] of [[9, 2, true], [12, 3, true], [6, 3, true], [8, 2, false], [9, 1, false], [20, 1, false]] as const) {
    const { node, storage } = follower(5, 5);
    node.suspendVoting(9, 2);
    node.step(message({ type: MessageType.Vote, from: 2, to: 1, term: 3, index, logTerm }));
    const [answer] = drain(node, storage).filter((m) => m.type === MessageType.VoteResponse);
    assert.equal(answer.reject, !granted, `candidate last entry ${index} of term ${logTerm}`);
    assert.equal(node.status().role, Role.Follower);
  }
});

test('voting resumes once a leader of a later term committed an entry of its own term in this log', () => {
  const { node, storage } = follower(5, 5);
  node.suspendVoting(20, 2);
  // Term 3's leader: its no-op at 6 is committed; everything from term 2 and before precedes it.
  node.step(message({ type: MessageType.Append, from: 2, to: 1, term: 3, index: 5, logTerm: 1, entries: entries(6, 6, 3), commit: 5 }));
  drain(node, storage);
  assert.equal(node.votingSuspended(), true, 'its own-term entry is not committed yet');
  node.step(message({ type: MessageType.Heartbeat, from: 2, to: 1, term: 3, commit: 6 }));
  drain(node, storage);
  assert.equal(node.votingSuspended(), false);
});

test('a follower whose log ends below the commit a heartbeat carries says where it ends, and the leader probes from there', () => {
  const { node, storage } = follower(3, 3);
  node.step(message({ type: MessageType.Heartbeat, from: 2, to: 1, term: 2, commit: 8 }));
  const [answer] = drain(node, storage).filter((m) => m.type === MessageType.HeartbeatResponse);
  assert.equal(answer.reject, true);
  assert.equal(answer.rejectHint, 3);

  // The leader side: node 2 leads 1..8, believes node 1 matched 8, hears that answer.
  const leaderStorage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
  leaderStorage.append(entries(1, 8, 1));
  leaderStorage.setHardState({ term: 1, vote: 0, commit: 8 });
  const leader = new RaftNode(testRaftConfig(2, { random: () => 0 }), leaderStorage);
  leader.step(message({ type: MessageType.Hup, from: 2, to: 2, term: 1 }));
  drain(leader, leaderStorage);
  const leaderTerm = leader.status().term;
  for (const voter of [1, 3]) leader.step(message({ type: MessageType.PreVoteResponse, from: voter, to: 2, term: leaderTerm + 1 }));
  drain(leader, leaderStorage);
  for (const voter of [1, 3]) leader.step(message({ type: MessageType.VoteResponse, from: voter, to: 2, term: leader.status().term }));
  assert.equal(leader.status().role, Role.Leader);
  const term = leader.status().term;
  drain(leader, leaderStorage);
  const last = leader.status().progress?.get(2)?.match ?? 0;
  leader.step(message({ type: MessageType.AppendResponse, from: 1, to: 2, term, index: last }));
  drain(leader, leaderStorage);
  assert.equal(leader.status().progress?.get(1)?.match, last);
  leader.step(message({ type: MessageType.HeartbeatResponse, from: 1, to: 2, term, reject: true, rejectHint: 3 }));
  const sent = drain(leader, leaderStorage).filter((m) => m.type === MessageType.Append && m.to === 1);
  assert.equal(leader.status().progress?.get(1)?.match, 3, 'match lowered to where the log really ends');
  assert.equal(sent[0]?.index, 3, 'the next Append probes right after it');
});
