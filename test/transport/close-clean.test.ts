import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD_EXIT_TIMEOUT_MS = 10_000;

test('close() leaves no handles: a process that used transports exits by itself', async () => {
  const childPath = fileURLToPath(new URL('./close-clean-child.js', import.meta.url));
  const child = spawn(process.execPath, [childPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null | 'timeout'>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('timeout');
    }, CHILD_EXIT_TIMEOUT_MS);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  assert.equal(code, 0, `child did not exit cleanly (${String(code)}): ${stdout} ${stderr}`);
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { closed?: boolean; resources?: string[] };
  assert.equal(report.closed, true);
  // No socket or timer survives close(); pipes to this parent and pending immediates of the last turn may.
  assert.ok((report.resources ?? []).every((name) => name === 'PipeWrap' || name === 'Immediate'), `left behind: ${report.resources?.join(', ')}`);
});
