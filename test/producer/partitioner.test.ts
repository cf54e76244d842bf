import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDefaultPartitioner, StickyPartitionChooser } from '../../producer/partitioner.js';
import { partitionForKey } from '../../producer/murmur2.js';
import { seededUniformRandom } from '../fixtures/test-random.js';

const all = (count: number) => Array.from({ length: count }, (_, i) => i);

test('keyed records go to murmur2(key) mod partitions', () => {
  const partitioner = createDefaultPartitioner({ stickyBytes: 1000, random: seededUniformRandom(1) });
  for (let i = 0; i < 100; i++) {
    const key = Buffer.from(`k${i}`);
    const input = { topic: 't', partitionCount: 7, availablePartitions: all(7), key, value: null, recordBytes: 30 };
    assert.equal(partitioner(input), partitionForKey(key, 7));
  }
});

test('records without key stick to one partition until stickyBytes, then move to another', () => {
  const chooser = new StickyPartitionChooser(1000, seededUniformRandom(7));
  const first = chooser.choose('t', 6, all(6), 100);
  for (let i = 1; i < 10; i++) assert.equal(chooser.choose('t', 6, all(6), 100), first, `record ${i}`);
  const next = chooser.choose('t', 6, all(6), 100);
  assert.notEqual(next, first);
  for (let i = 1; i < 10; i++) assert.equal(chooser.choose('t', 6, all(6), 100), next);
});

test('sticky choice prefers available partitions and spreads over them', () => {
  const chooser = new StickyPartitionChooser(100, seededUniformRandom(3));
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(chooser.choose('t', 10, [2, 5, 8], 100));
  assert.deepEqual([...seen].sort(), [2, 5, 8]);
});

test('sticky state is per topic', () => {
  const chooser = new StickyPartitionChooser(10_000, seededUniformRandom(11));
  const a = chooser.choose('a', 50, all(50), 10);
  const b = chooser.choose('b', 50, all(50), 10);
  assert.equal(chooser.choose('a', 50, all(50), 10), a);
  assert.equal(chooser.choose('b', 50, all(50), 10), b);
});
