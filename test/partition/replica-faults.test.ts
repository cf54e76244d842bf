import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeId } from '../../raft/types.js';
import { seededUniformRandom } from '../fixtures/test-random.js';
import { ReplicaCluster, makeBatch, valuesOf } from './replica-cluster.js';

const NODES: NodeId[] = [1, 2, 3];
const STEPS = 60;
/** REPLICA_FAULT_SEED=<n> runs another seed (timing is real, so a seed replays its choices, not its interleaving). */
const SEED = Number(process.env.REPLICA_FAULT_SEED ?? 20261123);
const STEP_MS = 40;

/**
 * A run of random faults (links cut and healed, power losses, clean restarts) while appends keep
 * arriving, with small segments and a tiny tail cache so rolls and cold reads happen. At the end
 * every acknowledged append must be in the log exactly once, and every replica's committed log
 * must be byte-identical.
 */
test('under random cuts, power losses and restarts, acknowledged appends survive and logs converge', async () => {
  const random = seededUniformRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const cluster = await ReplicaCluster.start(NODES, { segmentBytes: 16 * 1024, maxBatchBytes: 8 * 1024, tailCacheBytes: 2048, indexIntervalBytes: 512 });
  /** Acknowledged appends: tag -> base offset. */
  const acknowledged = new Map<string, number>();
  const appends: Array<Promise<unknown>> = [];
  const down = new Set<NodeId>();
  let proposed = 0;
  let faults = 0;
  try {
    await cluster.waitForLeader();
    for (let step = 0; step < STEPS; step++) {
      const leader = [...cluster.replicas.values()].find((replica) => replica.isLeader);
      if (leader !== undefined) {
        for (let k = 0; k < 4; k++) {
          const tag = `f${proposed++}`;
          appends.push(leader.append(makeBatch(tag, 2, 100), 'all').then((outcome) => acknowledged.set(tag, outcome.baseOffset), () => undefined));
        }
      }
      const roll = random();
      if (roll < 0.08 && down.size === 0) {
        // Half the time the leader: its in-flight appends are the ones at risk.
        const victim = leader !== undefined && random() < 0.5 ? leader.nodeId : pick(NODES);
        down.add(victim);
        faults++;
        await (random() < 0.5 ? cluster.crash(victim) : cluster.stop(victim));
      } else if (roll < 0.2 && down.size > 0) {
        const back = pick([...down]);
        down.delete(back);
        await cluster.open(back);
      } else if (roll < 0.3) {
        cluster.cut(pick(NODES), pick(NODES));
        faults++;
      } else if (roll < 0.45) {
        cluster.heal();
      } else if (roll < 0.5 && leader !== undefined && leader.highWatermark > leader.logStartOffset + 20) {
        // Retention on the leader: followers behind the new start get a snapshot.
        await leader.log.advanceLogStartOffset(leader.highWatermark - 20).catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, STEP_MS));
    }
    cluster.heal();
    for (const id of down) await cluster.open(id);
    const leader = await cluster.waitForLeader(20_000);
    await leader.append(makeBatch('final'), 'all');
    await Promise.all(appends);
    await cluster.waitForConvergence(20_000);

    // Compare from the latest log start: below it, replicas may have been restarted from a snapshot.
    const start = Math.max(...NODES.map((id) => cluster.get(id).logStartOffset));
    const boundary = await cluster.batchStartAtOrAfter(1, start);
    const reference = await cluster.committedBytes(1, boundary);
    for (const id of [2, 3]) assert.ok((await cluster.committedBytes(id, boundary)).equals(reference), `node ${id} differs from node 1`);
    const firstValues = valuesOf(reference).filter((value) => value.endsWith('-0'));
    assert.equal(new Set(firstValues).size, firstValues.length, 'an append is in the log twice');
    assert.ok(cluster.checkCommittedNeverChanged(leader.nodeId) > 0);
    for (const [tag, offset] of acknowledged) if (offset >= boundary) assert.ok(firstValues.includes(`${tag}-0`), `acknowledged ${tag} was lost`);
    if (process.env.REPLICA_FAULT_SEED !== undefined) console.log(`seed ${SEED}: ${faults} faults, ${acknowledged.size} of ${proposed} acknowledged, offsets ${leader.logEndOffset}, log starts ${NODES.map((id) => cluster.get(id).logStartOffset).join(",")}, cold reads ${NODES.map((id) => cluster.get(id).coldReads).join(",")}`);
    assert.ok(faults > 0 && acknowledged.size > STEPS / 2, `the run should have faults (${faults}) and progress (${acknowledged.size} acknowledged)`);
  } finally {
    await cluster.close();
  }
});
