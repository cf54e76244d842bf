/** Shared inputs and timing helpers for the record benchmarks (bench/record-codec.ts, bench/record-pool.ts). */
import { performance } from 'node:perf_hooks';
import type { ProduceRecord } from '../record/record.js';

export const BENCH_NOW_MS = 1_700_000_000_000;

/**
 * Records that compress about as well as typical application logs and JSON events (3-5x with
 * the fast codecs): a fixed vocabulary, numbers, ids. Deterministic (seeded).
 */
export function benchRecords(recordBytes: number, count: number, seed = 1): ProduceRecord[] {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  const words = ['user', 'order', 'status', 'created', 'updated', 'payment', 'shipped', 'region', 'eu-west', 'us-east', 'amount', 'currency', 'EUR', 'USD', 'session', 'click', 'view', 'true', 'false', 'null'];
  const records: ProduceRecord[] = [];
  for (let i = 0; i < count; i++) {
    let text = '{';
    while (text.length < recordBytes - 24) {
      const word = words[next() % words.length];
      text += `"${word}":${next() % 3 === 0 ? `"${word}-${(next() % 100000).toString(36)}"` : next() % 1000000},`;
    }
    const value = Buffer.alloc(recordBytes, 0x20);
    value.write(text.slice(0, recordBytes - 1) + '}');
    records.push({ key: Buffer.from(`key-${next() % 10000}`), value, timestamp: BENCH_NOW_MS + i });
  }
  return records;
}

/** Records whose encoded batch is close to `batchBytes` (uncompressed). */
export function benchBatchRecords(batchBytes: number, recordBytes: number, seed = 1): ProduceRecord[] {
  const perRecordOverhead = 16;
  return benchRecords(recordBytes, Math.max(1, Math.round((batchBytes - 61) / (recordBytes + perRecordOverhead))), seed);
}

export interface Timing {
  /** Median wall time per operation, microseconds (the median shrugs off other load on the machine). */
  latencyUs: number;
  /** Mean main-thread busy time per operation (event loop utilisation), microseconds. */
  mainThreadUs: number;
  operations: number;
}

/** Runs `operation` one at a time (awaited) for about `budgetMs`, after a short warm-up. */
export async function timeSequential(operation: () => unknown, budgetMs: number, minOperations = 5): Promise<Timing> {
  for (let i = 0; i < 3; i++) await operation();
  const eluStart = performance.eventLoopUtilization();
  const started = performance.now();
  const durations: number[] = [];
  while (durations.length < minOperations || performance.now() - started < budgetMs) {
    const before = performance.now();
    await operation();
    durations.push(performance.now() - before);
  }
  const elu = performance.eventLoopUtilization(eluStart);
  durations.sort((a, b) => a - b);
  const operations = durations.length;
  return { latencyUs: durations[operations >> 1] * 1000, mainThreadUs: (elu.active * 1000) / operations, operations };
}

/** Runs `operation` with `inFlight` concurrent operations for about `budgetMs`; returns ops/s and main-thread share. */
export async function timeConcurrent(operation: () => Promise<unknown>, inFlight: number, budgetMs: number): Promise<{ operationsPerSecond: number; mainThreadShare: number }> {
  for (let i = 0; i < 3; i++) await operation();
  const eluStart = performance.eventLoopUtilization();
  const started = performance.now();
  let operations = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() - started < budgetMs) {
      await operation();
      operations++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsedMs = performance.now() - started;
  const elu = performance.eventLoopUtilization(eluStart);
  return { operationsPerSecond: (operations * 1000) / elapsedMs, mainThreadShare: elu.utilization };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KiB`;
  return `${bytes} B`;
}
