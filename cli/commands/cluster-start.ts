/**
 * `brook cluster start`: a local cluster in one command. Spawns N broker processes of this same
 * CLI (`brook broker start`), broker i (1..N) with its data in <data-dir>/broker-i, its client
 * listener on 127.0.0.1:<base-port + i - 1> and its internal listener on
 * 127.0.0.1:<base-port + 1000 + i - 1>, every broker's internal address in --peers. Each broker's
 * output is forwarded line by line with a `[broker-i]` prefix. Once every broker serves, a
 * controller leader is elected and every broker is registered LIVE, it prints the bootstrap
 * address. SIGINT (Ctrl-C) or SIGTERM stops them all: SIGTERM to each, SIGKILL to any still
 * running after --stop-timeout-ms. If a broker dies on its own, the others are stopped too and
 * the command exits non-zero.
 *
 * @example
 * brook cluster start --brokers 3
 * brook cluster start --brokers 5 --data-dir /tmp/brook5 --base-port 19092 -- --flush-policy interval
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { BrokerConnection } from '../../client/broker-connection.js';
import { loadBrookService } from '../../client/service.js';
import { parseIntegerOption, UsageError } from '../cli-errors.js';

/** The CLI entry point of this build (cli/commands/ -> cli/main.js). */
const CLI_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');

/** Most brokers one command starts: a local cluster is for development, not for a fleet. */
export const CLUSTER_START_BROKERS_MAX = 9;
/** Internal listeners sit this far above the client ports. */
export const INTERNAL_PORT_OFFSET = 1000;
const READY_TIMEOUT_MS = 60_000;
const CONTROLLER_POLL_INTERVAL_MS = 200;
const PROBE_TIMEOUT_MS = 1_000;
/** A line of broker output longer than this is forwarded in pieces. */
const LINE_BYTES_MAX = 64 * 1024;

export interface ClusterStartOptions {
  readonly brokers: number;
  readonly dataDir: string;
  readonly basePort: number;
  readonly host: string;
  readonly stopTimeoutMs: number;
  /** Flags passed to every broker after the ones this command sets. */
  readonly brokerFlags: readonly string[];
}

interface BrokerChild {
  readonly id: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  ready: boolean;
}

/** The flags broker `id` of the cluster is started with (exported for tests and docs). */
export function brokerFlagsOf(options: ClusterStartOptions, id: number): string[] {
  const peers = Array.from({ length: options.brokers }, (_, index) => `${index + 1}@${options.host}:${options.basePort + INTERNAL_PORT_OFFSET + index}`).join(',');
  return [
    'broker', 'start',
    '--node-id', String(id),
    '--data-dir', join(options.dataDir, `broker-${id}`),
    '--listen', `${options.host}:${options.basePort + id - 1}`,
    '--internal-listen', `${options.host}:${options.basePort + INTERNAL_PORT_OFFSET + id - 1}`,
    '--peers', peers,
    '--metrics-listen', `${options.host}:0`,
    ...options.brokerFlags,
  ];
}

/** Writes each complete line of `stream` to `out` with `prefix`; a partial last line is flushed at the end. */
function forwardLines(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WritableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) !== -1 || pending.length > LINE_BYTES_MAX) {
      const end = newline === -1 ? LINE_BYTES_MAX : newline;
      const line = pending.slice(0, end);
      pending = pending.slice(newline === -1 ? end : end + 1);
      out.write(`${prefix}${line}\n`);
      onLine(line);
    }
  });
  stream.on('end', () => {
    if (pending.length > 0) out.write(`${prefix}${pending}\n`);
  });
}

function spawnBroker(options: ClusterStartOptions, id: number, onReady: () => void): BrokerChild {
  // Detached: a Ctrl-C in the terminal reaches this command only, which then stops every broker
  // exactly once (a broker that gets SIGINT and then SIGTERM would skip its clean shutdown).
  const child = spawn(process.execPath, [CLI_MAIN, ...brokerFlagsOf(options, id)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)));
  const broker: BrokerChild = { id, child, exited, ready: false };
  process.stdout.write(
    `[cluster] broker ${id}: pid ${child.pid}, client ${options.host}:${options.basePort + id - 1}, internal ${options.host}:${options.basePort + INTERNAL_PORT_OFFSET + id - 1}, data ${join(options.dataDir, `broker-${id}`)}\n`,
  );
  const prefix = `[broker-${id}] `;
  forwardLines(child.stdout!, prefix, process.stdout, (line) => {
    if (!broker.ready && line.startsWith('brook broker listening on ')) {
      broker.ready = true;
      onReady();
    }
  });
  forwardLines(child.stderr!, prefix, process.stderr, () => undefined);
  return broker;
}

/**
 * Polls DescribeCluster until one broker reports a controller leader and all `brokers` LIVE
 * (registered and heartbeating: only then does topic placement count them, so a topic created
 * right after the bootstrap line may use every broker); false on timeout or abort.
 */
async function waitForClusterLive(addresses: readonly string[], brokers: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const service = loadBrookService();
  const connections = addresses.map((address) => new BrokerConnection(address, service.client));
  try {
    const deadlineMs = Date.now() + timeoutMs;
    while (Date.now() < deadlineMs && !signal.aborted) {
      for (const connection of connections) {
        const described = await service.describeCluster(connection, PROBE_TIMEOUT_MS).catch(() => undefined);
        if (described === undefined || described.controllerId <= 0) continue;
        if (described.brokers.filter((broker) => broker.state === 'LIVE').length >= brokers) return true;
      }
      await sleep(CONTROLLER_POLL_INTERVAL_MS);
    }
    return false;
  } finally {
    for (const connection of connections) connection.close();
  }
}

