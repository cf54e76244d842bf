/**
 * Preferred-leader balancing. Placement spreads each partition's first replica (its preferred
 * leader) evenly over the brokers, so when every partition is led by its preferred replica every
 * broker leads its share. Elections do not respect that (a restarted broker comes back leading
 * nothing), so every round each broker hands the partitions it leads but does not prefer back to
 * their preferred replica, when that broker is live, a voter and caught up.
 */
import type { Replica } from '../partition/replica.js';
import { Role, type NodeId } from '../../raft/types.js';

/**
 * Leadership transfers one broker starts per round. A transfer blocks the partition's appends
 * until the new leader takes over (a round trip and an election on the target), so they are
 * spread over rounds rather than started for every partition at once after a restart.
 */
export const LEADER_TRANSFERS_PER_ROUND_MAX = 16;

/** A partition this broker holds, as the balancer sees it. */
export interface BalanceCandidate {
  readonly replica: Replica;
  /** The committed replica set; [0] is the preferred leader. */
  readonly replicas: readonly NodeId[];
  /** Set while the partition is being reassigned: the reassignment decides leadership then. */
  readonly reassigning: boolean;
}

export interface LeaderBalancerOptions {
  readonly nodeId: NodeId;
  /** Whether the cluster metadata considers the broker live (registered, not fenced). */
  readonly brokerLive: (id: NodeId) => boolean;
  readonly transfersPerRoundMax?: number;
}

export class LeaderBalancer {
  /** Transfers started since construction. */
  transfersStarted = 0;

  constructor(private readonly options: LeaderBalancerOptions) {}

  /** One balancing round over `candidates`: returns the transfers started (replica group, target). */
  round(candidates: Iterable<BalanceCandidate>): Array<{ group: string; to: NodeId }> {
    const limit = this.options.transfersPerRoundMax ?? LEADER_TRANSFERS_PER_ROUND_MAX;
    const started: Array<{ group: string; to: NodeId }> = [];
    for (const candidate of candidates) {
      if (started.length >= limit) break;
      const preferred = candidate.replicas[0];
      if (candidate.reassigning || preferred === undefined || preferred === this.options.nodeId) continue;
      if (candidate.replica.role !== Role.Leader || !this.options.brokerLive(preferred)) continue;
      const status = candidate.replica.status();
      if (status.transferee !== undefined || !status.conf.voters.includes(preferred)) continue;
      // Only to a caught-up follower: the transfer then completes within a round trip, and the
      // partition's appends are not refused for an election timeout waiting for it.
      if ((status.progress?.get(preferred)?.match ?? 0) < status.commit) continue;
      candidate.replica.transferLeadership(preferred);
      started.push({ group: candidate.replica.groupId, to: preferred });
    }
    this.transfersStarted += started.length;
    return started;
  }
}
