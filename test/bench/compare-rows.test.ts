import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatCompareTable, writeJsonFile, type RunResult } from '../../bench/compare/bench-result.js';
import { BROOK_FSYNC, BROOK_RELAXED, CEILING, compareRows, PEER_LEAN, PEER_NPM, PHASES, WORKLOADS, type Measured } from '../../bench/compare/compare-run.js';
import { LatencyRecorder } from '../../bench/compare/latency-recorder.js';

function result(recordsPerSecond: number, megabytesPerSecond: number, latencyMs?: number): RunResult {
  let latency = null;
  if (latencyMs !== undefined) {
    const recorder = new LatencyRecorder(true);
    recorder.recordUs(latencyMs * 1000, 100);
    latency = recorder.summary();
  }
  return { system: 'brook', kind: 'produce', label: 'x', durability: 'd', parameters: {}, records: 1, bytes: 1, seconds: 1, recordsPerSecond, megabytesPerSecond, timeline: [], latency, missingRecords: 0, firstError: null };
}

function measured(withCluster: boolean): Measured {
  const m: Measured = { w1: new Map(), w2: new Map(), w3: new Map(), w4: new Map(), w5: new Map(), notes: new Map() };
  m.w1.set(BROOK_FSYNC, result(800_000, 80)).set(BROOK_RELAXED, result(1_000_000, 100)).set(PEER_NPM, result(40_000, 4)).set(PEER_LEAN, result(400_000, 40));
  if (withCluster) {
    m.w2.set(BROOK_FSYNC, result(100_000, 102.4)).set(BROOK_RELAXED, result(120_000, 122.9));
    m.w3.set(BROOK_FSYNC, result(200_000, 204.8));
    m.w4.set(BROOK_FSYNC, result(5000, 0.5, 4)).set(BROOK_RELAXED, result(5000, 0.5, 2));
  } else {
    m.notes.set(PHASES.brookR3, 'cluster not available: no --peers');
  }
  m.w2.set(PEER_NPM, result(20_000, 20.48)).set(PEER_LEAN, result(50_000, 51.2));
  m.w3.set(PEER_NPM, result(50_000, 51.2)).set(PEER_LEAN, result(100_000, 102.4));
  m.w4.set(PEER_NPM, result(5000, 0.5, 8)).set(PEER_LEAN, result(5000, 0.5, 2));
  m.w5.set(BROOK_FSYNC, result(500, 300)).set(BROOK_RELAXED, result(600, 350)).set(CEILING, result(1000, 500));
  return m;
}

const ALL = new Set(WORKLOADS);

test('the comparison is a list of {workload, unit, brook, peer, peerLean, ratio, ratioLean} that survives JSON', () => {
  const rows = compareRows(ALL, measured(true));
  // W1 x2, W2 x4 (records/s and MB/s, two durabilities), W3 x1, W4 x6 (p50, p99, p99.9), W5 x2
  assert.equal(rows.length, 15);
  const dir = mkdtempSync(join(tmpdir(), 'brook-bench-json-'));
  try {
    writeJsonFile(join(dir, 'compare.json'), rows);
    const parsed = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as Array<Record<string, unknown>>;
    assert.ok(Array.isArray(parsed));
    for (const row of parsed) {
      for (const key of ['workload', 'unit', 'brook', 'peer', 'peerLean', 'ratio', 'ratioLean']) assert.ok(key in row, `row ${JSON.stringify(row)} lacks ${key}`);
      assert.equal(typeof row.workload, 'string');
      for (const key of ['brook', 'peer', 'peerLean', 'ratio', 'ratioLean']) assert.ok(row[key] === null || typeof row[key] === 'number');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const w1 = rows.filter((row) => row.workload.startsWith('W1'));
  assert.deepEqual(w1.map((row) => [row.unit, row.brook, row.peer, row.peerLean, row.ratio, row.ratioLean]), [
    ['records/s', 800_000, 40_000, 400_000, 20, 2],
    ['records/s', 1_000_000, 40_000, 400_000, 25, 2.5],
  ]);
  assert.deepEqual(w1.map((row) => row.brookDurability), ['fsync before ack', 'ack before fsync (sync every 2 min)']);
  const w4p99 = rows.filter((row) => row.workload.startsWith('W4') && row.unit === 'p99 ms');
  // HDR buckets round 4, 2 and 8 ms alike to within 0.1 %.
  assert.deepEqual(w4p99.map((row) => Number(row.ratio!.toFixed(3))), [0.5, 0.25], 'latency ratios are brook / peer');
  const w5 = rows.filter((row) => row.workload.startsWith('W5'));
  assert.deepEqual(w5.map((row) => [row.brook, row.peer, row.peerLean, row.ratio]), [[300, 500, null, 0.6], [350, 500, null, 0.7]]);
});

test('without a cluster the replicated rows keep the peer figures and say why Brook has none', () => {
  const rows = compareRows(ALL, measured(false));
  const w2 = rows.filter((row) => row.workload.startsWith('W2'));
  assert.ok(w2.length > 0);
  for (const row of w2) {
    assert.equal(row.brook, null);
    assert.equal(row.ratio, null);
    assert.notEqual(row.peer, null);
    assert.match(row.note, /cluster not available/);
  }
  for (const row of rows.filter((r) => r.workload.startsWith('W1'))) assert.equal(row.note, '', 'single-broker rows carry no cluster note');
  const table = formatCompareTable(rows);
  assert.match(table.split('\n')[0], /^workload\s+\| unit\s+\| Brook\s+\| JetStream \(npm\)\s+\| JetStream \(lean\)\s+\| ratio/);
  // The reason is printed once, below the table, and referred to from each row.
  assert.equal(table.split('\n').filter((line) => /cluster not available/.test(line)).length, 1);
  assert.match(table, /^\[1\] cluster not available: no --peers$/m);
  assert.match(table, /^W2 produce R3 .* \[1\]$/m);
});

test('only the workloads asked for become rows', () => {
  const rows = compareRows(new Set(['W1', 'W5'] as const), measured(true));
  assert.deepEqual([...new Set(rows.map((row) => row.workload.slice(0, 2)))], ['W1', 'W5']);
});
