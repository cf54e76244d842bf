/**
 * The chaos run of every test suite: three broker processes, an RF=3 topic, three acks=all
 * producers and two consumers, and about a minute of mixed faults from a fixed seed (kills of
 * random brokers and leaders, pauses past the election timeout, network partitions through the
 * fault proxies, power loss on one node and on all, full disks). The history must check clean and
 * no broker may crash. BROOK_CHAOS_SEED and BROOK_CHAOS_DURATION_S override the seed and length;
 * on failure the history and reports stay in the printed directory for replay.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChaos } from './chaos-run.js';
import type { FaultKind } from './nemesis.js';

const SEED = Number(process.env.BROOK_CHAOS_SEED ?? 20261123);
const DURATION_S = Number(process.env.BROOK_CHAOS_DURATION_S ?? 55);
const KINDS: readonly FaultKind[] = ['kill', 'pause', 'partition-halves', 'isolate-leader', 'bridge', 'power-loss-one', 'power-loss-all', 'disk-full'];

test(`chaos: 3 brokers, ${DURATION_S} s of mixed faults (seed ${SEED}), nothing lost, no anomaly`, { timeout: (DURATION_S + 240) * 1000 }, async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'brook-chaos-ci-'));
  const result = await runChaos({ brokers: 3, durationMs: DURATION_S * 1000, seed: SEED, outDir, kinds: KINDS, partitions: 3, sendsPerSecondPerProducer: 150 });
  assert.ok(result.passed, `chaos run failed; history and reports kept in ${outDir}\n${result.text}`);
  assert.ok(result.report.acknowledged > 500, `only ${result.report.acknowledged} writes acknowledged\n${result.text}`);
  assert.ok(Object.values(result.report.faultsByKind).reduce((sum, n) => sum + n, 0) >= 5, `too few faults injected\n${result.text}`);
  assert.equal(result.report.lost, 0);
  rmSync(outDir, { recursive: true, force: true });
});

// Every client, proxy and broker of the run is closed when it ends. Should a client library still
// hold a handle, name it and end the file's process, so the suite does not wait forever on it.
after(() => {
  setTimeout(() => {
    process.stderr.write(`chaos.test: still alive after the run, holding ${process.getActiveResourcesInfo().join(', ')}; exiting\n`);
    process.exit();
  }, 10_000).unref();
});
