import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { murmur2, partitionForKey, toPositive } from '../../producer/murmur2.js';

const require = createRequire(import.meta.url);
// KafkaJS ships a Java-compatible murmur2 partitioner: an independent reference implementation.
const referenceMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

test('murmur2 matches the hashes Kafka\'s Java client computes (hard-coded vectors)', () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, expected] of vectors) assert.equal(murmur2(Buffer.from(key)), expected, key);
});

test('murmur2 agrees with the reference for every tail length and random keys', () => {
  const keys: Buffer[] = [Buffer.alloc(0)];
  for (let length = 1; length <= 64; length++) keys.push(randomBytes(length));
  for (let i = 0; i < 500; i++) keys.push(Buffer.from(`key-${i}`));
  for (const key of keys) assert.equal(murmur2(key), referenceMurmur2(key), key.toString('hex'));
});

test('partitionForKey puts keys where the reference partitioner does', () => {
  for (let i = 0; i < 300; i++) {
    const key = Buffer.from(`user-${i * 7919}`);
    for (const partitions of [1, 3, 12, 100]) {
      assert.equal(partitionForKey(key, partitions), toPositive(referenceMurmur2(key)) % partitions);
    }
  }
  // Known placements for 10 partitions, from the Java client's hash of the same keys.
  assert.equal(partitionForKey(Buffer.from('foobar'), 10), toPositive(-790332482) % 10);
  assert.equal(partitionForKey(Buffer.from('21'), 10), toPositive(-973932308) % 10);
});

test('toPositive clears the sign bit rather than negating', () => {
  assert.equal(toPositive(-1), 0x7fffffff);
  assert.equal(toPositive(-2147483648), 0);
  assert.equal(toPositive(5), 5);
});
