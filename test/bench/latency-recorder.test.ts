import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixedRateSchedule } from '../../bench/compare/fixed-rate-schedule.js';
import { LatencyRecorder } from '../../bench/compare/latency-recorder.js';

const MS = 1e6;

test('a fixed-rate schedule says which records are due and when each was meant to go', () => {
  const schedule = new FixedRateSchedule(1000, 5 * MS, 10);
  assert.equal(schedule.dueCount(4 * MS), 0);
  assert.equal(schedule.dueCount(5 * MS), 1);
  assert.equal(schedule.dueCount(7.5 * MS), 3);
  assert.equal(schedule.dueCount(1_000 * MS), 10, 'never more than the run holds');
  assert.equal(schedule.intendedNs(3), 8 * MS);
  assert.equal(schedule.endNs, 14 * MS);
});

/**
 * A client that sends one request at a time at 1,000/s, each served in 1 us, except one that
 * stalls for 1 s at t = 5 s. The client cannot send while it waits, so the 1,000 requests due
 * during the stall go late: measured from their actual send time they look fast (coordinated
 * omission); measured from their intended send time they carry the wait (1 s, 999 ms, ... 1 ms).
 */
function simulate(): { corrected: LatencyRecorder; naive: LatencyRecorder } {
  const rate = 1000;
  const records = 10_000;
  const schedule = new FixedRateSchedule(rate, 0, records);
  const corrected = new LatencyRecorder(true);
  const naive = new LatencyRecorder(false);
  let freeAtNs = 0;
  for (let i = 0; i < records; i++) {
    const intendedNs = schedule.intendedNs(i);
    const sentNs = Math.max(intendedNs, freeAtNs);
    const serviceNs = i === 5_000 ? 1_000 * MS : 0.001 * MS;
    const doneNs = sentNs + serviceNs;
    freeAtNs = doneNs;
    corrected.record(intendedNs, doneNs);
    naive.record(sentNs, doneNs);
  }
  return { corrected, naive };
}

test('latency from the intended send time keeps the requests a stall delayed; from the actual send time it loses them', () => {
  const { corrected, naive } = simulate();
  const c = corrected.summary();
  const n = naive.summary();
  assert.equal(c.count, 10_000);
  assert.ok(c.correctedForCoordinatedOmission);
  assert.ok(!n.correctedForCoordinatedOmission);
  // Naive: one slow sample in 10,000, so p99 is the ordinary 1 us.
  assert.ok(n.p99Ms < 0.01, `naive p99 ${n.p99Ms} ms`);
  assert.ok(Math.abs(n.maxMs - 1000) < 2);
  // Corrected: 1,000 samples of 10,000 spread from 1 s down to 0: p95 ~ 0.5 s, p99 ~ 0.9 s.
  assert.ok(c.p99Ms > 880 && c.p99Ms < 920, `corrected p99 ${c.p99Ms} ms`);
  assert.ok(c.p50Ms < 0.01, `corrected p50 ${c.p50Ms} ms`);
  const p95 = corrected.histogram.getValueAtPercentile(95) / 1000;
  assert.ok(p95 > 480 && p95 < 520, `corrected p95 ${p95} ms`);
});

test('the intended-time correction agrees with HdrHistogram\'s own after-the-fact correction of the naive series', () => {
  const { corrected, naive } = simulate();
  // HdrHistogram back-fills the samples a stall hid, given the expected interval (1 ms = 1000 us):
  // 999 samples of 999 ms, 998 ms, ... 1 ms. It cannot know the late requests were still sent and
  // recorded (fast), so it holds 10,999 samples to our 10,000 and its tail percentiles sit a little
  // lower; the tail itself is the same.
  const backFilled = naive.histogram.copyCorrectedForCoordinatedOmission(1000);
  assert.equal(backFilled.totalCount, 10_999);
  for (const percentile of [99, 99.9, 100]) {
    const ours = corrected.histogram.getValueAtPercentile(percentile);
    const theirs = backFilled.getValueAtPercentile(percentile);
    assert.ok(Math.abs(ours - theirs) <= 0.03 * theirs, `p${percentile}: intended-time ${ours} us vs back-filled ${theirs} us`);
  }
});

test('counts, clamps beyond the histogram range, and lists percentiles in order', () => {
  const recorder = new LatencyRecorder(true);
  recorder.record(0, 2 * MS, 3);
  recorder.recordUs(1e12);
  const summary = recorder.summary();
  assert.equal(summary.count, 4);
  assert.equal(summary.clampedCount, 1);
  const values = summary.percentiles.map((p) => p.ms);
  assert.deepEqual(values, [...values].sort((a, b) => a - b));
  assert.ok(Math.abs(summary.p50Ms - 2) < 0.01);
});
