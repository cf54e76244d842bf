/**
 * The nemesis's pure parts: the bridge (majorities ring) it cuts, and the fault list it accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeCuts, faultKinds, parseFaultKinds } from './nemesis.js';

function reachable(ring: readonly number[], cuts: ReadonlyArray<[number, number]>): Map<number, Set<number>> {
  const cut = new Set(cuts.flatMap(([a, b]) => [`${a}-${b}`, `${b}-${a}`]));
  return new Map(ring.map((id) => [id, new Set(ring.filter((other) => other === id || !cut.has(`${id}-${other}`)))]));
}

test('with five brokers the bridge leaves each one a majority of its own, no two the same', () => {
  const ring = [4, 1, 5, 3, 2];
  const sees = reachable(ring, bridgeCuts(ring));
  const majorities = new Set<string>();
  for (const [id, seen] of sees) {
    assert.equal(seen.size, 3, `broker ${id} sees itself and two neighbours`);
    majorities.add([...seen].sort().join(','));
  }
  assert.equal(majorities.size, 5, 'every broker sees a different majority');
  assert.equal(bridgeCuts(ring).length, 5, 'ten links, five kept');
});

test('with three brokers the bridge cuts the two ends of the line and the middle one reaches both', () => {
  const sees = reachable([2, 3, 1], bridgeCuts([2, 3, 1]));
  assert.deepEqual([...sees.get(3)!].sort(), [1, 2, 3]);
  assert.deepEqual([...sees.get(2)!].sort(), [2, 3]);
  assert.deepEqual([...sees.get(1)!].sort(), [1, 3]);
});

test('fault kinds parse from a comma list and unknown ones are refused', () => {
  assert.deepEqual(parseFaultKinds('kill, pause,bitflip'), ['kill', 'pause', 'bitflip']);
  assert.deepEqual(parseFaultKinds(faultKinds.join(',')), [...faultKinds]);
  assert.throws(() => parseFaultKinds('kill,meteor'), /unknown fault kind meteor/);
});
