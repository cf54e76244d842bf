/**
 * What the controller leader keeps in memory about the brokers: when each was last heard from
 * (its lease) and the partition leaderships reported by heartbeats that the metadata does not
 * show yet. Nothing here is replicated: a new leader starts every lease afresh (it cannot know how
 * long ago the old leader last heard from a broker) and waits for the next reports.
 */
import assert from 'node:assert/strict';
import { LEADER_UPDATES_PENDING_MAX } from './controller-limits.js';
import type { BrokerId, BrokerRecord, ClusterPartition, GroupNumber, LeaderUpdate } from './controller-types.js';

export class BrokerLiveness {
  private readonly lastSeenMs = new Map<BrokerId, number>();
  private readonly pendingUpdates = new Map<GroupNumber, LeaderUpdate>();

  constructor(private readonly leaseMs: number) {
    assert.ok(Number.isInteger(leaseMs) && leaseMs > 0, `lease must be a positive number of ms, got ${leaseMs}`);
  }

  /** This broker became the leader: every broker's lease starts now, reports start over. */
  restart(brokers: readonly BrokerRecord[], nowMs: number): void {
    this.lastSeenMs.clear();
    this.pendingUpdates.clear();
    for (const broker of brokers) this.lastSeenMs.set(broker.id, nowMs);
  }

  /** A heartbeat or registration from `brokerId`. */
  renew(brokerId: BrokerId, nowMs: number): void {
    this.lastSeenMs.set(brokerId, nowMs);
  }

  /**
   * Brokers that are not fenced and whose lease ran out. A broker the leader has not tracked yet
   * (registered through an earlier leader's log) gets its lease started now.
   */
  expired(brokers: readonly BrokerRecord[], nowMs: number): BrokerId[] {
    const expired: BrokerId[] = [];
    for (const broker of brokers) {
      const lastSeenMs = this.lastSeenMs.get(broker.id);
      if (lastSeenMs === undefined) {
        this.lastSeenMs.set(broker.id, nowMs);
      } else if (!broker.fenced && nowMs - lastSeenMs > this.leaseMs) {
        expired.push(broker.id);
      }
    }
    return expired;
  }

  /** Whether the broker's lease is current (false when never heard of). */
  isCurrent(brokerId: BrokerId, nowMs: number): boolean {
    const lastSeenMs = this.lastSeenMs.get(brokerId);
    return lastSeenMs !== undefined && nowMs - lastSeenMs <= this.leaseMs;
  }

  /**
   * Keeps the reported leaderships that are newer than what `partitionOf` shows (a later epoch,
   * or the same epoch with another leader). Returns how many are now waiting. Reports beyond
   * LEADER_UPDATES_PENDING_MAX are ignored: the broker repeats them with its next heartbeat.
   */
  report(updates: readonly LeaderUpdate[], partitionOf: (groupId: GroupNumber) => ClusterPartition | undefined): number {
    for (const update of updates) {
      if (!isNewer(update, partitionOf(update.groupId))) continue;
      const waiting = this.pendingUpdates.get(update.groupId);
      if (waiting !== undefined && waiting.leaderEpoch >= update.leaderEpoch) continue;
      if (waiting === undefined && this.pendingUpdates.size >= LEADER_UPDATES_PENDING_MAX) continue;
      this.pendingUpdates.set(update.groupId, { groupId: update.groupId, leaderId: update.leaderId, leaderEpoch: update.leaderEpoch });
    }
    return this.pendingUpdates.size;
  }

  /** Up to `countMax` waiting updates that are still newer than the metadata, removed from the waiting set. */
  takeUpdates(countMax: number, partitionOf: (groupId: GroupNumber) => ClusterPartition | undefined): LeaderUpdate[] {
    const taken: LeaderUpdate[] = [];
    for (const [groupId, update] of this.pendingUpdates) {
      if (taken.length >= countMax) break;
      this.pendingUpdates.delete(groupId);
      if (isNewer(update, partitionOf(groupId))) taken.push(update);
    }
    return taken;
  }

  get pendingUpdateCount(): number {
    return this.pendingUpdates.size;
  }
}

function isNewer(update: LeaderUpdate, partition: ClusterPartition | undefined): boolean {
  if (partition === undefined) return false;
  if (update.leaderEpoch > partition.leaderEpoch) return true;
  return update.leaderEpoch === partition.leaderEpoch && update.leaderId !== partition.leaderId;
}
