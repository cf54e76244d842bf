/**
 * Quiescence (raft/README.md, "Quiescence"): an idle leader stops heartbeating its group and its
 * followers stop their election timers; proposals, messages and the driver's wake() end it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QUIESCED_HEARTBEAT_ELECTION_TIMEOUTS, RaftNode } from '../../raft/raft-node.js';
import { MessageType, Role, type Message, type NodeId } from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';
import { testRaftConfig } from './test-raft-config.js';

const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;

/** Three nodes wired by hand: messages are delivered by settle(), or dropped for nodes that are down. */
class Group {
  readonly nodes = new Map<NodeId, RaftNode>();
  private readonly storages = new Map<NodeId, MemoryStorage>();
  readonly down = new Set<NodeId>();
  /** Every message delivered or dropped, in order. */
  readonly sent: Message[] = [];

  constructor(private readonly quiesce = true) {
    for (const id of [1, 2, 3]) {
      this.storages.set(id, new MemoryStorage({ voters: [1, 2, 3], learners: [] }));
      this.start(id);
    }
  }

  /** A new RaftNode for `id` over its storage (a restart: it knows no leader). */
  start(id: NodeId): RaftNode {
    // Node 1 times out first (its draw is 0), then node 2, then node 3 (fixed draws, no split votes).
    const random = () => [0, 0.5, 0.9][id - 1];
    const config = testRaftConfig(id, { electionTicks: ELECTION_TICKS, heartbeatTicks: HEARTBEAT_TICKS, random, quiesceWhenIdle: this.quiesce });
    const node = new RaftNode(config, this.storages.get(id) as MemoryStorage);
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): RaftNode {
    const node = this.nodes.get(id);
    assert.ok(node !== undefined);
    return node;
  }

  /** Persists and delivers until no node has anything more to do. */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      const messages: Message[] = [];
      for (const [id, node] of this.nodes) {
        if (this.down.has(id)) continue;
        while (node.hasReady()) {
          const ready = node.ready();
          const storage = this.storages.get(id) as MemoryStorage;
          storage.append(ready.entries);
          if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
          messages.push(...ready.messages);
          node.advance(ready);
        }
      }
      if (messages.length === 0) return;
      for (const message of messages) {
        this.sent.push(message);
        if (!this.down.has(message.to)) this.node(message.to).step(message);
      }
    }
    assert.fail('the group never settled');
  }

  tick(times: number): void {
    for (let i = 0; i < times; i++) {
      for (const [id, node] of this.nodes) if (!this.down.has(id)) node.tick();
      this.settle();
    }
  }

  leaders(): NodeId[] {
    return [...this.nodes].filter(([id, node]) => !this.down.has(id) && node.status().role === Role.Leader).map(([id]) => id);
  }

  /** Elects node 1 and lets the group go idle. */
  static idle(): Group {
    const group = new Group();
    group.tick(ELECTION_TICKS * 3);
    assert.deepEqual(group.leaders(), [1]);
    return group;
  }
}

test('an idle group quiesces: the leader sends only its quiescing heartbeat, every few election timeouts, and no follower campaigns', () => {
  const group = Group.idle();
  for (const id of [1, 2, 3]) assert.equal(group.node(id).isQuiesced(), true, `node ${id} quiesced`);
  const term = group.node(1).status().term;
  const period = ELECTION_TICKS * QUIESCED_HEARTBEAT_ELECTION_TIMEOUTS;
  // Wait for the first repetition of the quiescing heartbeat, then watch one period.
  const quietSince = group.sent.length;
  for (let ticks = 0; group.sent.length === quietSince; ticks++) {
    assert.ok(ticks <= period, 'the quiescing heartbeat is repeated within a period');
    group.tick(1);
  }
  const sentBefore = group.sent.length;
  group.tick(period - 1);
  assert.equal(group.sent.length, sentBefore, 'not one message until the quiescing heartbeat is due again');
  group.tick(1);
  const sent = group.sent.slice(sentBefore);
  assert.equal(sent.length, 2 * 2, 'a quiescing heartbeat to each follower and its answer');
  assert.ok(sent.every((m) => m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResponse));
  for (const id of [1, 2, 3]) assert.equal(group.node(id).isQuiesced(), true, `node ${id} still quiesced`);
  assert.deepEqual(group.leaders(), [1]);
  for (const id of [1, 2, 3]) assert.equal(group.node(id).status().term, term);
});

test('without quiesceWhenIdle a leader heartbeats for ever', () => {
  const group = new Group(false);
  group.tick(ELECTION_TICKS * 3);
  const sentBefore = group.sent.length;
  group.tick(ELECTION_TICKS);
  assert.ok(group.sent.length - sentBefore >= 2 * (ELECTION_TICKS / HEARTBEAT_TICKS), 'heartbeats and their answers');
  assert.equal(group.node(1).isQuiesced(), false);
});

test('a proposal wakes the group, is committed everywhere, and the group quiesces again', () => {
  const group = Group.idle();
  const leader = group.node(1);
  const proposed = leader.propose(new Uint8Array([7]), 1);
  assert.ok(proposed.ok);
  assert.equal(leader.isQuiesced(), false);
  group.settle();
  for (const id of [2, 3]) {
    assert.equal(group.node(id).isQuiesced(), false, `the Append woke follower ${id}`);
    assert.equal(group.node(id).status().commit >= proposed.index, true, `follower ${id} learned the commit`);
  }
  group.tick(ELECTION_TICKS * 2);
  for (const id of [1, 2, 3]) assert.equal(group.node(id).isQuiesced(), true, `node ${id} quiesced again`);
});

