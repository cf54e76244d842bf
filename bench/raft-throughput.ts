/**
 * Raft throughput without faults: entries committed per second through a 3-node cluster held in
 * one process (in-memory disks that sync at once, messages delivered in order with no delay), for
 * several proposal batch sizes (proposals per Ready cycle on the leader), measured in the same run.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/raft-throughput.js [--seconds 3] [--bytes 100] [--batches 1,16,256]
 *
 * Prints, per batch size: entries/s, ticks per commit and messages per commit. Ticks follow the wall
 * clock (one tick per TICK_MS), so heartbeats cost what they would in a broker.
 */
import { RaftNode } from '../raft/raft-node.js';
import { MessageType, Role, type Message, type RaftConfig, type Ready, type Snapshot } from '../raft/types.js';
import { Prng } from '../test/raft/sim/prng.js';
import { SimDisk } from '../test/raft/sim/sim-disk.js';

const TICK_MS = 10;
const NODE_COUNT = 3;
/** Compact a node's log once this many entries are applied past its snapshot, so memory stays flat. */
const COMPACT_EVERY_ENTRIES = 50_000;

interface BenchNode {
  raft: RaftNode;
  disk: SimDisk;
  applied: number;
  appliedEntries: number;
}

interface Result {
  batch: number;
  entries: number;
  seconds: number;
  ticks: number;
  messages: number;
  appendMessages: number;
}

function parseArguments(): { seconds: number; bytes: number; batches: number[] } {
  const args = process.argv.slice(2);
  const value = (flag: string, fallback: string): string => {
    const k = args.indexOf(flag);
    return k >= 0 && args[k + 1] !== undefined ? args[k + 1] : fallback;
  };
  return {
    seconds: Number(value('--seconds', '3')),
    bytes: Number(value('--bytes', '100')),
    batches: value('--batches', '1,16,256').split(',').map(Number),
  };
}

function makeCluster(): BenchNode[] {
  const prng = new Prng(1);
  const voters = Array.from({ length: NODE_COUNT }, (_, k) => k + 1);
  const bootstrap: Snapshot = { index: 1, term: 1, conf: { voters, learners: [] }, data: new Uint8Array(0) };
  return voters.map((id) => {
    const disk = new SimDisk(bootstrap);
    const random = prng.fork();
    const config: RaftConfig = {
      id,
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: true,
      checkQuorum: true,
      maxMessageBytes: 1024 * 1024,
      maxEntriesPerMessage: 4096,
      maxInflightMessages: 256,
      maxInflightBytes: 64 * 1024 * 1024,
      maxUncommittedBytes: 64 * 1024 * 1024,
      random: () => random.float(),
    };
    return { raft: new RaftNode(config, disk), disk, applied: 1, appliedEntries: 0 };
  });
}

class Cluster {
  readonly nodes = makeCluster();
  private queue: Message[] = [];
  messages = 0;
  appendMessages = 0;
  ticks = 0;

  tickAll(): void {
    this.ticks++;
    for (const node of this.nodes) node.raft.tick();
  }

  /** Processes Readys and delivers messages until the cluster is idle. */
  settle(): void {
    for (;;) {
      let busy = false;
      for (const node of this.nodes) {
        while (node.raft.hasReady()) {
          busy = true;
          this.handle(node, node.raft.ready());
        }
      }
      if (this.queue.length === 0 && !busy) return;
      const queue = this.queue;
      this.queue = [];
      for (const message of queue) this.nodes[message.to - 1].raft.step(message);
    }
  }

  leader(): BenchNode | undefined {
    return this.nodes.find((node) => node.raft.status().role === Role.Leader);
  }

  private handle(node: BenchNode, ready: Ready): void {
    if (ready.snapshot !== undefined) node.disk.writeSnapshot(ready.snapshot);
    if (ready.entries.length > 0) node.disk.writeEntries(ready.entries);
    if (ready.hardState !== undefined) node.disk.writeHardState(ready.hardState);
    node.disk.sync();
    for (const message of ready.messages) {
      this.messages++;
      if (message.type === MessageType.Append) this.appendMessages++;
      this.queue.push(message);
    }
    for (const entry of ready.committedEntries) {
      node.applied = entry.index + entry.count - 1;
      node.appliedEntries++;
    }
    node.raft.advance(ready);
    if (node.applied - node.disk.firstIndex() > COMPACT_EVERY_ENTRIES) {
      node.disk.compact({ index: node.applied, term: node.disk.term(node.applied), conf: { voters: [1, 2, 3], learners: [] }, data: new Uint8Array(0) });
    }
  }
}

function run(batch: number, seconds: number, bytes: number): Result {
  const cluster = new Cluster();
  while (cluster.leader() === undefined) {
    cluster.tickAll();
    cluster.settle();
  }
  const leader = cluster.leader()!;
  const data = new Uint8Array(bytes);
  const baseEntries = leader.appliedEntries;
  const baseMessages = cluster.messages;
  const baseAppends = cluster.appendMessages;
  const baseTicks = cluster.ticks;
  const started = performance.now();
  let nextTickMs = started + TICK_MS;
  let now = started;
  while (now - started < seconds * 1000) {
    for (let k = 0; k < batch; k++) {
      const outcome = leader.raft.propose(data, 1);
      if (!outcome.ok) throw new Error(`proposal refused: ${outcome.reason}`);
    }
    cluster.settle();
    now = performance.now();
    while (now >= nextTickMs) {
      cluster.tickAll();
      cluster.settle();
      nextTickMs += TICK_MS;
    }
  }
  return {
    batch,
    entries: leader.appliedEntries - baseEntries,
    seconds: (now - started) / 1000,
    ticks: cluster.ticks - baseTicks,
    messages: cluster.messages - baseMessages,
    appendMessages: cluster.appendMessages - baseAppends,
  };
}

function main(): void {
  const { seconds, bytes, batches } = parseArguments();
  console.log(`3-node in-memory Raft cluster, no faults, ${bytes}-byte entries, ${seconds} s per batch size`);
  console.log('batch  entries/s   ticks/commit  messages/commit  appends/commit');
  for (const batch of batches) {
    const r = run(batch, seconds, bytes);
    console.log(
      `${String(r.batch).padStart(5)}  ${Math.round(r.entries / r.seconds).toString().padStart(9)}   ${(r.ticks / r.entries).toFixed(5).padStart(12)}  ${(r.messages / r.entries).toFixed(4).padStart(15)}  ${(r.appendMessages / r.entries).toFixed(4).padStart(14)}`,
    );
  }
}

main();
