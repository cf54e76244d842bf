/**
 * The preferred-leader balancer's choices, over replicas whose Raft status is given: it hands a
 * partition over only to a live, caught-up voter the leader is streaming to.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderBalancer, type BalanceCandidate } from '../../broker/cluster/leader-balancer.js';
import type { Replica } from '../../broker/partition/replica.js';
import { Role, type NodeId, type PeerProgress, type RaftStatus } from '../../raft/types.js';

function candidate(preferredProgress: PeerProgress, commit = 10): { candidate: BalanceCandidate; transfers: NodeId[] } {
  const transfers: NodeId[] = [];
  const status: RaftStatus = {
    id: 1,
    term: 2,
    vote: 1,
    commit,
    applied: commit,
    role: Role.Leader,
    leader: 1,
    conf: { voters: [1, 2, 3], learners: [] },
    progress: new Map([
      [1, { match: commit, next: commit + 1, state: 'replicate' }],
      [2, preferredProgress],
    ]),
  };
  const replica = { role: Role.Leader, groupId: 'orders-0', status: () => status, transferLeadership: (to: NodeId) => transfers.push(to) } as unknown as Replica;
  return { candidate: { replica, replicas: [2, 1, 3], reassigning: false }, transfers };
}

test('a leader hands over to its preferred replica when that one is live, caught up and streamed to', () => {
  const balancer = new LeaderBalancer({ nodeId: 1, brokerLive: () => true });
  const { candidate: ready, transfers } = candidate({ match: 10, next: 11, state: 'replicate' });
  assert.deepEqual(balancer.round([ready]), [{ group: 'orders-0', to: 2 }]);
  assert.deepEqual(transfers, [2]);
});

test('no handover to a preferred replica that is behind, not streamed to (cut off on a quiet partition), or not live', () => {
  const behind = candidate({ match: 9, next: 10, state: 'replicate' });
  const probing = candidate({ match: 10, next: 11, state: 'probe' });
  const dead = candidate({ match: 10, next: 11, state: 'replicate' });
  assert.deepEqual(new LeaderBalancer({ nodeId: 1, brokerLive: () => true }).round([behind.candidate, probing.candidate]), []);
  assert.deepEqual(new LeaderBalancer({ nodeId: 1, brokerLive: (id) => id !== 2 }).round([dead.candidate]), []);
  assert.deepEqual([...behind.transfers, ...probing.transfers, ...dead.transfers], []);
});
