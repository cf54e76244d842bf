/**
 * The chaos run of every test suite: three broker processes, an RF=3 topic, three acks=all
 * producers and two consumers, and about a minute of mixed faults from a fixed seed (kills of
 * random brokers and leaders, pauses past the election timeout, network partitions through the
 * fault proxies, power loss on one node and on all, bit flips in stored batches, full disks). The history must check clean and
 * no broker may crash. BROOK_CHAOS_SEED and BROOK_CHAOS_DURATION_S override the seed and length;
 * on failure the history, reports and broker logs stay in the printed directory for replay.
 *
 * The run is chaos-main in a child process, as `npm run chaos` runs it: it exits when the run is
 * over whatever its clients leave behind, and its exit status is the verdict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChaosReport } from './report.js';

const SEED = Number(process.env.BROOK_CHAOS_SEED ?? 20261123);
const DURATION_S = Number(process.env.BROOK_CHAOS_DURATION_S ?? 60);
const KINDS = 'kill,pause,partition-halves,isolate-leader,bridge,power-loss-one,power-loss-all,bitflip,disk-full';
const CHAOS_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'chaos-main.js');

test(`chaos: 3 brokers, ${DURATION_S} s of mixed faults (seed ${SEED}), nothing lost, no anomaly`, { timeout: (DURATION_S + 300) * 1000 }, async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'brook-chaos-ci-'));
  const args = [CHAOS_MAIN, '--brokers', '3', '--duration', String(DURATION_S), '--seed', String(SEED), '--faults', KINDS, '--partitions', '3', '--rate', '150', '--out', outDir];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | string>((resolve) => child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal ?? -1)));
  assert.equal(code, 0, `chaos run failed (exit ${code}); history, reports and broker logs kept in ${outDir}\n${output}`);
  const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as ChaosReport;
  assert.ok(report.passed);
  assert.equal(report.lost, 0);
  assert.ok(report.acknowledged > 500, `only ${report.acknowledged} writes acknowledged\n${output}`);
  const faults = Object.values(report.faultsByKind).reduce((sum, n) => sum + n, 0);
  assert.ok(faults >= 3, `only ${faults} faults injected\n${output}`);
  rmSync(outDir, { recursive: true, force: true });
});
