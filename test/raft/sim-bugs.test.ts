import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodesForSeed, runSimulation, type SimOptions } from './sim/cluster-sim.js';
import { BUG_NAMES, bugOptions, type BugName } from './sim/known-bugs.js';

/**
 * The simulator must find known bugs, not only pass on a correct core. Each bug is switched on
 * alone and seeds run from 1 until one fails; the bound is a few times the seeds it took when the
 * simulator was tuned (see test/raft/sim/README.md for the measured rates), so a change that
 * blunts the simulator fails here.
 */
const STEPS = 6000;
const SEED_BOUND: Record<BugName, number> = {
  'commit-previous-term': 2000,
  'vote-without-log-check': 50,
  'forget-vote': 1000,
  'send-before-persist': 200,
  'apply-before-commit': 5,
  'local-read': 50,
};

/** Invariants (not liveness, not an exception inside the core) that each bug is expected to break. */
const SAFETY_INVARIANTS = new Set(['Election Safety', 'Leader Append-Only', 'Log Matching', 'Leader Completeness', 'State Machine Safety', 'Acknowledged write durability', 'Commit monotonicity', 'Linearizable reads']);

/**
 * Runs seeds from 1 until a safety invariant fails (a bug may show as a stall first, since a
 * broken promise can also wedge replication; that counts as seen but the search goes on).
 */
function firstCatch(options: Omit<SimOptions, 'seed' | 'nodes'>, bound: number): { seed: number; invariant: string; message: string; seedsFailedBefore: number } | undefined {
  let seedsFailedBefore = 0;
  for (let seed = 1; seed <= bound; seed++) {
    const result = runSimulation({ ...options, seed, nodes: nodesForSeed(seed) });
    if (result.ok) continue;
    const failure = result.failure!;
    if (SAFETY_INVARIANTS.has(failure.invariant)) return { seed, invariant: failure.invariant, message: failure.message.split('\n')[0], seedsFailedBefore };
    seedsFailedBefore++;
  }
  return undefined;
}

for (const bug of BUG_NAMES) {
  test(`the simulator catches "${bug}" with a safety invariant within ${SEED_BOUND[bug]} seeds`, (t) => {
    const caught = firstCatch({ steps: STEPS, traceCapacity: 1, ...bugOptions(bug) }, SEED_BOUND[bug]);
    assert.ok(caught !== undefined, `${bug} broke no safety invariant in ${SEED_BOUND[bug]} seeds`);
    const before = caught.seedsFailedBefore > 0 ? ` (${caught.seedsFailedBefore} earlier seeds failed on liveness or an assertion in the core)` : '';
    t.diagnostic(`${bug}: caught at seed ${caught.seed}${before}: ${caught.message}`);
  });
}

test('"apply-before-commit" is caught by the acknowledged-write check even without the applied-is-committed check', (t) => {
  const caught = firstCatch({ steps: STEPS, traceCapacity: 1, checkAppliedIsCommitted: false, ...bugOptions('apply-before-commit') }, 20);
  assert.ok(caught !== undefined, 'apply-before-commit went unnoticed');
  t.diagnostic(`caught at seed ${caught.seed}: ${caught.message}`);
});