/** Stops every broker still running: SIGTERM, then SIGKILL after stopTimeoutMs. Resolves with their exit codes. */
async function stopAll(brokers: readonly BrokerChild[], stopTimeoutMs: number): Promise<Array<number | string>> {
  return Promise.all(
    brokers.map(async (broker) => {
      if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        process.stderr.write(`[cluster] broker ${broker.id} did not stop in ${stopTimeoutMs} ms: SIGKILL\n`);
        broker.child.kill('SIGKILL');
      }, stopTimeoutMs);
      const code = await broker.exited;
      clearTimeout(timer);
      return code;
    }),
  );
}

/**
 * Runs the cluster until a signal or a broker's death. Resolves with the command's exit code: 0
 * when stopped by a signal and every broker shut down cleanly, 1 otherwise.
 */
export async function runCluster(options: ClusterStartOptions): Promise<number> {
  const addresses = Array.from({ length: options.brokers }, (_, index) => `${options.host}:${options.basePort + index}`);
  const stopping = new AbortController();
  let readyCount = 0;
  let allReady!: () => void;
  const allReadyPromise = new Promise<void>((resolveReady) => (allReady = resolveReady));
  const brokers: BrokerChild[] = [];
  let releaseSignalHandlers = (): void => undefined;
  for (let id = 1; id <= options.brokers; id++) {
    brokers.push(
      spawnBroker(options, id, () => {
        if (++readyCount === options.brokers) allReady();
      }),
    );
  }
  // The brokers are detached, so nothing else ends them: whatever ends this process ends them.
  const killAll = (): void => {
    for (const broker of brokers) if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  let signalCount = 0;
  const signalled = new Promise<NodeJS.Signals>((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      // A second Ctrl-C while the brokers shut down: do not wait for them.
      if (++signalCount > 1) {
        process.stderr.write(`[cluster] ${signal} again: SIGKILL to every broker\n`);
        killAll();
      }
      resolveSignal(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    releaseSignalHandlers = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', killAll);
    };
  });
  const firstDeath = Promise.race(brokers.map((broker) => broker.exited.then((code) => ({ broker, code }))));

  void (async () => {
    const outcome = await Promise.race([allReadyPromise.then(() => 'ready' as const), sleep(READY_TIMEOUT_MS, 'timeout' as const, { signal: stopping.signal }).catch(() => 'stopped' as const)]);
    if (outcome === 'timeout') {
      process.stderr.write(`[cluster] not every broker was listening after ${READY_TIMEOUT_MS} ms\n`);
      return;
    }
    if (outcome !== 'ready') return;
    const live = await waitForClusterLive(addresses, options.brokers, READY_TIMEOUT_MS, stopping.signal);
    if (stopping.signal.aborted) return;
    if (!live) process.stderr.write(`[cluster] no controller leader with every broker LIVE after ${READY_TIMEOUT_MS} ms; the brokers run, check their output\n`);
    process.stdout.write(`brook cluster ready: ${options.brokers} brokers, bootstrap ${addresses.join(',')}\n`);
  })();

  const ending = await Promise.race([signalled.then((signal) => ({ signal })), firstDeath.then((death) => ({ death }))]);
  stopping.abort();
  if ('signal' in ending) process.stderr.write(`[cluster] ${ending.signal}: stopping ${options.brokers} brokers\n`);
  else process.stderr.write(`[cluster] broker ${ending.death.broker.id} exited (${ending.death.code}): stopping the others\n`);
  const codes = await stopAll(brokers, options.stopTimeoutMs);
  releaseSignalHandlers();
  const clean = 'signal' in ending && codes.every((code) => code === 0);
  process.stderr.write(`[cluster] stopped (exit codes ${codes.map((code, index) => `${index + 1}:${code}`).join(' ')})\n`);
  return clean ? 0 : 1;
}

export function createClusterStartCommand(): Command {
  return new Command('start')
    .description('start a local cluster of broker processes in the foreground; Ctrl-C stops them all')
    .addOption(new Option('--brokers <count>', `how many brokers (1-${CLUSTER_START_BROKERS_MAX})`).default('3'))
    .addOption(new Option('--data-dir <dir>', 'parent of the brokers\' data dirs (<dir>/broker-<id>)').default('data/cluster'))
    .addOption(new Option('--base-port <port>', `client port of broker 1; broker i listens on base+i-1, internally on base+${INTERNAL_PORT_OFFSET}+i-1`).default('9092'))
    .addOption(new Option('--host <host>', 'interface every listener binds').default('127.0.0.1'))
    .addOption(new Option('--stop-timeout-ms <ms>', 'how long a broker may take to shut down before SIGKILL').default('15000'))
    .argument('[broker-flags...]', 'flags passed to every broker, after -- (e.g. -- --flush-policy interval)')
    .action(async (brokerFlags: string[], raw: Record<string, string>) => {
      const brokers = parseIntegerOption('--brokers', raw.brokers, 1);
      if (brokers > CLUSTER_START_BROKERS_MAX) throw new UsageError(`--brokers must be at most ${CLUSTER_START_BROKERS_MAX}, got ${brokers}`);
      const basePort = parseIntegerOption('--base-port', raw.basePort, 1);
      if (basePort + INTERNAL_PORT_OFFSET + brokers - 1 > 65_535) throw new UsageError(`--base-port ${basePort} leaves no room for ${brokers} internal ports below 65536`);
      const stopTimeoutMs = parseIntegerOption('--stop-timeout-ms', raw.stopTimeoutMs, 1);
      const code = await runCluster({ brokers, dataDir: resolve(raw.dataDir), basePort, host: raw.host, stopTimeoutMs, brokerFlags });
      process.exitCode = code;
    });
}
