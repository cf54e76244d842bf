/**
 * `brook cluster start` as a user runs it: three brokers come up on consecutive ports, the
 * bootstrap address is printed, a replicated topic works through it, Ctrl-C (SIGINT) stops every
 * broker cleanly; a broker that dies takes the command down with a non-zero exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '../../client/admin.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { Consumer } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import { CLI_PATH, freePort, waitUntil } from '../fixtures/cluster-harness.js';

const BROKERS = 3;
const INTERNAL_PORT_OFFSET = 1000;

/** A base port whose client ports and internal ports (base+1000...) were all free a moment ago. */
async function freeBasePort(): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + INTERNAL_PORT_OFFSET + BROKERS > 65_535) continue;
    const ports = [...Array.from({ length: BROKERS }, (_, i) => base + i), ...Array.from({ length: BROKERS }, (_, i) => base + INTERNAL_PORT_OFFSET + i)];
    const free = await Promise.all(ports.map((port) => isFree(port)));
    if (free.every(Boolean)) return base;
  }
}

async function isFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

interface RunningCommand {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | string>;
}

function startCommand(dataDir: string, basePort: number): RunningCommand {
  const child = spawn(process.execPath, [CLI_PATH, 'cluster', 'start', '--brokers', String(BROKERS), '--data-dir', dataDir, '--base-port', String(basePort), '--', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      resolve(code ?? signal ?? -1);
    }),
  );
  return { child, output: () => output, exited };
}

/** Broker pids as the command announces them ("[cluster] broker 2: pid 1234, ..."). */
/**
 * Ends a command that is still running the way a user would (SIGINT, which stops its brokers),
 * and if that does not end it in time, SIGKILLs it and every broker it announced: its brokers are
 * detached, so killing the command alone would leave them running.
 */
async function stopCommand(command: RunningCommand): Promise<void> {
  if (command.child.exitCode !== null || command.child.signalCode !== null) return;
  command.child.kill('SIGINT');
  const timer = setTimeout(() => {
    for (const pid of brokerPids(command.output()).values()) {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    command.child.kill('SIGKILL');
  }, 20_000);
  await command.exited;
  clearTimeout(timer);
}

function brokerPids(output: string): Map<number, number> {
  return new Map([...output.matchAll(/\[cluster\] broker (\d+): pid (\d+)/g)].map((match) => [Number(match[1]), Number(match[2])]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('brook cluster start: bootstrap printed, a replicated topic works, SIGINT stops every broker cleanly', { timeout: 90_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-cluster-start-'));
  const basePort = await freeBasePort();
  const command = startCommand(dataDir, basePort);
  try {
    const bootstrap = await waitUntil('the bootstrap line', 60_000, () => /brook cluster ready: 3 brokers, bootstrap (\S+)/.exec(command.output())?.[1], 50);
    assert.equal(bootstrap, [0, 1, 2].map((i) => `127.0.0.1:${basePort + i}`).join(','));
    for (let id = 1; id <= BROKERS; id++) assert.match(command.output(), new RegExp(`\\[broker-${id}\\] brook broker listening on 127\\.0\\.0\\.1:${basePort + id - 1}`));

    const admin = new Admin({ brokers: bootstrap, retry: { ...DEFAULT_RETRY, retries: 30 } });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'local', numPartitions: 3, replicationFactor: 3 }] });
    const [description] = await admin.describeTopics({ topics: ['local'] });
    await admin.disconnect();
    for (const partition of description.partitions) assert.equal(partition.replicas.length, 3, 'three replicas per partition');
    const producer = new Producer({ brokers: bootstrap, acks: 'all', retry: { retries: 30 } });
    await producer.connect();
    await producer.send({ topic: 'local', messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await producer.disconnect();
    const consumer = new Consumer({ brokers: bootstrap, maxWaitMs: 100 });
    await consumer.connect();
    await consumer.assign([0, 1, 2].map((partition) => ({ topic: 'local', partition, offset: 'earliest' as const })));
    const values = new Set<string>();
    for await (const message of consumer) {
      values.add(message.value!.toString());
      if (values.size === 30) break;
    }
    await consumer.disconnect();

    const pids = brokerPids(command.output());
    assert.equal(pids.size, BROKERS);
    command.child.kill('SIGINT');
    assert.equal(await command.exited, 0, command.output());
    assert.match(command.output(), /stopped \(exit codes 1:0 2:0 3:0\)/);
    for (const pid of pids.values()) assert.ok(!alive(pid), `broker process ${pid} is gone`);
    for (let id = 1; id <= BROKERS; id++) assert.ok(existsSync(join(dataDir, `broker-${id}`)), `broker-${id} has its own data dir`);
  } finally {
    await stopCommand(command);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('brook cluster start: a broker that dies stops the others and the command exits non-zero', { timeout: 90_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-cluster-start-'));
  const basePort = await freeBasePort();
  const command = startCommand(dataDir, basePort);
  try {
    await waitUntil('the bootstrap line', 60_000, () => (/brook cluster ready/.test(command.output()) ? true : undefined), 50);
    const pids = brokerPids(command.output());
    assert.equal(pids.size, BROKERS);
    process.kill(pids.get(2)!, 'SIGKILL');
    assert.equal(await command.exited, 1);
    assert.match(command.output(), /broker 2 exited \(SIGKILL\): stopping the others/);
    for (const other of pids.values()) assert.ok(!alive(other), `broker process ${other} is gone`);
  } finally {
    await stopCommand(command);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
