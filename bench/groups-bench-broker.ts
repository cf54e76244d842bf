/** One real broker process on a loopback port with a fresh data dir, for the group benchmarks. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const START_TIMEOUT_MS = 30_000;

export interface BenchBroker {
  readonly address: string;
  stop(): Promise<void>;
}

export async function startBenchBroker(extraFlags: readonly string[] = []): Promise<BenchBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-groups-bench-'));
  const child = spawn(process.execPath, [CLI_PATH, 'broker', 'start', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'warn', '--metrics-listen', '127.0.0.1:0', ...extraFlags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.kill('SIGKILL'));
  const address = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${output}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', () => reject(new Error(`broker exited:\n${output}`)));
  });
  return {
    address,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
