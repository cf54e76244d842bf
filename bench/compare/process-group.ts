/**
 * The processes a benchmark starts (brokers, nats-servers, the gRPC ceiling server): each is
 * spawned, waited for until its output says it is ready, and killed at the end, also when the run
 * fails or is interrupted. Temporary dirs registered here are removed at the same time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long a stopped process gets between SIGTERM and SIGKILL, by default. */
const STOP_GRACE_MS_DEFAULT = 5_000;
/** Output kept per process for error messages. */
const OUTPUT_KEPT_CHARS = 64 * 1024;

export interface StartOptions {
  /** What it is, for messages ("broker 2"). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Matched against stdout + stderr so far; a match means ready. */
  readonly readyPattern: RegExp;
  readonly startTimeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface StartedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: RegExpExecArray;
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves when it has exited. */
  stop(): Promise<void>;
}

/** A process that exited or did not get ready; `output` holds what it printed. */
export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError';
  constructor(message: string, readonly output: string, readonly exitCode: number | string | null) {
    super(message);
  }
}

/** A free TCP port on 127.0.0.1 (bound, read and released: another process could take it first). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export class ProcessGroup {
  private readonly running = new Set<StartedProcess>();
  private readonly dirs = new Set<string>();
  private readonly killOnExit = () => {
    for (const started of this.running) started.child.kill('SIGKILL');
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  };

  /** @param stopGraceMs how long a stopped process gets between SIGTERM and SIGKILL */
  constructor(private readonly stopGraceMs = STOP_GRACE_MS_DEFAULT) {
    process.on('exit', this.killOnExit);
  }

  /** A fresh temporary dir, removed by stopAll. */
  makeTempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  start(options: StartOptions): Promise<StartedProcess> {
    const child = spawn(options.command, [...options.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let output = '';
    const exited = new Promise<number | string | null>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal));
      child.once('error', () => resolve(null));
    });
    let started: StartedProcess | undefined;
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), this.stopGraceMs);
        await exited;
        clearTimeout(timer);
      }
      if (started !== undefined) this.running.delete(started);
    };
    return new Promise<StartedProcess>((resolve, reject) => {
      let settled = false;
      const fail = (message: string, code: number | string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new ProcessStartError(`${options.name}: ${message}\n${output.slice(-4000)}`, output, code));
      };
      const timer = setTimeout(() => fail(`not ready within ${options.startTimeoutMs} ms`, null), options.startTimeoutMs);
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-OUTPUT_KEPT_CHARS);
        if (settled) return;
        const ready = options.readyPattern.exec(output);
        if (ready === null) return;
        settled = true;
        clearTimeout(timer);
        started = { name: options.name, child, ready, output: () => output, stop };
        this.running.add(started);
        resolve(started);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (error) => fail(`could not start ${options.command}: ${error.message}`, null));
      void exited.then((code) => fail(`exited (${code}) before it was ready`, code));
    });
  }

  /** Stops every running process (in parallel) and removes the temporary dirs. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((started) => started.stop()));
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    this.dirs.clear();
  }

  /** Stops everything and stops watching process exit. */
  async close(): Promise<void> {
    await this.stopAll();
    process.off('exit', this.killOnExit);
  }
}
