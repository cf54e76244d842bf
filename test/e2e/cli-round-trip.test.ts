import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { brokerPerFile, CLI_PATH } from './broker-process.js';

const broker = brokerPerFile();

function runCli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

test('brook produce from stdin, brook consume --format json: the same records come back', { timeout: 60_000 }, async () => {
  const brokers = ['--brokers', broker.address];
  const created = await runCli(['topics', 'create', 'lines', '--partitions', '2', ...brokers]);
  assert.equal(created.code, 0, created.stderr);
  const listed = await runCli(['topics', 'list', ...brokers]);
  assert.match(listed.stdout, /^lines$/m);

  const lines = Array.from({ length: 500 }, (_, i) => `user${i % 7}|event number ${i} with ünïcode`);
  const produced = await runCli(['produce', 'lines', '--key-separator', '|', '--acks', 'all', '--compression', 'zstd', ...brokers], `${lines.join('\n')}\n`);
  assert.equal(produced.code, 0, produced.stderr);
  assert.match(produced.stdout, /^500 records acknowledged$/m);

  const consumed = await runCli(['consume', 'lines', '--from-beginning', '--max-messages', '500', '--format', 'json', ...brokers]);
  assert.equal(consumed.code, 0, consumed.stderr);
  const records = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; value: string; partition: number; offset: number; timestamp: number; headers: object });
  assert.equal(records.length, 500);
  const byPartition = new Map<number, typeof records>();
  for (const record of records) {
    assert.equal(typeof record.timestamp, 'number');
    assert.deepEqual(record.headers, {});
    byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), record]);
  }
  // Per partition, lines come back in the order they were written, keyed as given.
  const expected = new Map<number, string[]>();
  for (const record of records) expected.set(record.partition, []);
  const keyPartition = new Map(records.map((r) => [r.key, r.partition]));
  for (const line of lines) {
    const [key, value] = line.split('|');
    expected.get(keyPartition.get(key)!)!.push(`${key}|${value}`);
  }
  for (const [partition, list] of byPartition) {
    assert.deepEqual(list.map((r) => `${r.key}|${r.value}`), expected.get(partition));
    assert.deepEqual(list.map((r) => r.offset), list.map((_, i) => i));
  }

  const one = await runCli(['consume', 'lines', '--partition', String(records[0].partition), '--offset', '2', '--max-messages', '1', ...brokers]);
  assert.equal(one.stdout, `${byPartition.get(records[0].partition)![2].value}\n`);
});

test('the CLI exits non-zero with an actionable message', { timeout: 30_000 }, async () => {
  const unreachable = await runCli(['topics', 'list', '--brokers', '127.0.0.1:1']);
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, /is a broker running there/);

  const usage = await runCli(['consume', 'lines', '--offset', '3', '--brokers', broker.address]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--offset needs --partition/);

  const badKey = await runCli(['produce', 'lines', '--key-separator', '|', '--brokers', broker.address], 'no separator here\n');
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /line 1 has no key separator/);

  const exists = await runCli(['topics', 'create', 'lines', '--brokers', broker.address]);
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /already exists/);

  const missing = await runCli(['topics', 'describe', 'no-such-topic', '--brokers', broker.address]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
});