test('followers of a dead quiesced leader elect a new one once the driver wakes them', () => {
  const group = Group.idle();
  const term = group.node(1).status().term;
  group.down.add(1);
  group.tick(ELECTION_TICKS * 10);
  assert.deepEqual(group.leaders(), [], 'quiesced followers alone never notice (the broker-level check must wake them)');
  // The broker noticed the leader's broker fell silent 3 ticks ago.
  group.node(2).wake(3);
  group.node(3).wake(3);
  let ticks = 0;
  while (group.leaders().length === 0 && ticks < ELECTION_TICKS * 4) {
    group.tick(1);
    ticks++;
  }
  assert.equal(group.leaders().length, 1, 'a new leader');
  assert.ok(group.node(group.leaders()[0]).status().term > term);
  // Node 2's timeout is 10 + 5 = 15 ticks, of which 3 had passed before the wake.
  assert.deepEqual(group.leaders(), [2]);
  assert.equal(ticks, 15 - 3, `elected ${ticks} ticks after the wake`);
});

test('a quiesced follower still refuses a stale leader and keeps its leader lease', () => {
  const group = Group.idle();
  const follower = group.node(2);
  const term = follower.status().term;
  const sentBefore = group.sent.length;
  // A leader of an older term: the answer carries our term, so it steps down.
  follower.step({ type: MessageType.Append, from: 3, to: 2, term: term - 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0 });
  group.settle();
  const answer = group.sent.slice(sentBefore).find((m) => m.from === 2 && m.to === 3);
  assert.ok(answer !== undefined && answer.type === MessageType.AppendResponse && answer.term === term);
  assert.equal(follower.status().leader, 1);
  // A pre-vote of a later term within the lease is dropped: no answer, no vote.
  const preVoteAt = group.sent.length;
  const last = follower.lastIndex();
  follower.step({ type: MessageType.PreVote, from: 3, to: 2, term: term + 1, logTerm: follower.status().term, index: last, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0 });
  group.settle();
  assert.equal(group.sent.slice(preVoteAt).some((m) => m.from === 2 && m.type === MessageType.PreVoteResponse && !m.reject), false, 'no pre-vote granted in the lease');
  assert.equal(follower.status().term, term);
});

test('a quiesced leader woken by a silent peer steps down when no quorum answers', () => {
  const group = Group.idle();
  const leader = group.node(1);
  group.down.add(2);
  group.down.add(3);
  leader.wake(2);
  assert.equal(leader.isQuiesced(), false);
  let ticks = 0;
  while (leader.status().role === Role.Leader && ticks < ELECTION_TICKS * 3) {
    group.tick(1);
    ticks++;
  }
  assert.equal(leader.status().role, Role.Follower, 'check-quorum deposed it');
  assert.ok(ticks <= ELECTION_TICKS - 2, `stepped down ${ticks} ticks after the wake, within an election timeout of the silence`);
});

test('a woken leader whose peers answer stays leader and quiesces again', () => {
  const group = Group.idle();
  const leader = group.node(1);
  leader.wake(0);
  group.settle();
  assert.equal(group.node(2).isQuiesced(), false, 'the heartbeat woke the followers');
  group.tick(ELECTION_TICKS * 3);
  assert.deepEqual(group.leaders(), [1]);
  for (const id of [1, 2, 3]) assert.equal(group.node(id).isQuiesced(), true, `node ${id} quiesced again`);
});

test('a follower whose election timer runs while its leader is quiesced (it missed the quiescing heartbeat) times out, and its pre-vote wakes the leader instead of deposing it', () => {
  const group = Group.idle();
  // A proposal while node 3 is away: the group stays awake as long as node 3 does not answer.
  group.down.add(3);
  assert.ok(group.node(1).propose(new Uint8Array([1]), 1).ok);
  group.tick(ELECTION_TICKS);
  assert.equal(group.node(1).isQuiesced(), false, 'node 3 has not answered: no quiescence');
  group.down.delete(3);
  group.tick(ELECTION_TICKS * 2);
  assert.equal(group.node(1).isQuiesced(), true);
  // As if node 3 had missed the quiescing heartbeat: its timer runs.
  const term = group.node(1).status().term;
  group.node(3).wake(0);
  for (let i = 0; i < ELECTION_TICKS * 4; i++) group.tick(1);
  assert.deepEqual(group.leaders(), [1], 'the leader stayed');
  assert.equal(group.node(1).status().term, term, 'no term was spent');
});

test('a replica that restarts knowing no leader and may not campaign (repairing) learns of the quiesced leader from its repeated quiescing heartbeat', () => {
  const group = Group.idle();
  const restarted = group.start(3);
  restarted.suspendVoting(restarted.lastIndex(), restarted.status().term);
  assert.equal(restarted.status().leader, 0);
  group.tick(ELECTION_TICKS * QUIESCED_HEARTBEAT_ELECTION_TIMEOUTS + 1);
  assert.equal(restarted.status().leader, 1, 'it follows the leader');
  assert.equal(restarted.isQuiesced(), true);
  assert.equal(group.node(1).isQuiesced(), true, 'the leader stayed quiesced');
});
