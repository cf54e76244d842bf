import type { Message } from '../../../raft/types.js';
import { EventKind, type EventQueue } from './event-queue.js';
import type { Prng } from './prng.js';

/** The network's current misbehaviour; the fault scheduler changes it during a run. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Probability that a message takes a long detour (arrives after later ones: reordering). */
  detourRate: number;
  delayMinMs: number;
  delayMaxMs: number;
  detourMaxMs: number;
}

export const CALM_NETWORK: NetworkFaults = { dropRate: 0, duplicateRate: 0, detourRate: 0, delayMinMs: 1, delayMaxMs: 5, detourMaxMs: 5 };

/** What send() returns when the link to the target is cut. */
export const LINK_DOWN = -1;

/** Node ids are small; the reachability matrix is sized for this many (ids 1 .. NODE_ID_LIMIT - 1). */
export const NODE_ID_LIMIT = 32;

/**
 * Carries messages between simulated nodes through the event queue. Each directed link can be cut
 * on its own, which gives symmetric, asymmetric and bridge partitions.
 */
export class SimNetwork {
  faults: NetworkFaults = { ...CALM_NETWORK };
  private readonly blocked = new Uint8Array(NODE_ID_LIMIT * NODE_ID_LIMIT);
  sent = 0;
  dropped = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
  ) {}

  canSend(from: number, to: number): boolean {
    return this.blocked[from * NODE_ID_LIMIT + to] === 0;
  }

  setLink(from: number, to: number, up: boolean): void {
    this.blocked[from * NODE_ID_LIMIT + to] = up ? 0 : 1;
  }

  healPartitions(): void {
    this.blocked.fill(0);
  }

  /**
   * Sends a message; returns the number of copies that will arrive (0 when lost), so the caller can
   * tell a snapshot's sender whether it got through, or LINK_DOWN when the link is cut (which a
   * connection-based transport notices).
   */
  send(message: Message, nowMs: number): number {
    this.sent++;
    const faults = this.faults;
    if (!this.canSend(message.from, message.to)) {
      this.dropped++;
      return LINK_DOWN;
    }
    if (faults.dropRate > 0 && this.prng.chance(faults.dropRate)) {
      this.dropped++;
      return 0;
    }
    this.queue.push(nowMs + this.delayMs(), EventKind.Deliver, message.to, 0, message);
    if (faults.duplicateRate > 0 && this.prng.chance(faults.duplicateRate)) {
      this.queue.push(nowMs + this.delayMs(), EventKind.Deliver, message.to, 0, message);
      return 2;
    }
    return 1;
  }

  private delayMs(): number {
    const faults = this.faults;
    if (faults.detourRate > 0 && this.prng.chance(faults.detourRate)) return this.prng.range(faults.delayMinMs, faults.detourMaxMs);
    return this.prng.range(faults.delayMinMs, faults.delayMaxMs);
  }
}
