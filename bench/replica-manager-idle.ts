/**
 * Many idle partitions on three brokers: three child processes, each a ReplicaManager with its
 * own PeerTransport on 127.0.0.1, holding `--partitions` partitions at RF=3 (preferred leaders
 * spread round-robin), fed the same static metadata (no controller). Measures how long each
 * broker's first reconcile takes to open its replicas, how long until every partition has a
 * leader and until every partition is led by its preferred replica, and then the CPU each idle
 * broker process uses (CPU time over wall time; 100 % = one core).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/replica-manager-idle.js [--partitions 1000] [--seconds 10] [--tick-ms 50] [--wait-seconds 180]
 *
 * Each child runs with UV_THREADPOOL_SIZE=16 (the replicas' fdatasyncs queue in libuv's pool).
 * BENCH_CPU_PROF_DIR=<dir> makes each broker write a CPU profile there.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ReplicaManager } from '../broker/cluster/replica-manager.js';
import { cryptoSeededRandom, defaultPartitionRaftConfig } from '../broker/cluster/partition-raft-config.js';
import { loadBrokerConfig } from '../broker/config/broker-config.js';
import type { ClusterTopic } from '../broker/controller/controller-types.js';
import type { Replica } from '../broker/partition/replica.js';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { GroupIdRegistry } from '../broker/transport/group-id-registry.js';
import { PeerTransport } from '../broker/transport/peer-transport.js';
import { freePort } from '../test/fixtures/free-port.js';

const NODES = [1, 2, 3];

interface BrokerStatus {
  readonly id: number;
  readonly openMs: number;
  readonly leaders: number;
  readonly preferredLeaders: number;
  readonly termMax: number;
  readonly readyMsMax: number;
  readonly cpuMicros: number;
  readonly ticks: number;
  readonly ticksDeferred: number;
}

function argument(flag: string, fallback: number): number {
  const args = process.argv.slice(2);
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

function text(flag: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

function metadata(partitions: number): ClusterTopic[] {
  return [
    {
      name: 'idle',
      topicId: 'idle-id',
      createdMs: 0,
      configs: {},
      partitions: Array.from({ length: partitions }, (_, index) => {
        const replicas = [0, 1, 2].map((shift) => NODES[(index + shift) % 3]);
        return { topic: 'idle', partition: index, groupId: index + 1, initialReplicas: replicas, replicas, targetReplicas: null, leaderId: 0, leaderEpoch: 0 };
      }),
    },
  ];
}

/** One broker: runs until the parent says 'close'; answers 'status'. */
async function broker(id: number): Promise<void> {
  const partitions = argument('--partitions', 1000);
  const tickMs = argument('--tick-ms', 50);
  const root = text('--dir') as string;
  const addresses = new Map((text('--addresses') as string).split(',').map((entry) => entry.split('=')).map(([peer, address]) => [Number(peer), address] as const));
  const logger = pino({ level: 'warn' });
  const topics = metadata(partitions);
  const groups = new GroupIdRegistry<Replica>();
  let manager: ReplicaManager | undefined;
  const transport = new PeerTransport({
    selfId: id,
    clusterId: 'bench',
    listenAddress: addresses.get(id) as string,
    peers: new Map([...addresses].filter(([peer]) => peer !== id)),
    logger,
    onMessage: (groupId, message) => groups.handlerOf(groupId)?.receive(message),
    onPeerState: (peer, connected) => manager?.onPeerState(peer, connected),
  });
  manager = new ReplicaManager({
    nodeId: id,
    dir: join(root, `broker-${id}`, 'replicas'),
    trashDir: join(root, `broker-${id}`, 'trash'),
    groups,
    transport,
    raftConfig: defaultPartitionRaftConfig(cryptoSeededRandom()),
    tickMs,
    leaderBalanceIntervalMs: 2_000,
    config: loadBrokerConfig({ env: {} }),
    clock: { nowMs: () => Date.now() },
    files: new FileHandleCache(4096),
    logger,
    topics: () => topics,
    brokerLive: () => true,
    brokerAddress: () => undefined,
    reassignmentDone: async () => undefined,
    onLeadershipChange: () => undefined,
  });
  await transport.start();
  const openStart = performance.now();
  await manager.reconcile();
  const openMs = performance.now() - openStart;
  manager.start();
  const running = manager;
  process.on('message', (message: string) => {
    if (message === 'status') {
      const led = running.leaderships();
      const cpu = process.cpuUsage();
      const clock = running.clockStats();
      const status: BrokerStatus = {
        id,
        openMs,
        leaders: led.length,
        preferredLeaders: led.filter((update) => NODES[(update.groupId - 1) % 3] === id).length,
        termMax: Math.max(0, ...running.partitions().map((partition) => partition.leaderEpoch)),
        readyMsMax: Math.max(0, ...running.partitions().map((partition) => partition.replica.readyMsMax)),
        cpuMicros: cpu.user + cpu.system,
        ticks: clock.ticks,
        ticksDeferred: clock.ticksDeferred,
      };
      process.send?.(status);
    } else if (message === 'close') {
      void running
        .close()
        .then(() => transport.close())
        .then(() => process.exit(0));
    }
  });
  process.send?.('ready');
}

