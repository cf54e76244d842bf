import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RunResult } from '../../bench/compare/bench-result.js';
import { latencyChartOption, percentileAxisPosition, throughputChartOption, writeChart } from '../../bench/compare/bench-charts.js';
import { LatencyRecorder } from '../../bench/compare/latency-recorder.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const dir = mkdtempSync(join(tmpdir(), 'brook-bench-charts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function syntheticRun(label: string, scale: number): RunResult {
  const latency = new LatencyRecorder(true);
  for (let i = 1; i <= 1000; i++) latency.recordUs(i * scale);
  return {
    system: 'brook', kind: 'e2e', label, durability: 'fsync before ack', parameters: {}, missingRecords: 0, firstError: null,
    records: 1000, bytes: 100_000, seconds: 2, recordsPerSecond: 500, megabytesPerSecond: 0.05,
    timeline: Array.from({ length: 8 }, (_, i) => ({ atSeconds: (i + 1) * 0.25, recordsPerSecond: 400 + i * 20 * scale, megabytesPerSecond: 0.04 })),
    latency: latency.summary(),
  };
}

/** Width and height from the PNG's IHDR chunk (bytes 16..23). */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

test('a throughput chart is written as an SVG and as a PNG that opens as a 960x520 picture', () => {
  const files = writeChart(dir, 'throughput', throughputChartOption('records/s over time', [syntheticRun('Brook', 1), syntheticRun('JetStream', 2)], 'records/s'));
  const png = readFileSync(files.png);
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  assert.deepEqual(pngSize(png), { width: 960, height: 520 });
  // A blank canvas compresses to a few hundred bytes; axes, text and two lines take far more.
  assert.ok(statSync(files.png).size > 10_000, `PNG of ${statSync(files.png).size} bytes looks empty`);
  const svg = readFileSync(files.svg, 'utf8');
  assert.match(svg, /^<svg[\s>]/);
  assert.match(svg, /JetStream/);
  assert.match(svg, /records\/s over time/);
});

test('a latency chart places 90, 99 and 99.9 percent one unit apart and renders every run', () => {
  assert.equal(percentileAxisPosition(0), 0);
  assert.ok(Math.abs(percentileAxisPosition(90) - 1) < 1e-9);
  assert.ok(Math.abs(percentileAxisPosition(99) - 2) < 1e-9);
  assert.ok(Math.abs(percentileAxisPosition(99.9) - 3) < 1e-9);
  const files = writeChart(dir, 'latency', latencyChartOption('latency by percentile', [syntheticRun('fsync', 1), syntheticRun('relaxed', 3)]));
  const png = readFileSync(files.png);
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  assert.deepEqual(pngSize(png), { width: 960, height: 520 });
  const svg = readFileSync(files.svg, 'utf8');
  assert.match(svg, /relaxed/);
  assert.match(svg, /99\.9%/);
});
