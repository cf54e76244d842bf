/**
 * The broker's one Raft clock. Every tick it ticks every group registered on the broker (the
 * partition replicas and the controller's replica alike), then lets the peer transport send that
 * tick's coalesced heartbeats together (one frame per peer instead of one per group).
 */
import assert from 'node:assert/strict';
import type { GroupIdRegistry } from '../transport/group-id-registry.js';

export interface Tickable {
  tick(): void;
}

export interface RaftTickerOptions {
  readonly groups: GroupIdRegistry<Tickable>;
  readonly transport: { flushTick(): void };
  readonly tickMs: number;
  /** Runs after each tick's flush (the replica manager watches roles and drives reassignments there). */
  readonly afterTick?: () => void;
}

export class RaftTicker {
  private timer: NodeJS.Timeout | undefined;
  /** Ticks done since start. */
  ticks = 0;

  constructor(private readonly options: RaftTickerOptions) {
    assert.ok(Number.isInteger(options.tickMs) && options.tickMs >= 1, `tickMs must be a positive integer, got ${options.tickMs}`);
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

  /** One tick of every group, then the transport's flush. */
  tick(): void {
    for (const group of this.options.groups.handlers()) group.tick();
    this.options.transport.flushTick();
    this.ticks += 1;
    this.options.afterTick?.();
  }
}
