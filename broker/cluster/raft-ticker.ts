/**
 * The broker's one Raft clock. Every tick it ticks the groups registered on the broker (the
 * partition replicas and the controller's replica alike), then lets the peer transport send that
 * tick's coalesced heartbeats together (one frame per peer instead of one per group).
 *
 * A quiesced group (raft/README.md, "Quiescence") has a leader and is ticked every time, but its
 * tick returns at once: an idle broker's tick is one walk over its groups and one keep-alive frame
 * per peer (the replica manager's afterTick).
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
 *
 * Raft time also waits for the disk. Every tick sends a cheap probe (a stat) through the same
 * thread pool that the replicas' writes and fdatasyncs queue in, and the next tick happens only
 * once it has come back (at most IO_WAIT_TICKS_MAX ticks are skipped in a row). With an idle
 * disk the probe returns within the tick and nothing changes; when a burst of durable writes
 * (a thousand elections, each writing term and vote on every replica) queues up, a group's Ready
 * takes a multiple of that queue's delay, and so does its heartbeat, which waits for the Ready:
 * if time ran on, followers would time out on leaders that are only waiting for the disk, and
 * their campaigns would add more writes to the queue. Slowing every clock with the queue keeps
 * elections for leaders that are really gone.
 *
 * Within the budget, the groups this broker is the preferred leader of come first (three quarters
 * of it while others wait too). At a cold start each group's preferred replica then usually
 * campaigns before the others and wins in the first term: fewer campaigns, each costing durable
 * writes on every replica, and no leadership transfers afterwards to balance the leaders.
 */
import assert from 'node:assert/strict';
import { NO_NODE, type NodeId } from '../../raft/types.js';
import type { GroupIdRegistry } from '../transport/group-id-registry.js';

/** Ticks per tick shared by the groups that know no leader (see the file comment). */
export const LEADERLESS_TICKS_PER_TICK_MAX = 64;
/** Ticks skipped in a row at most while the disk probe is out (a hung disk must not stop Raft time for good). */
export const IO_WAIT_TICKS_MAX = 40;

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
  /** Whether this broker is the group's preferred leader: such groups come first in the leaderless budget. */
  readonly preferred?: (group: Tickable) => boolean;
  readonly leaderlessTicksPerTickMax?: number;
  /**
   * Starts a cheap operation through the thread pool the replicas' disk writes use and calls
   * `done` when it completes, successfully or not (see the file comment).
   */
  readonly ioProbe?: (done: () => void) => void;
  /** Runs after each tick's flush (the replica manager watches roles and drives reassignments there). */
  readonly afterTick?: () => void;
}

export class RaftTicker {
  private timer: NodeJS.Timeout | undefined;
  private readonly leaderlessPreferred = new RoundRobin();
  private readonly leaderlessOthers = new RoundRobin();
  private readonly leaderlessTicksMax: number;
  /** Ticks done since start. */
  ticks = 0;
  /** Leaderless groups that were not ticked in the last tick (their turn comes later). */
  leaderlessWaiting = 0;
  /** Ticks skipped because the disk probe had not come back. */
  ticksDeferred = 0;
  private probeOut = false;
  private readonly probeDone = (): void => {
    this.probeOut = false;
  };
  private ticksWaited = 0;

  constructor(private readonly options: RaftTickerOptions) {
    assert.ok(Number.isInteger(options.tickMs) && options.tickMs >= 1, `tickMs must be a positive integer, got ${options.tickMs}`);
    this.leaderlessTicksMax = options.leaderlessTicksPerTickMax ?? LEADERLESS_TICKS_PER_TICK_MAX;
    assert.ok(Number.isInteger(this.leaderlessTicksMax) && this.leaderlessTicksMax >= 1, 'leaderlessTicksPerTickMax must be a positive integer');
  }

  /** Starts ticking every tickMs; the timer does not keep the process alive. Idempotent. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.onTimer(), this.options.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The timer's tick: waits for the disk probe (see the file comment), then ticks the groups. */
  private onTimer(): void {
    if (this.probeOut && this.ticksWaited < IO_WAIT_TICKS_MAX) {
      this.ticksWaited += 1;
      this.ticksDeferred += 1;
      this.options.afterTick?.();
      return;
    }
    this.ticksWaited = 0;
    const probe = this.options.ioProbe;
    if (probe !== undefined && !this.probeOut) {
      this.probeOut = true;
      probe(this.probeDone);
    }
    this.tick();
  }

  /** One tick of the groups (leaderless ones within their budget), then the transport's flush. */
  tick(): void {
    const groups = this.options.groups;
    const priority = this.options.priorityGroupIds?.map((id) => groups.get(id)) ?? [];
    const preferred = this.leaderlessPreferred;
    const others = this.leaderlessOthers;
    const isPreferred = this.options.preferred;
    for (const group of groups.handlers()) {
      if (group.leader !== NO_NODE || priority.includes(group)) group.tick();
      else if (isPreferred !== undefined && isPreferred(group)) preferred.groups.push(group);
      else others.groups.push(group);
    }
    const budget = this.leaderlessTicksMax;
    const total = preferred.groups.length + others.groups.length;
    // Three quarters of the budget to the preferred groups while others wait too; what one list
    // does not use goes to the other.
    const preferredShare = Math.min(preferred.groups.length, Math.max(others.groups.length === 0 ? budget : Math.ceil((budget * 3) / 4), budget - others.groups.length));
    const ticked = preferred.tick(preferredShare) + others.tick(budget - preferredShare);
    this.leaderlessWaiting = total - ticked;
    this.options.transport.flushTick();
    this.ticks += 1;
    this.options.afterTick?.();
  }
}

/** Leaderless groups of one kind, collected per tick, ticked from where the last tick stopped. */
class RoundRobin {
  readonly groups: Tickable[] = [];
  private cursor = 0;

  /** Ticks up to `budget` of the collected groups, then forgets them; returns how many it ticked. */
  tick(budget: number): number {
    const count = this.groups.length;
    const ticks = Math.min(Math.max(budget, 0), count);
    const start = count === 0 ? 0 : this.cursor % count;
    for (let i = 0; i < ticks; i++) this.groups[(start + i) % count].tick();
    if (count > 0) this.cursor = (start + ticks) % count;
    this.groups.length = 0;
    return ticks;
  }
}
