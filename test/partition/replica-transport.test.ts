import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Replica } from '../../broker/partition/replica.js';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { resolveLogConfig } from '../../broker/storage/log-config.js';
import { PeerTransport } from '../../broker/transport/peer-transport.js';
import { Role, type NodeId } from '../../raft/types.js';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { TICK_MS, makeBatch, raftSettings, valuesOf } from './replica-cluster.js';
import { freePort } from '../fixtures/free-port.js';

const GROUP = 7;
const NODES: NodeId[] = [1, 2, 3];

async function committed(replica: Replica): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = replica.logStartOffset;
  while (offset < replica.highWatermark) {
    const bytes = await replica.read(offset, 1 << 20);
    if (bytes.length === 0) break;
    parts.push(bytes);
    for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
      offset = baseOffsetNumberAt(bytes, position) + lastOffsetDeltaAt(bytes, position) + 1;
    }
  }
  return Buffer.concat(parts);
}

/**
 * Three replicas of one partition, each with its own PeerTransport on 127.0.0.1 (one gRPC stream
 * per broker pair, protobuf frames, coalesced heartbeats): the replica's messages survive the
 * real wire, and the logs end up byte-identical.
 */
test('replicas over the peer transport: election, replication and byte-identical logs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'brook-replica-transport-'));
  const addresses = new Map<NodeId, string>();
  for (const id of NODES) addresses.set(id, `127.0.0.1:${await freePort()}`);
  const replicas = new Map<NodeId, Replica>();
  const transports = new Map<NodeId, PeerTransport>();
  const files = new FileHandleCache(64);
  const logger = pino({ level: 'silent' });
  let timer: NodeJS.Timeout | undefined;
  try {
    for (const id of NODES) {
      const transport = new PeerTransport({
        selfId: id,
        clusterId: 'replica-test',
        listenAddress: addresses.get(id) as string,
        peers: new Map([...addresses].filter(([peer]) => peer !== id)),
        logger,
        onMessage: (groupId, message) => {
          if (groupId === GROUP) replicas.get(id)?.receive(message);
        },
        onPeerState: (peer, connected) => {
          if (!connected) replicas.get(id)?.reportUnreachable(peer);
        },
      });
      transports.set(id, transport);
      replicas.set(
        id,
        await Replica.open({
          dir: join(root, `node-${id}`),
          groupId: 'topic-0',
          nodeId: id,
          initialConf: { voters: NODES, learners: [] },
          logConfig: resolveLogConfig(),
          raftConfig: raftSettings(id),
          clock: { nowMs: () => Date.now() },
          files,
          send: (message) => transport.send(message.to, GROUP, message),
        }),
      );
    }
    await Promise.all([...transports.values()].map((transport) => transport.start()));
    timer = setInterval(() => {
      for (const replica of replicas.values()) replica.tick();
      for (const transport of transports.values()) transport.flushTick();
    }, TICK_MS);

    const deadline = Date.now() + 15_000;
    const leaderOf = (): Replica | undefined => [...replicas.values()].find((replica) => replica.role === Role.Leader);
    while (leaderOf() === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const leader = leaderOf();
    assert.ok(leader !== undefined, 'no leader elected over the transport');
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.append(makeBatch(`w${i}`, 8, i % 2 === 0 ? 8000 : 10), 'all')));
    const end = leader.logEndOffset;
    while ([...replicas.values()].some((replica) => replica.highWatermark !== end) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const reference = await committed(leader);
    assert.equal(valuesOf(reference).length, 20 * 8);
    for (const replica of replicas.values()) assert.ok((await committed(replica)).equals(reference), `node ${replica.nodeId} differs`);
  } finally {
    if (timer !== undefined) clearInterval(timer);
    for (const replica of replicas.values()) await replica.close();
    await Promise.all([...transports.values()].map((transport) => transport.close()));
    await rm(root, { recursive: true, force: true });
  }
});
