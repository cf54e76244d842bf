/**
 * The Raft settings of a cluster broker's groups (its partition replicas and the controller), and
 * the one PRNG that randomizes their election timeouts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RaftConfig } from '../../raft/types.js';

/** Raft time on a cluster broker: one tick, and how many make an election timeout and a heartbeat. */
export interface PartitionRaftTiming {
  /** Election timeout in ticks; each follower waits a random time in [t, 2t) ticks. */
  readonly electionTicks: number;
  /** Ticks between a leader's heartbeats; must be below electionTicks. */
  readonly heartbeatTicks: number;
}

export const DEFAULT_RAFT_TICK_MS = 50;
export const DEFAULT_RAFT_ELECTION_TICKS = 12;
export const DEFAULT_RAFT_HEARTBEAT_TICKS = 3;

/**
 * Raft settings for a broker's groups. With the default 50 ms tick an election starts 0.6-1.2 s
 * after the leader was last heard, which outlasts a slow Ready (a write plus fdatasync of about a
 * megabyte on a loaded disk, see broker/partition/README.md "Timing"). `random` is shared by every
 * group of the broker; pass `cryptoSeededRandom()` once at the composition root.
 */
export function defaultPartitionRaftConfig(
  random: () => number,
  timing: Partial<PartitionRaftTiming> = {},
): Omit<RaftConfig, 'id' | 'applied'> {
  const electionTicks = timing.electionTicks ?? DEFAULT_RAFT_ELECTION_TICKS;
  const heartbeatTicks = timing.heartbeatTicks ?? DEFAULT_RAFT_HEARTBEAT_TICKS;
  assert.ok(Number.isInteger(heartbeatTicks) && heartbeatTicks >= 1, 'heartbeatTicks must be a positive integer');
  assert.ok(Number.isInteger(electionTicks) && electionTicks > heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
  return {
    electionTicks,
    heartbeatTicks,
    preVote: true,
    checkQuorum: true,
    maxMessageBytes: 1024 * 1024,
    maxEntriesPerMessage: 256,
    maxInflightMessages: 64,
    maxInflightBytes: 32 * 1024 * 1024,
    maxUncommittedBytes: 64 * 1024 * 1024,
    random,
  };
}

/**
 * A fast PRNG (xorshift128, in [0, 1)) seeded once from the operating system's entropy. Raft
 * draws from it only to spread election timeouts, so it needs to differ between brokers, not to
 * be unpredictable; seeding it from crypto keeps two brokers started in the same millisecond apart.
 */
export function cryptoSeededRandom(): () => number {
  const seed = randomBytes(16);
  return seededRandom(seed.readUInt32LE(0), seed.readUInt32LE(4), seed.readUInt32LE(8), seed.readUInt32LE(12));
}

/** xorshift128 over four 32-bit words; any seed with a non-zero word works. */
export function seededRandom(a: number, b: number, c: number, d: number): () => number {
  let x = a >>> 0;
  let y = b >>> 0;
  let z = c >>> 0;
  let w = d >>> 0;
  if ((x | y | z | w) === 0) x = 0x9e3779b9;
  return () => {
    const t = (x ^ (x << 11)) >>> 0;
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return w / 0x100000000;
  };
}
