import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { freePorts, ProcessGroup, ProcessStartError } from '../../bench/compare/process-group.js';

const node = process.execPath;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('started processes and temporary dirs are gone after stopAll, also one that ignores SIGTERM', async () => {
  const group = new ProcessGroup(300);
  try {
    const dir = group.makeTempDir('brook-bench-group-test-');
    const polite = await group.start({ name: 'polite', command: node, args: ['-e', 'console.log("ready on 42"); setInterval(() => {}, 1000)'], readyPattern: /ready on (\d+)/, startTimeoutMs: 10_000 });
    assert.equal(polite.ready[1], '42');
    const stubborn = await group.start({ name: 'stubborn', command: node, args: ['-e', 'process.on("SIGTERM", () => {}); console.error("up"); setInterval(() => {}, 1000)'], readyPattern: /up/, startTimeoutMs: 10_000 });
    const pids = [polite.child.pid!, stubborn.child.pid!];
    assert.ok(pids.every(alive));
    await group.stopAll();
    assert.ok(!pids.some(alive), 'every process has exited (SIGKILL after the grace period)');
    assert.ok(!existsSync(dir));
  } finally {
    await group.close();
  }
});

test('a process that exits before it is ready, or is not ready in time, fails the start with its output and is not left running', async () => {
  const group = new ProcessGroup();
  try {
    await assert.rejects(
      group.start({ name: 'broken', command: node, args: ['-e', 'console.error("error: unknown option \'--peers\'"); process.exit(2)'], readyPattern: /ready/, startTimeoutMs: 10_000 }),
      (error: unknown) => error instanceof ProcessStartError && error.exitCode === 2 && /unknown option '--peers'/.test(error.output),
    );
    // Long enough for node to start and print its pid on a loaded machine before it times out.
    let slowPid = 0;
    await assert.rejects(
      group.start({ name: 'slow', command: node, args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'], readyPattern: /never/, startTimeoutMs: 3_000 }),
      (error: unknown) => {
        slowPid = Number(/^(\d+)/m.exec((error as ProcessStartError).output)?.[1]);
        return error instanceof ProcessStartError && /not ready within 3000 ms/.test(error.message);
      },
    );
    // Killed at once, but on a loaded machine it may take a while to exit and be reaped.
    assert.ok(slowPid > 0);
    for (let waitedMs = 0; alive(slowPid) && waitedMs < 10_000; waitedMs += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(!alive(slowPid), 'the process that timed out was killed');
  } finally {
    await group.close();
  }
});

test('free ports are distinct', async () => {
  const ports = await freePorts(6);
  assert.equal(new Set(ports).size, 6);
  for (const port of ports) assert.ok(port > 0 && port < 65536);
});
