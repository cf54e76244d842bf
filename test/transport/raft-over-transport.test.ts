import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RaftNode } from '../../raft/raft-node.js';
import { Role, type Message, type RaftConfig } from '../../raft/types.js';
import { MemoryStorage } from '../raft/memory-storage.js';
import { seededUniformRandom } from '../fixtures/test-random.js';
import { startCluster, waitFor, type TestNode } from './transport-fixtures.js';

const GROUPS = 30;
const TICK_MS = 20;
const PROPOSALS_PER_GROUP = 3;
const ENTRY_BYTES = 64 * 1024;

/** One broker's replicas: a RaftNode and its in-memory log per group. */
interface Broker {
  readonly node: TestNode;
  readonly groups: { raft: RaftNode; storage: MemoryStorage }[];
}

function raftConfig(id: number, seed: number): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 2,
    preVote: true,
    checkQuorum: true,
    maxMessageBytes: 1024 * 1024,
    maxEntriesPerMessage: 64,
    maxInflightMessages: 64,
    maxInflightBytes: 8 * 1024 * 1024,
    maxUncommittedBytes: 64 * 1024 * 1024,
    random: seededUniformRandom(seed),
  };
}

/** The driver loop of raft/README.md, with a disk that is durable at once. */
function processReady(broker: Broker, groupId: number): void {
  const { raft, storage } = broker.groups[groupId];
  while (raft.hasReady()) {
    const ready = raft.ready();
    if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
    storage.append(ready.entries);
    if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
    for (const message of ready.messages) broker.node.transport.send(message.to, groupId, message);
    raft.advance(ready);
  }
}

test('Raft groups elect leaders and replicate 64 KiB entries through three transports, heartbeats coalesced', async (t) => {
  const brokers: Broker[] = [];
  const nodes = await startCluster([1, 2, 3], {
    onMessage: (groupId: number, message: Message) => {
      const broker = brokers[message.to - 1];
      broker.groups[groupId].raft.step(message);
      processReady(broker, groupId);
    },
  });
  for (const node of nodes) {
    const groups = [];
    for (let groupId = 0; groupId < GROUPS; groupId += 1) {
      const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
      groups.push({ raft: new RaftNode(raftConfig(node.id, node.id * 1_000 + groupId), storage), storage });
    }
    brokers.push({ node, groups });
  }
  let ticks = 0;
  const ticker = setInterval(() => {
    ticks += 1;
    for (const broker of brokers) {
      for (let groupId = 0; groupId < GROUPS; groupId += 1) {
        broker.groups[groupId].raft.tick();
        processReady(broker, groupId);
      }
      broker.node.transport.flushTick();
    }
  }, TICK_MS);
  try {
    const leaderOf = (groupId: number): Broker | undefined => brokers.find((broker) => broker.groups[groupId].raft.status().role === Role.Leader);
    await waitFor('a leader in every group', () => Array.from({ length: GROUPS }, (_, g) => leaderOf(g)).every((leader) => leader !== undefined), 10_000);

    const proposed: Uint8Array[][] = [];
    for (let groupId = 0; groupId < GROUPS; groupId += 1) {
      const leader = leaderOf(groupId);
      assert.ok(leader !== undefined);
      proposed.push([]);
      for (let i = 0; i < PROPOSALS_PER_GROUP; i += 1) {
        const data = randomBytes(ENTRY_BYTES);
        const result = leader.groups[groupId].raft.propose(data, 1);
        assert.ok(result.ok, `group ${groupId}: proposal refused`);
        proposed[groupId].push(data);
      }
      processReady(leader, groupId);
    }
    const committedData = (broker: Broker, groupId: number): Buffer[] => {
      const { raft, storage } = broker.groups[groupId];
      const commit = raft.status().commit;
      return storage.allEntries().filter((entry) => entry.index <= commit && entry.data.length > 0).map((entry) => Buffer.from(entry.data));
    };
    await waitFor('every proposal committed on every broker', () => brokers.every((broker) => proposed.every((_, groupId) => committedData(broker, groupId).length === PROPOSALS_PER_GROUP)), 15_000);
    for (const broker of brokers) {
      for (let groupId = 0; groupId < GROUPS; groupId += 1) assert.deepEqual(committedData(broker, groupId), proposed[groupId].map((data) => Buffer.from(data)));
    }
    // All groups' heartbeats between two brokers share frames: per tick and direction, one frame
    // for the tick's heartbeats and at most one for the answers to the peer's (often the same).
    for (const broker of brokers) {
      for (const stats of broker.node.transport.stats().peers.values()) {
        assert.ok(stats.heartbeatFrames <= 2 * ticks + 2, `${stats.heartbeatFrames} heartbeat frames in ${ticks} ticks`);
        assert.equal(stats.droppedMessages, 0);
      }
    }
    const total = brokers.flatMap((broker) => [...broker.node.transport.stats().peers.values()]);
    const heartbeats = total.reduce((sum, stats) => sum + stats.heartbeatsSent, 0);
    const frames = total.reduce((sum, stats) => sum + stats.heartbeatFrames, 0);
    assert.ok(heartbeats >= 5 * frames, `${heartbeats} heartbeats in ${frames} frames`);
    t.diagnostic(`${heartbeats} heartbeats in ${frames} frames over ${ticks} ticks`);
  } finally {
    clearInterval(ticker);
    await Promise.all(nodes.map((node) => node.transport.close()));
  }
});
