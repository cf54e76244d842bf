/**
 * A data dir belongs to one mode: a cluster broker refuses a single broker's data dir and a single
 * broker refuses a cluster broker's, each with a message saying what to do, and exit code 2.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../fixtures/cluster-harness.js';
import { BROKER_MAIN, makeDataDir, removeDir, startBrokerProcess } from './broker-process.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) removeDir(dir);
});

/** Runs the broker until it exits; resolves with its exit code and what it printed to stderr. */
function runBroker(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BROKER_MAIN, '--metrics-listen', '127.0.0.1:0', '--log-level', 'warn', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('data dir mode', { timeout: 60_000 }, () => {
  it('a cluster broker refuses the data dir of a single broker', async () => {
    const dataDir = makeDataDir();
    dirs.push(dataDir);
    const single = await startBrokerProcess(dataDir);
    assert.equal(await single.stop('SIGTERM'), 0);
    const [clientPort, internalPort] = [await freePort(), await freePort()];
    const { code, stderr } = await runBroker(['--data-dir', dataDir, '--listen', `127.0.0.1:${clientPort}`, '--node-id', '1', '--peers', `1@127.0.0.1:${internalPort}`]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /holds a single broker's data \(metadata\.sqlite\); a cluster broker \(cluster\.peers set\) cannot use it/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'one line, no stack');
  });

  it("a single broker refuses a cluster broker's data dir", async () => {
    const dataDir = makeDataDir();
    dirs.push(dataDir);
    mkdirSync(join(dataDir, 'controller'));
    const { code, stderr } = await runBroker(['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /holds a cluster broker's data \(controller\/\); a single broker cannot use it/);
  });

  it('a cluster broker needs a fixed client port', async () => {
    const dataDir = makeDataDir();
    dirs.push(dataDir);
    const { code, stderr } = await runBroker(['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--node-id', '1', '--peers', `1@127.0.0.1:${await freePort()}`]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /needs a fixed client port/);
  });
});
