import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ByteBudget } from '../../broker/api/byte-budget.js';

it('a byte budget refuses what does not fit and admits one oversized request when idle', () => {
  const budget = new ByteBudget(100);
  assert.equal(budget.tryAcquire(60), true);
  assert.equal(budget.tryAcquire(50), false, 'over capacity while busy');
  assert.equal(budget.tryAcquire(40), true);
  assert.equal(budget.inUseBytes, 100);
  budget.release(100);
  assert.equal(budget.tryAcquire(500), true, 'a request larger than the budget runs alone');
  assert.equal(budget.tryAcquire(1), false);
  budget.release(500);
  assert.throws(() => budget.release(1), /released more than acquired/);
});

it('acquireUpTo grants what is free, possibly nothing', () => {
  const budget = new ByteBudget(100);
  assert.equal(budget.acquireUpTo(70), 70);
  assert.equal(budget.acquireUpTo(70), 30);
  assert.equal(budget.acquireUpTo(10), 0);
  budget.release(100);
  assert.equal(budget.inUseBytes, 0);
});
