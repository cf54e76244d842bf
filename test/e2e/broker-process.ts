/**
 * Runs a real broker as a child process through the CLI (`brook broker start`) on a loopback
 * port, for end-to-end tests. The process is killed when the test process exits, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI next to this test's build output (dist/ or a private build dir). */
export const CLI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');

const START_TIMEOUT_MS = 20_000;
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface BrokerProcess {
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Output so far, for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown, no flush; what was not synced is lost. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
}

export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'brook-e2e-'));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

/** Starts a broker on `port` (0: any free port) with its data in `dataDir`. */
export async function startBrokerProcess(dataDir: string, port = 0, extraFlags: string[] = []): Promise<BrokerProcess> {
  const child = spawn(process.execPath, [CLI_PATH, 'broker', 'start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn', ...extraFlags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    running.delete(child);
    resolve();
  }));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    dataDir,
    child,
    output: () => output,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
