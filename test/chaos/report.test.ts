import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from './checker.js';
import { HistoryWriter, type HistoryEvent } from './history.js';
import { buildReport, formatReportJson, formatReportText, reportExitCode } from './report.js';
import { TestRandom } from '../fixtures/test-random.js';
import { generateCleanHistory } from './clean-history-generator.js';
import { injectAnomaly } from './anomaly-injector.js';

const checkMain = join(dirname(fileURLToPath(import.meta.url)), 'check-main.js');

test('the text report shows faults, operations, outcomes and anomalies by type', () => {
  const history = generateCleanHistory({ seed: 11, sends: 200, idempotence: false });
  history.push({ type: 'nemesis', kind: 'kill', target: 'broker-0', startMs: 1, endMs: 2 });
  const result = check(history, { idempotence: false });
  const report = buildReport(result, { seed: 11, historyPath: null, idempotence: false });
  const text = formatReportText(report);
  assert.match(text, /^chaos run: PASS {3}seed 11 {3}idempotence off\n/);
  assert.match(text, /faults by kind\n(.*\n)* {2}kill +\d+\n/);
  assert.match(text, new RegExp(`  send +${result.counts.operations.send}\n`));
  assert.match(text, new RegExp(`  acknowledged +${result.counts.acknowledged}\n`));
  assert.match(text, /  lost +0\n/);
  assert.match(text, new RegExp(`  duplicates +${result.counts.duplicates}\n`));
  assert.match(text, /  real-time +0\n/);
  assert.doesNotMatch(text, /first anomalies/);
  assert.equal(reportExitCode(report), 0);
  const json = JSON.parse(formatReportJson(report));
  assert.equal(json.seed, 11);
  assert.equal(json.passed, true);
  assert.equal(json.acknowledged, result.counts.acknowledged);
});

test('a report with anomalies fails, lists them, and the JSON keeps their details', () => {
  const clean = generateCleanHistory({ seed: 12, sends: 200, idempotence: true });
  const injection = injectAnomaly(clean, 'lost', new TestRandom(1))!;
  const report = buildReport(check(injection.history, { idempotence: true }), { seed: 12, historyPath: 'h.jsonl', idempotence: true });
  assert.equal(report.passed, false);
  assert.equal(reportExitCode(report), 1);
  const text = formatReportText(report);
  assert.match(text, /^chaos run: FAIL/);
  assert.match(text, /  lost +1\n/);
  assert.match(text, /first anomalies\n {2}\[lost\] /);
  const json = JSON.parse(formatReportJson(report));
  assert.equal(json.anomalies[0].type, 'lost');
  assert.equal(typeof json.anomalies[0].details.value, 'string');
});

test('check-main streams a history file, prints the report, writes JSON, and exits non-zero on an anomaly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-chaos-'));
  try {
    const write = (name: string, events: HistoryEvent[]): string => {
      const path = join(dir, name);
      const writer = new HistoryWriter(path);
      for (const event of events) writer.append(event);
      writer.close();
      return path;
    };
    const clean = generateCleanHistory({ seed: 21, sends: 100, idempotence: true });
    const cleanPath = write('clean.jsonl', clean);
    const passed = spawnSync(process.execPath, [checkMain, cleanPath, '--idempotence'], { encoding: 'utf8' });
    assert.equal(passed.status, 0, passed.stderr);
    assert.match(passed.stdout, /chaos run: PASS {3}seed 21 {3}idempotence on/);

    const broken = injectAnomaly(clean, 'commit-regression', new TestRandom(2))!;
    const jsonPath = join(dir, 'report.json');
    const failed = spawnSync(process.execPath, [checkMain, write('broken.jsonl', broken.history), '--json', jsonPath], { encoding: 'utf8' });
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stdout, /commit-regression +1\n/);
    assert.equal(JSON.parse(readFileSync(jsonPath, 'utf8')).anomaliesByType['commit-regression'], 1);

    const firstSend = clean.find((e) => e.type === 'send')!;
    const garbage = spawnSync(process.execPath, [checkMain, write('malformed.jsonl', [firstSend, firstSend])], { encoding: 'utf8' });
    assert.equal(garbage.status, 2);
    assert.match(garbage.stderr, /history line 2: value .* sent twice/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
