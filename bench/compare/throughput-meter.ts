/**
 * Counts completed records and payload bytes of one run over time: totals, a timeline of rates in
 * fixed buckets (for the throughput chart), and the rate of the last second (for live progress).
 */
import assert from 'node:assert';
import { LiveProgress } from './live-progress.js';

/** Width of one timeline bucket. */
export const TIMELINE_BUCKET_MS = 250;
/** Most buckets kept (an hour at 250 ms); later completions count in the totals only. */
export const TIMELINE_BUCKETS_MAX = 14_400;
const RATE_WINDOW_MS = 1_000;

export interface TimelinePoint {
  /** End of the bucket, seconds since the run started. */
  readonly atSeconds: number;
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
}

export interface Throughput {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  /** Payload bytes per second / 1e6. */
  readonly megabytesPerSecond: number;
  readonly timeline: readonly TimelinePoint[];
}

export function nowNs(): number {
  return performance.now() * 1e6;
}

export class ThroughputMeter {
  private startNs = 0;
  private endNs = 0;
  private lastNs = 0;
  private recordsDone = 0;
  private bytesDone = 0;
  private readonly bucketRecords: number[] = [];
  private readonly bucketBytes: number[] = [];
  private progressTimer: NodeJS.Timeout | undefined;
  private readonly recent: Array<{ atMs: number; records: number; bytes: number }> = [];

  constructor(private readonly progress: LiveProgress | null = null) {}

  start(atNs = nowNs()): void {
    this.startNs = atNs;
    if (this.progress !== null) {
      this.progressTimer = setInterval(() => this.updateProgress(), 200);
      this.progressTimer.unref();
    }
  }

  get started(): boolean {
    return this.startNs !== 0;
  }

  get records(): number {
    return this.recordsDone;
  }

  get bytes(): number {
    return this.bytesDone;
  }

  /** When the last completion was counted (now, when none was): a run ends at its last ack, not when its clean-up is done. */
  get lastCompletionNs(): number {
    return this.lastNs === 0 ? nowNs() : this.lastNs;
  }

  /** `records` records of `bytes` payload bytes in all completed at `atNs`. */
  add(records: number, bytes: number, atNs = nowNs()): void {
    assert(this.startNs !== 0, 'start() the meter before counting');
    this.recordsDone += records;
    this.bytesDone += bytes;
    if (atNs > this.lastNs) this.lastNs = atNs;
    const bucket = Math.max(0, Math.floor((atNs - this.startNs) / (TIMELINE_BUCKET_MS * 1e6)));
    if (bucket >= TIMELINE_BUCKETS_MAX) return;
    while (this.bucketRecords.length <= bucket) {
      this.bucketRecords.push(0);
      this.bucketBytes.push(0);
    }
    this.bucketRecords[bucket] += records;
    this.bucketBytes[bucket] += bytes;
  }

  /** Ends the run at `atNs`; returns the totals and the timeline. */
  finish(atNs = nowNs()): Throughput {
    this.endNs = atNs;
    clearInterval(this.progressTimer);
    this.updateProgress();
    this.progress?.stop();
    const seconds = Math.max(1e-9, (this.endNs - this.startNs) / 1e9);
    const bucketSeconds = TIMELINE_BUCKET_MS / 1000;
    const timeline: TimelinePoint[] = this.bucketRecords.map((records, i) => ({
      atSeconds: (i + 1) * bucketSeconds,
      recordsPerSecond: records / bucketSeconds,
      megabytesPerSecond: this.bucketBytes[i] / bucketSeconds / 1e6,
    }));
    return {
      records: this.recordsDone,
      bytes: this.bytesDone,
      seconds,
      recordsPerSecond: this.recordsDone / seconds,
      megabytesPerSecond: this.bytesDone / seconds / 1e6,
      timeline,
    };
  }

  private updateProgress(): void {
    if (this.progress === null) return;
    const atMs = performance.now();
    this.recent.push({ atMs, records: this.recordsDone, bytes: this.bytesDone });
    while (this.recent.length > 2 && atMs - this.recent[1].atMs >= RATE_WINDOW_MS) this.recent.shift();
    const oldest = this.recent[0];
    const spanSeconds = Math.max(1e-3, (atMs - oldest.atMs) / 1000);
    this.progress.update(this.recordsDone, (this.recordsDone - oldest.records) / spanSeconds, (this.bytesDone - oldest.bytes) / spanSeconds / 1e6);
  }
}
