/**
 * Runs a real broker as a child process through the CLI (`brook broker start`) on a loopback
 * port, for end-to-end tests. The process is killed when the test process exits, whatever happens.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startReadyProcess } from '../fixtures/ready-process.js';

/** The compiled CLI next to this test's build output (dist/ or a private build dir). */
export const CLI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');

const START_TIMEOUT_MS = 20_000;

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
  const started = await startReadyProcess({
    name: 'broker',
    args: [CLI_PATH, 'broker', 'start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn', '--metrics-listen', '127.0.0.1:0', ...extraFlags],
    readyPattern: /listening on (\S+)/,
    startTimeoutMs: START_TIMEOUT_MS,
  });
  const address = started.ready[1];
  return {
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    dataDir,
    child: started.child,
    output: started.output,
    kill: async () => {
      await started.stop('SIGKILL');
    },
    stop: async () => {
      await started.stop('SIGTERM');
    },
  };
}

/**
 * One broker for the tests of the calling file: started by a `before` hook, stopped (SIGTERM) and
 * its data dir removed by an `after` hook. Read `address` from inside the tests.
 */
export function brokerPerFile(): { readonly address: string } {
  let broker: BrokerProcess | undefined;
  let dataDir: string | undefined;
  before(async () => {
    dataDir = makeDataDir();
    broker = await startBrokerProcess(dataDir);
  });
  after(async () => {
    await broker?.stop();
    if (dataDir !== undefined) removeDataDir(dataDir);
  });
  return {
    get address(): string {
      if (broker === undefined) throw new Error('the broker starts in a before hook: read its address inside a test');
      return broker.address;
    },
  };
}
