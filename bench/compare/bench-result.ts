/**
 * What one benchmark run measured, and how results are printed (a table) and saved (JSON).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LatencySummary } from './latency-recorder.js';
import type { Throughput } from './throughput-meter.js';

export type BenchSystem = 'brook' | 'jetstream' | 'jetstream-lean' | 'grpc';
export type BenchKind = 'produce' | 'consume' | 'e2e' | 'grpc-ceiling';

export interface RunResult extends Throughput {
  readonly system: BenchSystem;
  readonly kind: BenchKind;
  /** Human name of the run, e.g. "Brook (fsync before ack)". */
  readonly label: string;
  /** What the side promised when it acknowledged, e.g. "fsync before ack". */
  readonly durability: string;
  /** The parameters the run used, for the JSON record. */
  readonly parameters: Readonly<Record<string, string | number | boolean | null>>;
  /** Send-to-ack latency (produce) or intended-send-to-receive latency (e2e); null when not measured. */
  readonly latency: LatencySummary | null;
  /** Records sent but never acknowledged or never received within the run. */
  readonly missingRecords: number;
  /** The first error a send or read failed with, if any did. */
  readonly firstError: string | null;
}

/** One row of the comparison: what `bench:compare --json` writes, one per workload and unit. */
export interface CompareRow {
  readonly workload: string;
  readonly unit: string;
  readonly brook: number | null;
  /** The peer through its npm client (W5: the bare gRPC ceiling). */
  readonly peer: number | null;
  /** The peer through the lean raw-protocol client (null where there is none). */
  readonly peerLean: number | null;
  /** brook / peer (for latency units too: below 1 means Brook is faster). */
  readonly ratio: number | null;
  readonly ratioLean: number | null;
  readonly brookDurability: string;
  readonly peerDurability: string;
  /** Why a value is missing, or what the row's peer is. */
  readonly note: string;
}

/** An error as one line of text. */
export function errorText(error: unknown): string {
  return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).split('\n')[0].slice(0, 200);
}

export function ratioOf(brook: number | null, peer: number | null): number | null {
  if (brook === null || peer === null || peer === 0) return null;
  return brook / peer;
}

/** Rounds a figure to 3 significant digits for display; null prints as "-". */
export function formatFigure(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en');
  return Number(value.toPrecision(3)).toString();
}

function formatRatio(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(2)}x`;
}

/** A plain-text table with a header row and columns padded to fit. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

/** The comparison table; each distinct note is printed once below it and referred to as [n]. */
export function formatCompareTable(rows: readonly CompareRow[]): string {
  const notes: string[] = [];
  const reference = (note: string) => {
    if (note === '') return '';
    let index = notes.indexOf(note);
    if (index < 0) index = notes.push(note) - 1;
    return ` [${index + 1}]`;
  };
  const table = formatTable(
    ['workload', 'unit', 'Brook', 'JetStream (npm)', 'JetStream (lean)', 'ratio', 'ratio lean', 'durability (Brook / peer)'],
    rows.map((row) => [row.workload, row.unit, formatFigure(row.brook), formatFigure(row.peer), formatFigure(row.peerLean), formatRatio(row.ratio), formatRatio(row.ratioLean), `${row.brookDurability} / ${row.peerDurability}${reference(row.note)}`]),
  );
  return [table, ...notes.map((note, i) => `[${i + 1}] ${note}`)].join('\n');
}

/** One line per run: throughput, and latency percentiles when measured. */
export function formatRunTable(results: readonly RunResult[]): string {
  return formatTable(
    ['run', 'records', 'seconds', 'records/s', 'MB/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'durability'],
    results.map((r) => [
      r.label,
      r.records.toLocaleString('en'),
      r.seconds.toFixed(2),
      formatFigure(r.recordsPerSecond),
      formatFigure(r.megabytesPerSecond),
      formatFigure(r.latency?.p50Ms ?? null),
      formatFigure(r.latency?.p99Ms ?? null),
      formatFigure(r.latency?.p999Ms ?? null),
      formatFigure(r.latency?.maxMs ?? null),
      r.durability + (r.missingRecords > 0 ? ` (${r.missingRecords} missing${r.firstError === null ? '' : `; first error: ${r.firstError}`})` : '') + (r.latency !== null && !r.latency.correctedForCoordinatedOmission ? ' (latency not CO-corrected: max rate)' : ''),
    ]),
  );
}

/** Writes `value` as indented JSON, creating the folder. */
export function writeJsonFile(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
