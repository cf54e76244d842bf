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
};

/** Invariants (not liveness, not an exception inside the core) that each bug is expected to break. */
const SAFETY_INVARIANTS = new Set(['Election Safety', 'Leader Append-Only', 'Log Matching', 'Leader Completeness', 'State Machine Safety', 'Acknowledged write durability', 'Commit monotonicity']);

function firstCatch(options: Omit<SimOptions, 'seed' | 'nodes'>, bound: number): { seed: number; invariant: string; message: string } | undefined {
  for (let seed = 1; seed <= bound; seed++) {
    const result = runSimulation({ ...options, seed, nodes: nodesForSeed(seed) });
    if (!result.ok) return { seed, invariant: result.failure!.invariant, message: result.failure!.message.split('\n')[0] };
  }
  return undefined;
}

for (const bug of BUG_NAMES) {
  test(`the simulator catches "${bug}" within ${SEED_BOUND[bug]} seeds`, (t) => {
    const caught = firstCatch({ steps: STEPS, traceCapacity: 1, ...bugOptions(bug) }, SEED_BOUND[bug]);
    assert.ok(caught !== undefined, `${bug} went unnoticed for ${SEED_BOUND[bug]} seeds`);
    t.diagnostic(`${bug}: caught at seed ${caught.seed}: ${caught.message}`);
    assert.ok(SAFETY_INVARIANTS.has(caught.invariant), `${bug} was caught by ${caught.invariant}, not by a safety invariant: ${caught.message}`);
  });
}

test('"apply-before-commit" is caught by the acknowledged-write check even without the applied-is-committed check', (t) => {
  const caught = firstCatch({ steps: STEPS, traceCapacity: 1, checkAppliedIsCommitted: false, ...bugOptions('apply-before-commit') }, 20);
  assert.ok(caught !== undefined, 'apply-before-commit went unnoticed');
  t.diagnostic(`caught at seed ${caught.seed}: ${caught.message}`);
  assert.ok(SAFETY_INVARIANTS.has(caught.invariant), caught.message);
});
