/**
 * Many idle partitions on three brokers: three ReplicaManagers in one process, each with its own
 * PeerTransport on 127.0.0.1, holding `--partitions` partitions at RF=3 (preferred leaders spread
 * round-robin). Measures how long the first reconcile takes to open every replica, how long until
 * every partition has a leader (and its preferred one), and the CPU the idle cluster then uses
 * (process CPU time over wall time; the three brokers share this process, so one broker's share is
 * about a third).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/replica-manager-idle.js [--partitions 1000] [--seconds 10] [--tick-ms 50]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ReplicaManager } from '../broker/cluster/replica-manager.js';
import { cryptoSeededRandom, defaultPartitionRaftConfig } from '../broker/cluster/partition-raft-config.js';
import { loadBrokerConfig } from '../broker/config/broker-config.js';
import type { ClusterTopic } from '../broker/controller/controller-types.js';
import type { Replica } from '../broker/partition/replica.js';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { GroupIdRegistry } from '../broker/transport/group-id-registry.js';
import { PeerTransport } from '../broker/transport/peer-transport.js';

const NODES = [1, 2, 3];

function argument(flag: string, fallback: number): number {
  const args = process.argv.slice(2);
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port'));
      server.close(() => resolve(address.port));
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

async function main(): Promise<void> {
  const partitions = argument('--partitions', 1000);
  const seconds = argument('--seconds', 10);
  const tickMs = argument('--tick-ms', 50);
  const root = await mkdtemp(join(tmpdir(), 'brook-bench-replica-manager-'));
  const logger = pino({ level: 'warn' });
  const config = loadBrokerConfig({ env: {} });
  const files = new FileHandleCache(4096);
  const topics: ClusterTopic[] = [
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
  const addresses = new Map<number, string>();
  for (const id of NODES) addresses.set(id, `127.0.0.1:${await freePort()}`);
  const managers: ReplicaManager[] = [];
  const transports: PeerTransport[] = [];
  try {
    for (const id of NODES) {
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
        config,
        clock: { nowMs: () => Date.now() },
        files,
        logger,
        topics: () => topics,
        brokerLive: () => true,
        brokerAddress: () => undefined,
        reassignmentDone: async () => undefined,
        onLeadershipChange: () => undefined,
      });
      managers.push(manager);
      transports.push(transport);
    }
    await Promise.all(transports.map((transport) => transport.start()));
    const openStart = performance.now();
    await Promise.all(managers.map((manager) => manager.reconcile()));
    const openMs = performance.now() - openStart;
    for (const manager of managers) manager.start();
    const leaderCount = (preferred: boolean): number =>
      managers.reduce((sum, manager, at) => sum + manager.leaderships().filter((update) => !preferred || (update.groupId - 1) % 3 === at).length, 0);
    const progress = setInterval(() => {
      const terms = managers.flatMap((manager) => manager.partitions().map((partition) => partition.leaderEpoch));
      const readyMsMax = Math.max(...managers.flatMap((manager) => manager.partitions().map((partition) => partition.replica.readyMsMax)));
      process.stderr.write(`leaders ${leaderCount(false)} preferred ${leaderCount(true)} term max ${Math.max(...terms)} sum ${terms.reduce((a, b) => a + b, 0)} readyMsMax ${readyMsMax} clock ${JSON.stringify(managers[0].clockStats())}\n`);
    }, 5_000);
    progress.unref();
    const electStart = performance.now();
    const elected = await waitFor(() => leaderCount(false) === partitions, 60_000);
    const electMs = performance.now() - electStart;
    const balanced = await waitFor(() => leaderCount(true) === partitions, 60_000);
    const balanceMs = performance.now() - electStart;
    clearInterval(progress);
    // Let the elections' disk writes settle before measuring.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = performance.now() - wallBefore;
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
    console.log(
      JSON.stringify({
        partitions,
        tickMs,
        openMs: Math.round(openMs),
        elected,
        electMs: Math.round(electMs),
        preferredLeaders: leaderCount(true),
        balanced,
        balanceMs: Math.round(balanceMs),
        idleCpuPercentAllThree: Number(cpuPercent.toFixed(1)),
        idleCpuPercentPerBroker: Number((cpuPercent / 3).toFixed(1)),
      }),
    );
  } finally {
    for (const manager of managers) await manager.close();
    await Promise.all(transports.map((transport) => transport.close()));
    await rm(root, { recursive: true, force: true });
  }
}

await main();
