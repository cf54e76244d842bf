import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Codec, encodeBatch } from '../../record/record-batch.js';
import { ControlRecordType, encodeControlBatch } from '../../record/control-record.js';
import { CodecPool } from '../../record/codec-pool.js';
import { CorruptRecordError } from '../../record/errors.js';
import { readFetchedRecords } from '../../consumer/fetched-records.js';
import { PartitionState } from '../../consumer/partition-state.js';

// Thresholds of 1 byte send every compressed batch through a worker, so decompression in the
// pool is exercised for real.
const pool = new CodecPool({ threads: 1, decodeThresholdsBytes: { [Codec.Lz4]: 1, [Codec.Zstd]: 1 } });
after(() => pool.close());

const nowMs = 1_700_000_000_000;
function batch(baseOffset: number, values: string[], codec = Codec.None): Buffer {
  return encodeBatch(values.map((value, i) => ({ key: Buffer.from(`k${baseOffset + i}`), value: Buffer.from(value), headers: [{ key: 'h', value: Buffer.from('x') }], timestamp: nowMs + i })), { codec, nowMs, baseOffset });
}

test('control batches are skipped and gaps in offsets are tolerated', async () => {
  const bytes = Buffer.concat([
    batch(0, ['a', 'b', 'c']),
    encodeControlBatch(ControlRecordType.LeaderChange, null, { nowMs, baseOffset: 3 }),
    // Offsets 4..9 are missing (compacted away or never user data): the consumer must not wait for them.
    batch(10, ['d', 'e']),
    encodeControlBatch(ControlRecordType.Voters, Buffer.from('cfg'), { nowMs, baseOffset: 12 }),
  ]);
  const fetched = await readFetchedRecords('t', 0, bytes, 0, pool);
  assert.deepEqual(fetched.messages.map((m) => [m.offset, m.value?.toString(), m.key?.toString()]), [
    [0, 'a', 'k0'], [1, 'b', 'k1'], [2, 'c', 'k2'], [10, 'd', 'k10'], [11, 'e', 'k11'],
  ]);
  assert.equal(fetched.nextFetchOffset, 13, 'continues after the trailing control batch');
  assert.equal(fetched.messages[3].timestamp, nowMs);
  assert.deepEqual(fetched.messages[0].headers.map((h) => [h.key, h.value?.toString()]), [['h', 'x']]);
  assert.ok(fetched.bytes > 0);
});

test('records below the fetch offset are dropped; a response of only control batches still advances', async () => {
  const fetched = await readFetchedRecords('t', 0, Buffer.concat([batch(100, ['a', 'b', 'c', 'd'])]), 102, pool);
  assert.deepEqual(fetched.messages.map((m) => m.offset), [102, 103]);
  assert.equal(fetched.nextFetchOffset, 104);

  const onlyControl = await readFetchedRecords('t', 0, encodeControlBatch(ControlRecordType.LeaderChange, null, { nowMs, baseOffset: 7 }), 7, pool);
  assert.deepEqual(onlyControl.messages, []);
  assert.equal(onlyControl.nextFetchOffset, 8);

  const empty = await readFetchedRecords('t', 0, Buffer.alloc(0), 5, pool);
  assert.equal(empty.nextFetchOffset, 5);
});

test('compressed batches are decompressed through the pool; a cut-off tail batch is left for the next fetch', async () => {
  const compressed = batch(0, Array.from({ length: 200 }, (_, i) => `value-${i}`.repeat(10)), Codec.Zstd);
  const lz4 = batch(200, ['x', 'y'], Codec.Lz4);
  const tail = batch(202, ['z']);
  const bytes = Buffer.concat([compressed, lz4, tail.subarray(0, tail.length - 3)]);
  const fetched = await readFetchedRecords('t', 3, bytes, 0, pool);
  assert.equal(fetched.messages.length, 202);
  assert.equal(fetched.messages[150].value?.toString(), 'value-150'.repeat(10));
  assert.equal(fetched.messages[201].value?.toString(), 'y');
  assert.equal(fetched.messages[0].partition, 3);
  assert.equal(fetched.nextFetchOffset, 202, 'the partial batch at 202 is fetched again, not skipped');
});

test('partition state: a seek drops buffered data and fetches that started before it', async () => {
  const state = new PartitionState('t', 0);
  state.seek(10);
  const epoch = state.epoch;
  const fetched = await readFetchedRecords('t', 0, batch(10, ['a', 'b']), 10, pool);
  assert.equal(state.append(epoch, fetched.messages, fetched.bytes, fetched.nextFetchOffset), true);
  assert.equal(state.fetchOffset, 12);
  assert.equal(state.take()!.offset, 10);
  assert.equal(state.position, 11);

  const stale = await readFetchedRecords('t', 0, batch(12, ['c']), 12, pool);
  const freed = state.seek(100);
  assert.ok(freed > 0, 'buffered bytes are given back');
  assert.equal(state.append(epoch, stale.messages, stale.bytes, stale.nextFetchOffset), false, 'a fetch from before the seek is dropped');
  assert.equal(state.bufferedCount, 0);
  assert.equal(state.position, 100);
  assert.equal(state.fetchOffset, 100);

  state.seek('earliest');
  assert.equal(state.fetchable(), false, 'an offset lookup comes first');
  state.seek(5);
  state.paused = true;
  assert.equal(state.fetchable(), false);
});

test('uncompressed batches: headers, timestamps and null keys arrive; a flipped byte fails the CRC', async () => {
  const withNullKey = encodeBatch([{ key: null, value: Buffer.from('v0'), headers: [], timestamp: nowMs }], { codec: Codec.None, nowMs, baseOffset: 5 });
  const bytes = Buffer.concat([withNullKey, batch(6, ['a', 'b'])]);
  const fetched = await readFetchedRecords('t', 1, bytes, 0, pool);
  assert.deepEqual(fetched.messages.map((m) => [m.offset, m.timestamp, m.key?.toString() ?? null, m.value?.toString(), m.headers.map((h) => `${h.key}=${h.value?.toString()}`)]), [
    [5, nowMs, null, 'v0', []],
    [6, nowMs, 'k6', 'a', ['h=x']],
    [7, nowMs + 1, 'k7', 'b', ['h=x']],
  ]);
  assert.equal(fetched.bytes, fetched.messages.reduce((sum, m) => sum + m.sizeBytes, 0));
  assert.equal(fetched.nextFetchOffset, 8);

  const corrupt = Buffer.from(bytes);
  // The last byte is a header value: the framing stays valid, only the CRC can tell.
  corrupt[corrupt.length - 1] ^= 0xff;
  await assert.rejects(readFetchedRecords('t', 1, corrupt, 0, pool), (error: CorruptRecordError) => error instanceof CorruptRecordError && error.reason === 'bad-crc');
});
