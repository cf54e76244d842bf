/**
 * When each record of a fixed-rate run is meant to be sent. Latency is measured from these
 * intended times, not from the moment a send actually happened: a client that stalls (a full
 * window, a GC pause, a slow ack) sends the records it owes late, and measuring from the late send
 * would hide the stall (coordinated omission). From the intended time, every record that waited
 * behind the stall carries the wait in its latency, as a user's request arriving then would.
 */
import assert from 'node:assert';

export class FixedRateSchedule {
  private readonly intervalNs: number;

  /**
   * @param ratePerSecond records per second, > 0
   * @param startNs the intended send time of record 0, on the clock the caller passes to dueCount
   * @param recordsTotal records in the run; dueCount never exceeds it
   */
  constructor(
    readonly ratePerSecond: number,
    readonly startNs: number,
    readonly recordsTotal: number,
  ) {
    assert(ratePerSecond > 0 && Number.isFinite(ratePerSecond), 'rate must be a positive number of records per second');
    assert(Number.isSafeInteger(recordsTotal) && recordsTotal >= 0);
    this.intervalNs = 1e9 / ratePerSecond;
  }

  /** Intended send time of record `index` (0-based), ns. */
  intendedNs(index: number): number {
    return this.startNs + index * this.intervalNs;
  }

  /** How many records should have been sent by `nowNs` (records 0..n-1 are due). */
  dueCount(nowNs: number): number {
    if (nowNs < this.startNs) return 0;
    return Math.min(this.recordsTotal, Math.floor((nowNs - this.startNs) / this.intervalNs) + 1);
  }

  /** When the run's last record is due, ns. */
  get endNs(): number {
    return this.intendedNs(Math.max(0, this.recordsTotal - 1));
  }
}
