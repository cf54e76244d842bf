import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordAccumulator, estimateRecordBytes, topicPartitionKey, type PendingRecord } from '../../producer/accumulator.js';
import { MemoryBudget } from '../../producer/memory-budget.js';
import { InvalidArgumentError, TimeoutError } from '../../client/errors.js';

const record = (valueBytes: number): PendingRecord => ({ key: null, value: Buffer.alloc(valueBytes), headers: [], timestamp: 0 });
const notMuted = () => false;

test('records fill a batch up to batchBytes, then a new batch starts', () => {
  const accumulator = new RecordAccumulator({ batchBytes: 1000, lingerMs: 50, batchRecordsMax: 1000 }, new MemoryBudget(100_000));
  const size = estimateRecordBytes(record(79));
  assert.equal(size, 100);
  const results = [];
  for (let i = 0; i < 25; i++) results.push(accumulator.tryAppend('t', 0, record(79), size, 0)!);
  assert.equal(results[0].batch, results[9].batch);
  assert.notEqual(results[9].batch, results[10].batch);
  assert.equal(results[10].index, 0);
  assert.equal(results[24].index, 4);
  assert.equal(accumulator.queuedBatchCount(), 3);
});

test('a batch becomes ready when full, after linger, or on flush', () => {
  const accumulator = new RecordAccumulator({ batchBytes: 1000, lingerMs: 50, batchRecordsMax: 1000 }, new MemoryBudget(100_000));
  accumulator.tryAppend('t', 0, record(79), 100, 10);
  let ready = accumulator.ready(20, notMuted);
  assert.deepEqual(ready.readyKeys, []);
  assert.equal(ready.nextReadyMs, 60);
  assert.deepEqual(accumulator.ready(60, notMuted).readyKeys, [topicPartitionKey('t', 0)]);

  for (let i = 0; i < 10; i++) accumulator.tryAppend('t', 1, record(79), 100, 20);
  assert.deepEqual(accumulator.ready(21, notMuted).readyKeys, [topicPartitionKey('t', 1)], 'full batch is ready before linger');
  assert.deepEqual(accumulator.ready(21, () => true).readyKeys, [], 'muted partitions are never ready');

  accumulator.beginFlush();
  assert.equal(accumulator.ready(21, notMuted).readyKeys.length, 2);
  accumulator.endFlush();
});

test('drained batches are closed; retried batches go back to the head after their backoff', () => {
  const accumulator = new RecordAccumulator({ batchBytes: 1000, lingerMs: 0, batchRecordsMax: 1000 }, new MemoryBudget(100_000));
  const first = accumulator.tryAppend('t', 0, record(10), 31, 0)!.batch;
  const key = topicPartitionKey('t', 0);
  assert.equal(accumulator.drain(key), first);
  const second = accumulator.tryAppend('t', 0, record(10), 31, 1)!.batch;
  assert.notEqual(second, first, 'a drained batch takes no more records');
  first.attempts = 1;
  accumulator.reenqueue(first, 100);
  assert.deepEqual(accumulator.ready(50, notMuted).readyKeys, []);
  assert.equal(accumulator.ready(50, notMuted).nextReadyMs, 100);
  assert.equal(accumulator.drain(key), first);
  assert.equal(accumulator.drain(key), second);
});

test('memory is bounded: appends fail fast to the caller, which then waits (backpressure)', async () => {
  const memory = new MemoryBudget(1000);
  const accumulator = new RecordAccumulator({ batchBytes: 400, lingerMs: 0, batchRecordsMax: 1000 }, memory);
  const appended = [];
  for (;;) {
    const result = accumulator.tryAppend('t', 0, record(79), 100, 0);
    if (result === null) break;
    appended.push(result);
  }
  assert.equal(appended.length, 10);
  assert.equal(memory.usedBytes, 1000);

  let reserved = false;
  const waiting = memory.reserve(100, 10_000).then(() => { reserved = true; });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reserved, false, 'send waits while memory is full');
  assert.equal(memory.hasWaiters, true);
  assert.ok(accumulator.ready(0, notMuted).readyKeys.length > 0, 'waiters make batches urgent');

  const batch = accumulator.drain(topicPartitionKey('t', 0))!;
  batch.complete(0);
  accumulator.deallocate(batch);
  await waiting;
  assert.equal(reserved, true, 'memory released by a completed batch wakes the waiter');
  assert.equal(memory.usedBytes, 1000 - batch.sizeBytes + 100);
});

test('waiting for memory times out, and a record larger than the whole budget is refused', async () => {
  const memory = new MemoryBudget(500);
  assert.ok(memory.tryReserve(450));
  await assert.rejects(memory.reserve(100, 30), TimeoutError);
  assert.equal(memory.usedBytes, 450);
  assert.throws(() => memory.tryReserve(501), InvalidArgumentError);
});

test('waiters are served in FIFO order', async () => {
  const memory = new MemoryBudget(100);
  assert.ok(memory.tryReserve(100));
  const order: string[] = [];
  const a = memory.reserve(60, 10_000).then(() => order.push('a'));
  const b = memory.reserve(30, 10_000).then(() => order.push('b'));
  assert.equal(memory.tryReserve(1), false, 'no jumping the queue');
  memory.release(50);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [], 'a needs 60, only 50 free; b must not pass a');
  memory.release(50);
  await Promise.all([a, b]);
  assert.deepEqual(order, ['a', 'b']);
});

test('delivery timeout expires queued batches and frees their memory', async () => {
  const memory = new MemoryBudget(10_000);
  const accumulator = new RecordAccumulator({ batchBytes: 1000, lingerMs: 1000, batchRecordsMax: 1000 }, memory);
  const { batch } = accumulator.tryAppend('t', 0, record(10), 31, 0)!;
  accumulator.expireQueued(100, () => new TimeoutError('expired'));
  await assert.rejects(batch.result, TimeoutError);
  assert.equal(memory.usedBytes, 0);
  assert.equal(accumulator.queuedBatchCount(), 0);
});