function ask(child: ChildProcess): Promise<BrokerStatus> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as BrokerStatus));
    child.send('status');
  });
}

async function main(): Promise<void> {
  const partitions = argument('--partitions', 1000);
  const seconds = argument('--seconds', 10);
  const tickMs = argument('--tick-ms', 50);
  const waitSeconds = argument('--wait-seconds', 180);
  const root = await mkdtemp(join(tmpdir(), 'brook-bench-replica-manager-'));
  const addresses = NODES.map((id) => `${id}=127.0.0.1:0`);
  for (const [at, id] of NODES.entries()) addresses[at] = `${id}=127.0.0.1:${await freePort()}`;
  const script = fileURLToPath(import.meta.url);
  const children = NODES.map((id) =>
    fork(script, ['--broker', String(id), '--partitions', String(partitions), '--tick-ms', String(tickMs), '--dir', root, '--addresses', addresses.join(',')], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
      // BENCH_CPU_PROF_DIR=<dir>: each broker writes a CPU profile there when it exits.
      execArgv: process.env.BENCH_CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  try {
    const started = performance.now();
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
    const readyMs = performance.now() - started;
    let electedMs: number | undefined;
    let balancedMs: number | undefined;
    let statuses: BrokerStatus[] = [];
    while (performance.now() - started < waitSeconds * 1000) {
      statuses = await Promise.all(children.map(ask));
      const leaders = statuses.reduce((sum, status) => sum + status.leaders, 0);
      const preferred = statuses.reduce((sum, status) => sum + status.preferredLeaders, 0);
      process.stderr.write(`${((performance.now() - started) / 1000).toFixed(0)} s: leaders ${leaders} preferred ${preferred} ${JSON.stringify(statuses.map((s) => [s.termMax, s.readyMsMax, s.ticks, s.ticksDeferred]))}\n`);
      if (electedMs === undefined && leaders === partitions) electedMs = performance.now() - started;
      if (preferred === partitions) {
        balancedMs = performance.now() - started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    // Let the elections' disk writes settle before measuring.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = await Promise.all(children.map(ask));
    const wallBefore = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = await Promise.all(children.map(ask));
    const wallMs = performance.now() - wallBefore;
    const cpuPercent = after.map((status, at) => Number((((status.cpuMicros - before[at].cpuMicros) / 1000 / wallMs) * 100).toFixed(1)));
    console.log(
      JSON.stringify({
        partitions,
        tickMs,
        openMsPerBroker: statuses.map((status) => Math.round(status.openMs)),
        allOpenMs: Math.round(readyMs),
        allElectedMs: electedMs === undefined ? null : Math.round(electedMs),
        allPreferredMs: balancedMs === undefined ? null : Math.round(balancedMs),
        leadersPerBroker: after.map((status) => status.leaders),
        idleCpuPercentPerBroker: cpuPercent,
      }),
    );
  } finally {
    for (const child of children) child.send('close');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)))));
    await rm(root, { recursive: true, force: true });
  }
}

const brokerId = text('--broker');
if (brokerId !== undefined) await broker(Number(brokerId));
else await main();
