/**
 * The RaftConfig the unit tests start from: small limits, pre-vote and check-quorum on, and a
 * fixed random draw so election timeouts are exact. Tests override what they are about.
 */
import type { NodeId, RaftConfig } from '../../raft/types.js';

export function testRaftConfig(id: NodeId, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 2,
    preVote: true,
    checkQuorum: true,
    maxMessageBytes: 1024,
    maxEntriesPerMessage: 16,
    maxInflightMessages: 4,
    maxInflightBytes: 4096,
    maxUncommittedBytes: 1 << 20,
    random: () => 0,
    ...overrides,
  };
}
