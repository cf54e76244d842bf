/**
 * The two ways a benchmark offers load, shared by every system it drives: as fast as acks allow
 * within a window of outstanding records (max rate), or on a fixed schedule (fixed rate, the only
 * mode whose latencies are free of coordinated omission). The system-specific part is `send`,
 * which starts sending records [from, to) and reports completions to the driver's signal.
 */
import { FixedRateSchedule } from './fixed-rate-schedule.js';
import { nowNs } from './throughput-meter.js';

/** Longest the driver waits for outstanding records after it stopped sending. */
export const DRAIN_TIMEOUT_MS = 30_000;
/** Timer granularity of the fixed-rate loop: the records due in each tick go out together. */
const FIXED_RATE_TICK_MS = 1;

/** Wakes one waiter per notify; many notifies before a wait count once. */
export class CompletionSignal {
  private waiter: (() => void) | null = null;
  private notified = false;

  notify(): void {
    if (this.waiter !== null) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter();
    } else {
      this.notified = true;
    }
  }

  /** Resolves at the next notify (or at once if one came since the last wait), or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve();
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export interface DriverTarget {
  /** Starts sending records [from, to); completions must call `signal.notify()`. */
  send(from: number, to: number): void;
  /** Records sent and not yet completed (acked or failed). */
  outstanding(): number;
  readonly signal: CompletionSignal;
}

export interface MaxRateOptions {
  readonly records: number;
  /** Stop sending at this time (ns, nowNs clock). */
  readonly deadlineNs: number;
  /** Records per send call. */
  readonly chunkRecords: number;
  /** Most records outstanding at once. */
  readonly windowRecords: number;
}

/** Sends as fast as the window allows; returns how many records were sent. */
export async function driveAtMaxRate(target: DriverTarget, options: MaxRateOptions): Promise<number> {
  let sent = 0;
  let chunks = 0;
  while (sent < options.records && nowNs() < options.deadlineNs) {
    const room = options.windowRecords - target.outstanding();
    if (room < Math.min(options.chunkRecords, options.records - sent)) {
      await target.signal.wait(100);
      continue;
    }
    const to = Math.min(options.records, sent + Math.min(options.chunkRecords, room));
    target.send(sent, to);
    sent = to;
    // Let acks in between the chunks of a large window.
    if (++chunks % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await drain(target);
  return sent;
}

export interface FixedRateOptions {
  readonly schedule: FixedRateSchedule;
  readonly deadlineNs: number;
  /** Most records outstanding at once; beyond it the loop waits (the late records keep their intended times). */
  readonly outstandingMax: number;
}

/** Sends each record when it is due (records due in one tick together); returns how many were sent. */
export async function driveAtFixedRate(target: DriverTarget, options: FixedRateOptions): Promise<number> {
  const { schedule } = options;
  let sent = 0;
  while (sent < schedule.recordsTotal) {
    const now = nowNs();
    if (now >= options.deadlineNs) break;
    const due = schedule.dueCount(now);
    if (due > sent) {
      if (target.outstanding() >= options.outstandingMax) {
        await target.signal.wait(FIXED_RATE_TICK_MS);
        continue;
      }
      const to = Math.min(due, sent + options.outstandingMax - target.outstanding());
      target.send(sent, to);
      sent = to;
      continue;
    }
    const untilNextMs = (schedule.intendedNs(sent) - now) / 1e6;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(FIXED_RATE_TICK_MS, untilNextMs))));
  }
  await drain(target);
  return sent;
}

/** Waits until nothing is outstanding, or DRAIN_TIMEOUT_MS pass without a completion. */
export async function drain(target: DriverTarget): Promise<void> {
  let lastOutstanding = target.outstanding();
  let idleSinceMs = Date.now();
  while (target.outstanding() > 0) {
    await target.signal.wait(100);
    const outstanding = target.outstanding();
    if (outstanding !== lastOutstanding) {
      lastOutstanding = outstanding;
      idleSinceMs = Date.now();
    } else if (Date.now() - idleSinceMs > DRAIN_TIMEOUT_MS) {
      return;
    }
  }
}
