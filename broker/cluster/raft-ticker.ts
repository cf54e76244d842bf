/**
 * The broker's one Raft clock. Every tick it ticks the groups registered on the broker (the
 * partition replicas and the controller's replica alike), then lets the peer transport send that
 * tick's coalesced heartbeats together (one frame per peer instead of one per group).
 *
 * Leaderless groups share a budget. A group with a leader (or that leads) is ticked every time;
 * so is the controller's group. Groups that know no leader (waiting to campaign, or campaigning)
 * get at most LEADERLESS_TICKS_PER_TICK_MAX ticks per tick between them, round-robin. When a
 * thousand groups start at once, every campaign writes the term and vote durably on three brokers,
 * and those writes queue behind each other: each campaign's answers then arrive after its election
 * timeout, every group campaigns again in a new term, and none ever wins (measured: 1,000
 * partitions at RF=3 on three brokers elected no leader in 60 s). Slowing the election clock of
 * leaderless groups when there are many of them spreads the campaigns out so that they finish.
 * A group that loses its leader still times out on its own full-rate clock and campaigns at once
 * (the exchange of votes is driven by messages, not ticks); only a retry after a failed campaign,
 * or a group that never had a leader, waits its turn.
 */
import assert from 'node:assert/strict';
import { NO_NODE, type NodeId } from '../../raft/types.js';
import type { GroupIdRegistry } from '../transport/group-id-registry.js';

/** Ticks per tick shared by the groups that know no leader (see the file comment). */
export const LEADERLESS_TICKS_PER_TICK_MAX = 64;

export interface Tickable {
  tick(): void;
  /** The leader the group knows of; NO_NODE (0) when none. */
  readonly leader: NodeId;
}

export interface RaftTickerOptions {
  readonly groups: GroupIdRegistry<Tickable>;
  readonly transport: { flushTick(): void };
  readonly tickMs: number;
  /** Groups ticked every time even without a leader (the controller's). */
  readonly priorityGroupIds?: readonly number[];
  readonly leaderlessTicksPerTickMax?: number;
  /** Runs after each tick's flush (the replica manager watches roles and drives reassignments there). */
  readonly afterTick?: () => void;
}

export class RaftTicker {
  private timer: NodeJS.Timeout | undefined;
  private readonly leaderless: Tickable[] = [];
  private leaderlessCursor = 0;
  private readonly leaderlessTicksMax: number;
  /** Ticks done since start. */
  ticks = 0;
  /** Leaderless groups that were not ticked in the last tick (their turn comes later). */
  leaderlessWaiting = 0;

  constructor(private readonly options: RaftTickerOptions) {
    assert.ok(Number.isInteger(options.tickMs) && options.tickMs >= 1, `tickMs must be a positive integer, got ${options.tickMs}`);
    this.leaderlessTicksMax = options.leaderlessTicksPerTickMax ?? LEADERLESS_TICKS_PER_TICK_MAX;
    assert.ok(Number.isInteger(this.leaderlessTicksMax) && this.leaderlessTicksMax >= 1, 'leaderlessTicksPerTickMax must be a positive integer');
  }

  /** Starts ticking every tickMs; the timer does not keep the process alive. Idempotent. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick of the groups (leaderless ones within their budget), then the transport's flush. */
  tick(): void {
    const groups = this.options.groups;
    const priority = this.options.priorityGroupIds?.map((id) => groups.get(id)) ?? [];
    const leaderless = this.leaderless;
    leaderless.length = 0;
    for (const group of groups.handlers()) {
      if (group.leader !== NO_NODE || priority.includes(group)) group.tick();
      else leaderless.push(group);
    }
    const count = leaderless.length;
    if (count <= this.leaderlessTicksMax) {
      for (const group of leaderless) group.tick();
      this.leaderlessWaiting = 0;
    } else {
      const start = this.leaderlessCursor % count;
      for (let i = 0; i < this.leaderlessTicksMax; i++) leaderless[(start + i) % count].tick();
      this.leaderlessCursor = (start + this.leaderlessTicksMax) % count;
      this.leaderlessWaiting = count - this.leaderlessTicksMax;
    }
    leaderless.length = 0;
    this.options.transport.flushTick();
    this.ticks += 1;
    this.options.afterTick?.();
  }
}
