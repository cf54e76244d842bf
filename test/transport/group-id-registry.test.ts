import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupIdRegistry } from '../../broker/transport/group-id-registry.js';

test('group ids map to names and handlers both ways; unknown ids are counted', () => {
  const registry = new GroupIdRegistry<string>();
  registry.register(7, 'orders-0', 'replica of orders-0');
  registry.register(8, 'orders-1', 'replica of orders-1');
  assert.equal(registry.handlerOf(7), 'replica of orders-0');
  assert.equal(registry.idOf('orders-1'), 8);
  assert.equal(registry.nameOf(8), 'orders-1');
  assert.throws(() => registry.register(7, 'payments-0', 'x'), /registered twice/);
  assert.throws(() => registry.register(9, 'orders-0', 'x'), /registered twice/);
  assert.throws(() => registry.register(2 ** 32, 'big', 'x'), /out of range/);
  registry.unregister(7);
  assert.equal(registry.handlerOf(7), undefined);
  assert.equal(registry.idOf('orders-0'), undefined);
  assert.equal(registry.unknownGroupLookups, 1);
  assert.equal(registry.size, 1);
});
