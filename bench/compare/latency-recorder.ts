/**
 * Latency in an HDR histogram (microsecond resolution, 3 significant digits, up to 10 minutes).
 * A sample is the time from a record's intended send time to its completion (an ack, or its
 * arrival at the consumer); see FixedRateSchedule for why the intended time.
 */
import assert from 'node:assert';
import * as hdr from 'hdr-histogram-js';

/** Largest latency the histogram holds; longer samples are clamped to it (and counted). */
export const LATENCY_US_MAX = 600_000_000;

/** The percentiles a summary lists, for the table and the percentile chart. */
export const SUMMARY_PERCENTILES: readonly number[] = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** True when samples were measured from intended send times at a fixed rate. */
  readonly correctedForCoordinatedOmission: boolean;
  /** Latency at each of SUMMARY_PERCENTILES. */
  readonly percentiles: ReadonlyArray<{ readonly percentile: number; readonly ms: number }>;
  /** Samples longer than LATENCY_US_MAX, recorded as LATENCY_US_MAX. */
  readonly clampedCount: number;
}

export class LatencyRecorder {
  readonly histogram: hdr.Histogram;
  private clamped = 0;

  /** @param correctedForCoordinatedOmission whether callers pass intended send times (fixed rate) */
  constructor(readonly correctedForCoordinatedOmission: boolean) {
    this.histogram = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  }

  /** Records `count` samples (default 1) from `startNs` (the intended send time at a fixed rate) to `endNs`. */
  record(startNs: number, endNs: number, count = 1): void {
    this.recordUs((endNs - startNs) / 1000, count);
  }

  recordUs(latencyUs: number, count = 1): void {
    assert(Number.isFinite(latencyUs), 'latency must be a finite number');
    let value = Math.max(1, Math.round(latencyUs));
    if (value > LATENCY_US_MAX) {
      value = LATENCY_US_MAX;
      this.clamped += count;
    }
    if (count === 1) this.histogram.recordValue(value);
    else this.histogram.recordValueWithCount(value, count);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => us / 1000;
    // The max as the percentile table reports it (the top of its bucket), so percentiles never exceed it.
    const maxUs = h.getValueAtPercentile(100);
    return {
      count: h.totalCount,
      meanMs: ms(h.mean),
      p50Ms: ms(h.getValueAtPercentile(50)),
      p90Ms: ms(h.getValueAtPercentile(90)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      p999Ms: ms(h.getValueAtPercentile(99.9)),
      maxMs: ms(maxUs),
      correctedForCoordinatedOmission: this.correctedForCoordinatedOmission,
      percentiles: SUMMARY_PERCENTILES.map((percentile) => ({ percentile, ms: ms(percentile === 100 ? maxUs : h.getValueAtPercentile(percentile)) })),
      clampedCount: this.clamped,
    };
  }
}
