/**
 * The peer as the benchmark runs it: Debian's nats-server with JetStream on file storage, one
 * server (R1) or a three-server cluster on loopback (R3), each with a temporary store dir, stopped
 * at the end. Installs nats-server with scripts/install-nats-server.sh when it is missing.
 *
 * The servers keep their defaults apart from what the run needs (ports, store dirs, routes, a
 * larger max_payload so 1 MiB messages fit): the peer is measured at its best, not tuned down.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { freePorts, type ProcessGroup, type StartedProcess } from './process-group.js';

const SERVER_START_TIMEOUT_MS = 20_000;
/** How long a new cluster may take to elect its JetStream meta leader. */
const JETSTREAM_READY_TIMEOUT_MS = 30_000;
const CLUSTER_SERVERS = 3;
const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
const READY_PATTERN = /Server is ready/;

/** What Debian's nats-server 2.9 promises when it acknowledges a JetStream publish. */
export const NATS_DURABILITY = 'ack before fsync (sync every 2 min)';

export class NatsServerUnavailableError extends Error {
  override readonly name = 'NatsServerUnavailableError';
}

export interface NatsDeployment {
  /** Client URLs, comma-separated. */
  readonly servers: string;
  readonly replication: number;
  stop(): Promise<void>;
}

function findNatsServer(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') return which.stdout.trim();
  return ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((path) => existsSync(path));
}

/** The folder holding package.json, walking up from this module (works from dist/ and other out dirs). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the benchmark module');
    dir = parent;
  }
  return dir;
}

/** The nats-server binary; installs it (apt-get, through the project's script) when missing. */
export function ensureNatsServer(log: (line: string) => void): string {
  const found = findNatsServer();
  if (found !== undefined) return found;
  log('nats-server not found: installing it (scripts/install-nats-server.sh: apt-get install -y nats-server)');
  const script = join(projectRoot(), 'scripts', 'install-nats-server.sh');
  const result = spawnSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'] });
  const installed = findNatsServer();
  if (result.status !== 0 || installed === undefined) {
    throw new NatsServerUnavailableError(`nats-server is not installed and ${script} failed (exit ${result.status}); install it with: apt-get install -y nats-server`);
  }
  return installed;
}

function serverConfig(options: { name: string; port: number; storeDir: string; cluster?: { port: number; routes: number[] } }): string {
  const lines = [
    `server_name: ${options.name}`,
    `listen: "127.0.0.1:${options.port}"`,
    `max_payload: ${MAX_PAYLOAD_BYTES}`,
    `jetstream { store_dir: ${JSON.stringify(options.storeDir)} }`,
  ];
  if (options.cluster !== undefined) {
    lines.push(`cluster { name: bench, listen: "127.0.0.1:${options.cluster.port}", routes: [${options.cluster.routes.map((port) => `"nats-route://127.0.0.1:${port}"`).join(', ')}] }`);
  }
  return `${lines.join('\n')}\n`;
}

export interface NatsStartOptions {
  readonly group: ProcessGroup;
  readonly log: (line: string) => void;
}

async function startServers(options: NatsStartOptions, count: number): Promise<NatsDeployment> {
  const binary = ensureNatsServer(options.log);
  const root = options.group.makeTempDir(`brook-bench-nats-r${count}-`);
  const ports = await freePorts(count * 2);
  const clientPorts = ports.slice(0, count);
  const routePorts = ports.slice(count);
  const started: StartedProcess[] = await Promise.all(clientPorts.map((port, i) => {
    const configPath = join(root, `server-${i + 1}.conf`);
    writeFileSync(configPath, serverConfig({
      name: `n${i + 1}`,
      port,
      storeDir: join(root, `store-${i + 1}`),
      ...(count > 1 ? { cluster: { port: routePorts[i], routes: routePorts.filter((_, j) => j !== i) } } : {}),
    }));
    return options.group.start({ name: `nats-server ${i + 1}`, command: binary, args: ['-c', configPath], readyPattern: READY_PATTERN, startTimeoutMs: SERVER_START_TIMEOUT_MS });
  }));
  const deployment: NatsDeployment = {
    servers: clientPorts.map((port) => `nats://127.0.0.1:${port}`).join(','),
    replication: count,
    stop: async () => {
      await Promise.all(started.map((server) => server.stop()));
    },
  };
  await waitForJetStream(deployment);
  return deployment;
}

/** A single nats-server with JetStream (R1). */
export function startNatsServer(options: NatsStartOptions): Promise<NatsDeployment> {
  return startServers(options, 1);
}

/** Three clustered nats-servers with JetStream (R3). */
export function startNatsCluster(options: NatsStartOptions): Promise<NatsDeployment> {
  return startServers(options, CLUSTER_SERVERS);
}

/** Connects a client to the deployment (all its servers as seeds). */
export function connectNats(deployment: NatsDeployment, name: string): Promise<NatsConnection> {
  return connect({ servers: deployment.servers.split(','), name, maxReconnectAttempts: 10, timeout: 10_000 });
}

/** Waits until JetStream answers account info (a cluster has elected its meta leader). */
async function waitForJetStream(deployment: NatsDeployment): Promise<void> {
  const deadlineMs = Date.now() + JETSTREAM_READY_TIMEOUT_MS;
  const connection = await connectNats(deployment, 'bench-ready');
  let lastError: unknown;
  try {
    while (Date.now() < deadlineMs) {
      try {
        const manager: JetStreamManager = await connection.jetstreamManager({ timeout: 2_000 });
        await manager.getAccountInfo();
        return;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  } finally {
    await connection.close();
  }
  throw new NatsServerUnavailableError(`JetStream not ready within ${JETSTREAM_READY_TIMEOUT_MS} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}
