import type { Prng } from './prng.js';

/**
 * How hard one seed pushes on each kind of fault. Each seed draws its own mix ("swarm testing"):
 * runs that leave some faults out, or push one hard, reach states that one fixed mix rarely does.
 * Rates are chances per scheduler interval (one tick) unless named otherwise.
 */
export interface FaultMix {
  networkChangeRate: number;
  partitionRate: number;
  crashRate: number;
  /** Chance that a node (half of the time the leader) freezes for 10-500 ms without losing state. */
  pauseRate: number;
  /** Chance that a node crashes right after granting a vote, acknowledging or sending entries. */
  criticalCrashRate: number;
  restartDelayMaxMs: number;
  transferRate: number;
  membershipRate: number;
  proposalRate: number;
  /** Chance that a client asks a node for a linearizable read. */
  readRate: number;
  /** Upper bound of one network delay when the network turns slow (may exceed an election timeout). */
  delayMaxMs: number;
}

export function drawFaultMix(prng: Prng): FaultMix {
  return {
    networkChangeRate: prng.pick([0.005, 0.01, 0.03]),
    partitionRate: prng.pick([0, 0.005, 0.012, 0.03]),
    crashRate: prng.pick([0, 0.005, 0.01, 0.03]),
    pauseRate: prng.pick([0, 0.005, 0.02]),
    criticalCrashRate: prng.pick([0, 0.02, 0.05, 0.15]),
    restartDelayMaxMs: prng.pick([30, 300, 1500]),
    transferRate: prng.pick([0, 0.006, 0.02]),
    membershipRate: prng.pick([0, 0.03, 0.08]),
    proposalRate: prng.pick([0.2, 0.5, 0.9]),
    readRate: prng.pick([0, 0.1, 0.4]),
    delayMaxMs: prng.pick([30, 30, 150]),
  };
}
