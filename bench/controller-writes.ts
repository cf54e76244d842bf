/**
 * Controller write latency: three Controllers in one process over real PeerTransports on
 * 127.0.0.1 with the broker's default timing (50 ms ticks, 12-tick elections, 500 ms heartbeats),
 * controller logs under flush 'always' in a temporary directory. Measures, sequentially:
 *
 * - createTopic (1 partition, RF 3) issued on the leader, and issued on a follower (forwarded):
 *   from the call to its resolution, i.e. until the caller's own store applied it;
 * - deleteTopic of the same topics, likewise;
 * - a leadership report: from leadershipChanged() on a follower until every store shows it.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/controller-writes.js [--writes 100] [--reports 20]
 *
 * Leader and follower writes alternate, so both see the same disk load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadBrokerConfig } from '../broker/config/broker-config.js';
import { Controller } from '../broker/controller/controller.js';
import type { LeaderUpdate } from '../broker/controller/controller-types.js';
import type { Replica } from '../broker/partition/replica.js';
import { FileHandleCache } from '../broker/storage/file-handle-cache.js';
import { GroupIdRegistry } from '../broker/transport/group-id-registry.js';
import { PeerTransport } from '../broker/transport/peer-transport.js';
import { freePort } from '../test/fixtures/free-port.js';

const IDS = [1, 2, 3];
const TICK_MS = 50;

function argument(flag: string, fallback: number): number {
  const at = process.argv.indexOf(flag);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function percentile(sortedMs: number[], fraction: number): string {
  const value = sortedMs[Math.min(sortedMs.length - 1, Math.floor(fraction * sortedMs.length))];
  return value.toFixed(1);
}

function summary(name: string, samplesMs: number[]): string {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return `${name}: n=${sorted.length} p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms`;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function main(): Promise<void> {
  const writes = argument('--writes', 100);
  const reports = argument('--reports', 20);
  const root = await mkdtemp(join(tmpdir(), 'brook-controller-bench-'));
  const logger = pino({ level: 'silent' });
  const config = loadBrokerConfig({ env: {} });
  const files = new FileHandleCache(64);
  const addresses = new Map<number, string>();
  for (const id of IDS) addresses.set(id, `127.0.0.1:${await freePort()}`);
  const controllers = new Map<number, Controller>();
  const transports = new Map<number, PeerTransport>();
  const leaderships = new Map<number, LeaderUpdate[]>(IDS.map((id) => [id, []]));
  for (const id of IDS) {
    const groups = new GroupIdRegistry<Replica>();
    const transport = new PeerTransport({
      selfId: id,
      clusterId: 'bench',
      listenAddress: addresses.get(id) as string,
      peers: new Map([...addresses].filter(([peer]) => peer !== id)),
      logger,
      services: [Controller.service(() => controllers.get(id))],
      onMessage: (groupId, message) => groups.handlerOf(groupId)?.receive(message),
    });
    const controller = await Controller.start({
      dir: join(root, `broker-${id}`),
      nodeId: id,
      voters: IDS,
      learners: [],
      self: { host: '127.0.0.1', port: 9000 + id, internalAddress: addresses.get(id) as string, rack: '' },
      peerAddresses: addresses,
      groups,
      transport,
      raftConfig: {
        electionTicks: 12,
        heartbeatTicks: 3,
        preVote: true,
        checkQuorum: true,
        maxMessageBytes: 1024 * 1024,
        maxEntriesPerMessage: 64,
        maxInflightMessages: 16,
        maxInflightBytes: 8 * 1024 * 1024,
        maxUncommittedBytes: 16 * 1024 * 1024,
        random: seeded(id),
      },
      config,
      clock: { nowMs: () => Date.now() },
      files,
      logger,
      leaderships: () => leaderships.get(id) ?? [],
      clusterId: 'bench',
    });
    controllers.set(id, controller);
    transports.set(id, transport);
    await transport.start();
  }
  const timer = setInterval(() => {
    for (const controller of controllers.values()) controller.controllerReplica.tick();
    for (const transport of transports.values()) transport.flushTick();
  }, TICK_MS);
  try {
    const all = [...controllers.values()];
    await waitFor(() => all.some((controller) => controller.isLeader) && IDS.every((id) => all.every((controller) => controller.brokerState(id) === 'LIVE')), 30_000);
    const leaderId = all.find((controller) => controller.isLeader)?.leaderId as number;
    const leader = controllers.get(leaderId) as Controller;
    const followerId = IDS.find((id) => id !== leaderId) as number;
    const follower = controllers.get(followerId) as Controller;
    const create = { leader: [] as number[], follower: [] as number[] };
    const remove = { leader: [] as number[], follower: [] as number[] };
    for (let i = 0; i < writes; i++) {
      for (const [side, controller] of [['leader', leader], ['follower', follower]] as const) {
        const startMs = performance.now();
        await controller.createTopic({ name: `t-${side}-${i}`, numPartitions: 1, replicationFactor: 3, configs: {} }, false);
        create[side].push(performance.now() - startMs);
      }
    }
    for (let i = 0; i < writes; i++) {
      for (const [side, controller] of [['leader', leader], ['follower', follower]] as const) {
        const startMs = performance.now();
        await controller.deleteTopic(`t-${side}-${i}`);
        remove[side].push(performance.now() - startMs);
      }
    }
    await leader.createTopic({ name: 'reported', numPartitions: 1, replicationFactor: 3, configs: {} }, false);
    const groupId = leader.store.topic('reported')?.partitions[0].groupId as number;
    const reported: number[] = [];
    for (let epoch = 1; epoch <= reports; epoch++) {
      leaderships.set(followerId, [{ groupId, leaderId: followerId, leaderEpoch: epoch }]);
      const startMs = performance.now();
      follower.leadershipChanged();
      await waitFor(() => all.every((controller) => controller.store.partitionByGroup(groupId)?.leaderEpoch === epoch), 10_000);
      reported.push(performance.now() - startMs);
      // Let the next periodic heartbeat pass, so each report is carried by leadershipChanged's.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`controller leader ${leaderId}, follower ${followerId}; ticks ${TICK_MS} ms, flush always`);
    console.log(summary('createTopic on the leader', create.leader));
    console.log(summary('createTopic on a follower (forwarded)', create.follower));
    console.log(summary('deleteTopic on the leader', remove.leader));
    console.log(summary('deleteTopic on a follower (forwarded)', remove.follower));
    console.log(summary('leadership report to every store', reported));
  } finally {
    clearInterval(timer);
    for (const controller of controllers.values()) await controller.close();
    for (const transport of transports.values()) await transport.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
