import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeFailure, runFuzz } from './record-fuzzer.js';

/** Fixed seeds: a failure here replays with `npm run fuzz -- --seed S --case N`. */
const SEEDS = [20251123, 1];
const CASES_PER_SEED = 50_000;

describe('record format fuzz', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${CASES_PER_SEED} cases, only typed errors escape`, () => {
      const report = runFuzz(seed, CASES_PER_SEED);
      assert.equal(report.cases, CASES_PER_SEED);
      assert.deepEqual(report.failures.slice(0, 5).map(describeFailure), []);
      // The corpus must reach the decoders, not just fail at the CRC: some cases decode fine.
      assert.ok(report.decoded > CASES_PER_SEED / 20, `only ${report.decoded} cases decoded`);
      assert.ok(report.typedErrors > CASES_PER_SEED / 4, `only ${report.typedErrors} typed errors`);
    });
  }
});
