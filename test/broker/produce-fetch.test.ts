/**
 * The data path through a real broker process over raw gRPC: produce (batch bytes and plain
 * records), fetch (bytes and decoded), long poll, Subscribe, ListOffsets, Metadata, acks, and the
 * server's HTTP/2 flow-control window.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { describe, it } from 'node:test';
import { Codec, decodeBatch, encodeBatch, iterateRecords } from '../../record/record-batch.js';
import { brokerPerFile } from './broker-process.js';

const running = brokerPerFile([
  '--flow-control-window-bytes', String(8 * 1024 * 1024),
  '--in-flight-requests-per-connection-max', '64',
  '--fetch-in-flight-bytes-max', String(1024 * 1024),
]);

function batchOf(values: string[], nowMs = Date.now()): Buffer {
  return encodeBatch(values.map((value, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(value) })), { nowMs });
}

async function produceBytes(topic: string, partition: number, bytes: Buffer, acks = 'ACKS_ALL') {
  const response = await running.client.call('Produce', { acks, topics: [{ name: topic, partitions: [{ partition, recordBatch: bytes }] }] });
  return response.topics[0].partitions[0];
}

async function fetchOne(topic: string, partition: number, fetchOffset: number, extra: object = {}, partitionExtra: object = {}) {
  const response = await running.client.call('Fetch', { maxWaitMs: 0, topics: [{ name: topic, partitions: [{ partition, fetchOffset, ...partitionExtra }] }], ...extra });
  return response.topics[0].partitions[0];
}

describe('produce and fetch', { timeout: 60_000 }, () => {
  it('appends record_batch bytes and serves them back as stored batches', async () => {
    const first = await produceBytes('bytes-topic', 0, batchOf(['a', 'b', 'c']));
    assert.equal(first.errorCode, 'NONE', first.errorMessage);
    assert.equal(first.baseOffset, 0);
    const second = await produceBytes('bytes-topic', 0, Buffer.concat([batchOf(['d']), batchOf(['e', 'f'])]));
    assert.equal(second.baseOffset, 3);

    const fetched = await fetchOne('bytes-topic', 0, 0);
    assert.equal(fetched.errorCode, 'NONE');
    assert.equal(fetched.highWatermark, 6);
    assert.equal(fetched.logStartOffset, 0);
    assert.equal(fetched.nextFetchOffset, 6);
    const records = [...iterateRecords(fetched.recordBatches, { allowPartialTail: false })];
    assert.deepEqual(records.map((r) => [r.offset, r.value!.toString()]), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd'], [4, 'e'], [5, 'f']]);
    const { info } = decodeBatch(fetched.recordBatches, 0);
    assert.equal(info.partitionLeaderEpoch, 0, 'the broker stamps its leader epoch');

    const fromMiddle = await fetchOne('bytes-topic', 0, 4, { decodeRecords: true });
    assert.deepEqual(fromMiddle.records.map((r: { offset: number }) => r.offset), [4, 5], 'decoded records start at the fetch offset');
  });

  it('encodes plain records (nulls, headers, timestamps, compression) and returns them decoded', async () => {
    const produced = await running.client.call('Produce', {
      topics: [
        {
          name: 'plain-topic',
          partitions: [
            {
              partition: 1,
              compression: 'COMPRESSION_ZSTD',
              records: [
                { value: Buffer.from('no key'), timestampMs: 1_000 },
                { key: Buffer.from('k'), value: Buffer.alloc(0), headers: [{ key: 'h1', value: Buffer.from('v1') }, { key: 'h2' }], timestampMs: 2_000 },
                { key: Buffer.from('tombstone') },
              ],
            },
          ],
        },
      ],
    });
    const result = produced.topics[0].partitions[0];
    assert.equal(result.errorCode, 'NONE', result.errorMessage);
    assert.equal(result.baseOffset, 0);

    const raw = await fetchOne('plain-topic', 1, 0);
    assert.equal(decodeBatch(raw.recordBatches, 0).info.codec, Codec.Zstd, 'the broker compressed the batch as asked');

    const fetched = await fetchOne('plain-topic', 1, 0, { decodeRecords: true });
    assert.equal(fetched.recordBatches.length, 0);
    const [r0, r1, r2] = fetched.records;
    assert.equal(r0.key, undefined, 'null key stays null');
    assert.equal(r0.value.toString(), 'no key');
    assert.equal(r0.timestampMs, 1_000);
    assert.equal(r0.timestampType, 'CREATE_TIME');
    assert.deepEqual(r1.value, Buffer.alloc(0), 'empty value stays empty, not null');
    assert.deepEqual(r1.headers.map((h: { key: string; value?: Buffer }) => [h.key, h.value?.toString()]), [['h1', 'v1'], ['h2', undefined]]);
    assert.equal(r2.key.toString(), 'tombstone');
    assert.equal(r2.value, undefined, 'null value stays null');
    assert.ok(Math.abs(r2.timestampMs - Date.now()) < 60_000, 'a record without a timestamp gets the broker time');
  });

  it('auto-creates topics with the default partition count and reports them in Metadata', async () => {
    const metadata = await running.client.call('Metadata', { topics: ['plain-topic', 'never-produced'] });
    assert.equal(metadata.brokers.length, 1);
    assert.equal(`${metadata.brokers[0].host}:${metadata.brokers[0].port}`, running.broker.address);
    assert.match(metadata.clusterId, /^[0-9a-f-]{36}$/);
    const [plain, missing] = metadata.topics;
    assert.equal(plain.errorCode, 'NONE');
    assert.equal(plain.partitions.length, 3);
    assert.deepEqual(plain.partitions.map((p: { leaderId: number }) => p.leaderId), [1, 1, 1]);
    assert.equal(missing.errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');

    const created = await running.client.call('Metadata', { topics: ['made-by-metadata'], allowAutoTopicCreation: true });
    assert.equal(created.topics[0].errorCode, 'NONE');
    assert.equal(created.topics[0].partitions.length, 3);
  });

  it('creates a topic once when many produces race to auto-create it', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => produceBytes('raced-topic', i % 3, batchOf([`r${i}`]))),
    );
    assert.deepEqual(new Set(results.map((r) => r.errorCode)), new Set(['NONE']));
    const offsets = results.map((r) => r.baseOffset).sort((a, b) => a - b);
    assert.deepEqual(offsets, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], 'every produce landed in the one topic');
    const described = await running.client.call('DescribeTopics', { names: ['raced-topic'] });
    assert.equal(described.topics[0].partitions.length, 3);
  });

  it('long-polls: a waiting fetch answers when a produce commits, and at max_wait_ms otherwise', async () => {
    await produceBytes('poll-topic', 0, batchOf(['first']));
    const started = Date.now();
    const waiting = fetchOne('poll-topic', 0, 1, { maxWaitMs: 10_000, minBytes: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await produceBytes('poll-topic', 0, batchOf(['second']));
    const woke = await waiting;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 5_000, `woke after ${elapsed} ms`);
    assert.deepEqual([...iterateRecords(woke.recordBatches)].map((r) => r.value!.toString()), ['second']);

    const idleStart = Date.now();
    const idle = await fetchOne('poll-topic', 0, 2, { maxWaitMs: 400 });
    const idleMs = Date.now() - idleStart;
    assert.equal(idle.recordBatches.length, 0);
    assert.equal(idle.nextFetchOffset, 2);
    assert.ok(idleMs >= 350, `an idle long poll waited ${idleMs} ms`);

    const minBytesStart = Date.now();
    const partial = await fetchOne('poll-topic', 0, 0, { maxWaitMs: 400, minBytes: 1_000_000 });
    assert.ok(Date.now() - minBytesStart >= 350, 'min_bytes not reached: waits the full max_wait_ms');
    assert.equal([...iterateRecords(partial.recordBatches)].length, 2, 'then answers with what there is');
  });

  it('bounds fetches by partition_max_bytes but always returns one whole batch', async () => {
    for (let i = 0; i < 5; i++) await produceBytes('size-topic', 0, batchOf([`${i}`.repeat(1000)]));
    const tiny = await fetchOne('size-topic', 0, 0, {}, { partitionMaxBytes: 10 });
    assert.equal([...iterateRecords(tiny.recordBatches, { allowPartialTail: false })].length, 1, 'one whole batch even over the limit');
    const two = await fetchOne('size-topic', 0, 0, {}, { partitionMaxBytes: 2_400 });
    assert.equal([...iterateRecords(two.recordBatches, { allowPartialTail: false })].length, 2);
    assert.equal(two.nextFetchOffset, 2);
    const capped = await running.client.call('Fetch', {
      maxBytes: 2_400,
      topics: [{ name: 'size-topic', partitions: [{ partition: 0, fetchOffset: 0 }, { partition: 0, fetchOffset: 3 }] }],
    });
    const [a, b] = capped.topics[0].partitions;
    assert.equal([...iterateRecords(a.recordBatches)].length, 2, 'the total budget is shared across partitions');
    assert.equal(b.recordBatches.length, 0, 'a later partition whose batch does not fit gets nothing');
  });

  it('shares fetch.in.flight.bytes.max across fetches: a large fetch gets what the budget allows', async () => {
    for (let i = 0; i < 3; i++) await produceBytes('budget-topic', 0, batchOf(['b'.repeat(600_000)]));
    const big = await fetchOne('budget-topic', 0, 0, { maxBytes: 3_000_000 }, { partitionMaxBytes: 3_000_000 });
    assert.equal([...iterateRecords(big.recordBatches)].length, 1, 'two 600 kB batches would pass the 1 MiB budget');
    assert.equal(big.nextFetchOffset, 1);
  });

  it('keeps decoded fetches within the byte budget even when records decompress to much more', async () => {
    const compressible = Array.from({ length: 100 }, () => ({ key: null, value: Buffer.alloc(10_000) }));
    const batch = encodeBatch(compressible, { codec: Codec.Zstd, nowMs: Date.now() });
    assert.ok(batch.length < 5_000, 'the stored batch is small');
    await produceBytes('inflate-topic', 0, batch);
    let offset = 0;
    let calls = 0;
    while (offset < 100) {
      const answer = await fetchOne('inflate-topic', 0, offset, { decodeRecords: true }, { partitionMaxBytes: 50_000 });
      assert.ok(answer.records.length >= 1 && answer.records.length <= 5, `${answer.records.length} records of 10 kB in a 50 kB budget`);
      assert.equal(answer.records[0].offset, offset);
      assert.equal(answer.nextFetchOffset, offset + answer.records.length);
      offset = answer.nextFetchOffset;
      calls++;
    }
    assert.ok(calls >= 20);
  });

  it('acks=none answers before the append; the data still arrives', async () => {
    const result = await produceBytes('acks-topic', 0, batchOf(['x', 'y']), 'ACKS_NONE');
    assert.equal(result.errorCode, 'NONE');
    assert.equal(result.baseOffset, -1);
    const fetched = await fetchOne('acks-topic', 0, 0, { maxWaitMs: 5_000 });
    assert.equal([...iterateRecords(fetched.recordBatches)].length, 2);
    const leader = await produceBytes('acks-topic', 0, batchOf(['z']), 'ACKS_LEADER');
    assert.equal(leader.baseOffset, 2);
  });

  it('Subscribe pushes batches as they commit, from the requested offset', async () => {
    await produceBytes('sub-topic', 2, batchOf(['before']));
    const stream = running.client.subscribe({ topics: [{ name: 'sub-topic', partitions: [{ partition: 2, fetchOffset: 0 }] }] });
    const seen: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (message: { errorCode: string; recordBatches: Buffer; nextFetchOffset: number }) => {
        assert.equal(message.errorCode, 'NONE');
        for (const record of iterateRecords(message.recordBatches)) seen.push(record.value!.toString());
        if (seen.length === 3) resolve();
      });
      stream.on('error', (error: { code: number }) => (error.code === 1 ? undefined : reject(error)));
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await produceBytes('sub-topic', 2, batchOf(['after-1']));
    await produceBytes('sub-topic', 2, batchOf(['after-2']));
    await done;
    stream.cancel();
    assert.deepEqual(seen, ['before', 'after-1', 'after-2']);
  });

  it('ListOffsets finds the earliest, the latest and the first offset at a timestamp', async () => {
    const records = [1_000, 2_000, 3_000].map((timestamp) => ({ key: null, value: Buffer.from(String(timestamp)), timestamp }));
    await produceBytes('time-topic', 0, encodeBatch(records.slice(0, 2), { nowMs: 0 }));
    await produceBytes('time-topic', 0, encodeBatch(records.slice(2), { nowMs: 0 }));
    const response = await running.client.call('ListOffsets', {
      topics: [
        {
          name: 'time-topic',
          partitions: [
            { partition: 0, spec: 'OFFSET_SPEC_EARLIEST' },
            { partition: 0, spec: 'OFFSET_SPEC_LATEST' },
            { partition: 0, spec: 'OFFSET_SPEC_TIMESTAMP', timestampMs: 1_500 },
            { partition: 0, spec: 'OFFSET_SPEC_TIMESTAMP', timestampMs: 2_500 },
            { partition: 0, spec: 'OFFSET_SPEC_TIMESTAMP', timestampMs: 9_999 },
            { partition: 7, spec: 'OFFSET_SPEC_LATEST' },
          ],
        },
      ],
    });
    const answers = response.topics[0].partitions.map((p: { errorCode: string; offset: number; timestampMs: number }) => [p.errorCode, p.offset, p.timestampMs]);
    assert.deepEqual(answers, [
      ['NONE', 0, -1],
      ['NONE', 3, -1],
      ['NONE', 1, 2_000],
      ['NONE', 2, 3_000],
      ['NONE', -1, -1],
      ['UNKNOWN_TOPIC_OR_PARTITION', -1, -1],
    ]);
  });

  it('grants the configured HTTP/2 flow-control window and stream limit on new connections', async () => {
    const session = connect(`http://${running.broker.address}`);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('remoteSettings', () => resolve());
        session.once('error', reject);
      });
      assert.equal(session.remoteSettings.initialWindowSize, 8 * 1024 * 1024, 'per-stream window in SETTINGS');
      assert.equal(session.remoteSettings.maxConcurrentStreams, 64, 'calls in flight per connection');
      const deadline = Date.now() + 2_000;
      while ((session.state.remoteWindowSize ?? 0) < 8 * 1024 * 1024 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(session.state.remoteWindowSize, 8 * 1024 * 1024, 'connection window raised by WINDOW_UPDATE');
    } finally {
      session.destroy();
    }
  });
});
