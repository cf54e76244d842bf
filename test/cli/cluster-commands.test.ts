/**
 * `brook cluster describe`, `brook partitions reassign` and `brook broker decommission` against a
 * single broker: the describe shows it; the other two are refused by the broker (exit 1, its
 * reason) or by the CLI for bad arguments (exit 2).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReplicaList } from '../../cli/partitions-command.js';
import { brokerPerFile } from '../broker/broker-process.js';
import { runCli } from './cli-process.js';

const running = brokerPerFile(['--node-id', '3'], async ({ client }) => {
  const created = await client.call('CreateTopics', { topics: [{ name: 'stay', numPartitions: 2 }] });
  assert.equal(created.results[0].errorCode, 'NONE');
});

const brokers = () => ['--brokers', running.broker.address];

describe('cluster commands on a single broker', { timeout: 60_000 }, () => {
  it('brook cluster describe shows the broker, live, as controller', async () => {
    const text = await runCli(['cluster', 'describe', ...brokers()]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^cluster \S+ {2}controller 3 {2}voters \[3\]$/m);
    assert.match(text.stdout, new RegExp(`^ {2}broker 3 {2}${running.broker.address.replaceAll('.', '\\.')} {2}LIVE {2}replicas 2 {2}leaders 2$`, 'm'));
    const json = await runCli(['cluster', 'describe', '--json', ...brokers()]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.controllerId, 3);
    assert.deepEqual(parsed.brokers.map((broker: { id: number; state: string }) => [broker.id, broker.state]), [[3, 'LIVE']]);
  });

  it('brook partitions reassign is refused by a single broker, with its reason', async () => {
    const run = await runCli(['partitions', 'reassign', '--topic', 'stay', '--partition', '1', '--replicas', '3,4', ...brokers()]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /INVALID_REQUEST/);
    assert.match(run.stderr, /stay\/1/);
    assert.match(run.stderr, /runs alone/);
  });

  it('brook broker decommission is refused by a single broker, with its reason', async () => {
    const run = await runCli(['broker', 'decommission', '3', ...brokers()]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /INVALID_REQUEST: decommissioning broker 3: .*cluster\.peers/);
  });

  it('bad arguments are usage errors (exit 2) before any broker is asked', async () => {
    for (const args of [
      ['partitions', 'reassign', '--topic', 'stay', '--partition', '0', '--replicas', '1,,2'],
      ['partitions', 'reassign', '--topic', 'stay', '--partition', '-1', '--replicas', '1'],
      ['partitions', 'reassign', '--topic', 'stay', '--replicas', '1'],
      ['broker', 'decommission', 'four'],
    ]) {
      const run = await runCli([...args, '--brokers', '127.0.0.1:1']);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    }
  });

  it('parses replica lists strictly', () => {
    assert.deepEqual(parseReplicaList('1,2,4'), [1, 2, 4]);
    assert.deepEqual(parseReplicaList(' 4 , 1 '), [4, 1]);
    assert.throws(() => parseReplicaList(''), /broker ids separated by commas/);
    assert.throws(() => parseReplicaList('1,1'), /names a broker twice/);
    assert.throws(() => parseReplicaList('1;2'), /must be an integer/);
  });
});
