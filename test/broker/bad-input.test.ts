/**
 * Every kind of bad input gets its documented answer, nothing of a refused produce is appended,
 * and the broker keeps serving after each one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ATTR_CONTROL, BATCH_HEADER_BYTES, Codec, OFFSET_ATTRIBUTES, OFFSET_RECORD_COUNT, computeBatchCrc, OFFSET_CRC } from '../../record/batch-header.js';
import { encodeBatch } from '../../record/record-batch.js';
import { brokerPerFile } from './broker-process.js';

const running = brokerPerFile([
  '--no-auto-create-topics',
  '--max-message-bytes', '2048',
  '--request-max-bytes', String(64 * 1024),
  '--retention-check-interval-ms', '50',
  '--subscribe-streams-max', '2',
], async ({ client }) => {
  const created = await client.call('CreateTopics', { topics: [{ name: 'good', numPartitions: 3 }] });
  assert.equal(created.results[0].errorCode, 'NONE');
});

/** The broker still answers, and is still the same process. */
async function assertServing(): Promise<void> {
  const metadata = await running.client.call('Metadata', { topics: ['good'] });
  assert.equal(metadata.topics[0].errorCode, 'NONE');
  assert.equal(running.broker.child.exitCode, null, 'the broker process is alive');
}

function batchOf(values: string[]): Buffer {
  return encodeBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), { nowMs: Date.now() });
}

/** Recomputes the CRC of a single batch after a test changed bytes inside it. */
function refitCrc(batch: Buffer): void {
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), OFFSET_CRC);
}

async function produce(topic: string, partition: number, data: object, acks?: unknown) {
  const response = await running.client.call('Produce', { acks, topics: [{ name: topic, partitions: [{ partition, ...data }] }] });
  return response.topics[0].partitions[0] as { errorCode: string; errorMessage: string; baseOffset: number };
}

async function latestOffset(topic: string, partition: number): Promise<number> {
  const response = await running.client.call('ListOffsets', { topics: [{ name: topic, partitions: [{ partition, spec: 'OFFSET_SPEC_LATEST' }] }] });
  return response.topics[0].partitions[0].offset;
}

describe('bad input', { timeout: 60_000 }, () => {
  it('unknown topic with auto-create off -> UNKNOWN_TOPIC_OR_PARTITION', async () => {
    assert.equal((await produce('missing', 0, { recordBatch: batchOf(['x']) })).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    const fetched = await running.client.call('Fetch', { topics: [{ name: 'missing', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    assert.equal(fetched.topics[0].partitions[0].errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    const metadata = await running.client.call('Metadata', { topics: ['missing'], allowAutoTopicCreation: true });
    assert.equal(metadata.topics[0].errorCode, 'UNKNOWN_TOPIC_OR_PARTITION', 'Metadata does not create when the broker forbids it');
    await assertServing();
  });

  it('illegal topic names -> INVALID_TOPIC_EXCEPTION', async () => {
    const names = ['', 'x'.repeat(250), '.', '..', 'a/b', 'a\u0000b', '__internal', 'spaces are bad'];
    for (const name of names) {
      assert.equal((await produce(name, 0, { recordBatch: batchOf(['x']) })).errorCode, 'INVALID_TOPIC_EXCEPTION', JSON.stringify(name));
      const created = await running.client.call('CreateTopics', { topics: [{ name, numPartitions: 1 }] });
      assert.equal(created.results[0].errorCode, 'INVALID_TOPIC_EXCEPTION', JSON.stringify(name));
    }
    const longest = await running.client.call('CreateTopics', { topics: [{ name: 'y'.repeat(249), numPartitions: 1 }] });
    assert.equal(longest.results[0].errorCode, 'NONE', '249 characters is legal');
    await assertServing();
  });

  it('a partition out of range -> UNKNOWN_TOPIC_OR_PARTITION', async () => {
    for (const partition of [3, -1, 1_000_000]) {
      assert.equal((await produce('good', partition, { recordBatch: batchOf(['x']) })).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    }
    await assertServing();
  });

  it('a CRC mismatch -> CORRUPT_MESSAGE with nothing appended', async () => {
    await produce('good', 1, { recordBatch: batchOf(['kept']) });
    const before = await latestOffset('good', 1);
    const corrupt = batchOf(['will be flipped']);
    corrupt[corrupt.length - 3] ^= 0xff;
    assert.equal((await produce('good', 1, { recordBatch: corrupt })).errorCode, 'CORRUPT_MESSAGE');
    const mixed = Buffer.concat([batchOf(['good one']), corrupt]);
    assert.equal((await produce('good', 1, { recordBatch: mixed })).errorCode, 'CORRUPT_MESSAGE', 'one bad batch refuses the whole partition data');
    const truncated = batchOf(['cut short']).subarray(0, 40);
    assert.equal((await produce('good', 1, { recordBatch: truncated })).errorCode, 'CORRUPT_MESSAGE');
    assert.equal(await latestOffset('good', 1), before, 'nothing was appended');
    await assertServing();
  });

  it('a batch whose CRC is right but whose records lie -> CORRUPT_MESSAGE with nothing appended', async () => {
    const before = await latestOffset('good', 1);
    // recordCount says 3, the batch holds 2; the CRC is recomputed so only the record walk can tell.
    const lyingCount = batchOf(['one', 'two']);
    lyingCount.writeInt32BE(3, OFFSET_RECORD_COUNT);
    refitCrc(lyingCount);
    assert.equal((await produce('good', 1, { recordBatch: lyingCount })).errorCode, 'CORRUPT_MESSAGE');
    // A gzip batch whose compressed bytes are garbage, CRC refitted: refused without being stored.
    const gzip = encodeBatch([{ key: null, value: Buffer.from('compressed '.repeat(20)) }], { nowMs: Date.now(), codec: Codec.Gzip });
    gzip.fill(0x5a, BATCH_HEADER_BYTES + 2);
    refitCrc(gzip);
    assert.equal((await produce('good', 1, { recordBatch: gzip })).errorCode, 'CORRUPT_MESSAGE');
    assert.equal(await latestOffset('good', 1), before, 'nothing was appended');
    await assertServing();
  });

  it('a batch over max.message.bytes -> MESSAGE_TOO_LARGE', async () => {
    const before = await latestOffset('good', 2);
    assert.equal((await produce('good', 2, { recordBatch: batchOf(['z'.repeat(3_000)]) })).errorCode, 'MESSAGE_TOO_LARGE');
    const plain = await produce('good', 2, { records: [{ value: Buffer.alloc(3_000, 1) }] });
    assert.equal(plain.errorCode, 'MESSAGE_TOO_LARGE', 'also when the broker encodes plain records');
    assert.equal(await latestOffset('good', 2), before);
    await assertServing();
  });

  it('requests that make no sense -> INVALID_REQUEST, INVALID_REQUIRED_ACKS, INVALID_RECORD', async () => {
    assert.equal((await produce('good', 0, { recordBatch: batchOf(['x']), records: [{ value: Buffer.from('y') }] })).errorCode, 'INVALID_REQUEST');
    assert.equal((await produce('good', 0, {})).errorCode, 'INVALID_REQUEST');
    assert.equal((await produce('good', 0, { recordBatch: batchOf(['x']) }, 9)).errorCode, 'INVALID_REQUIRED_ACKS');
    const control = batchOf(['control']);
    control.writeInt16BE(control.readInt16BE(OFFSET_ATTRIBUTES) | ATTR_CONTROL, OFFSET_ATTRIBUTES);
    control.writeUInt32BE(computeBatchCrc(control, 0, control.length), OFFSET_CRC);
    assert.equal((await produce('good', 0, { recordBatch: control })).errorCode, 'INVALID_RECORD');
    await assertServing();
  });

  it('offsets below the log start or past the end -> OFFSET_OUT_OF_RANGE with both bounds', async () => {
    const created = await running.client.call('CreateTopics', {
      topics: [{ name: 'short-lived', numPartitions: 1, configs: { 'segment.bytes': '1024', 'max.message.bytes': '1000', 'retention.bytes': '1' } }],
    });
    assert.equal(created.results[0].errorCode, 'NONE', created.results[0].errorMessage);
    for (let i = 0; i < 6; i++) {
      const result = await produce('short-lived', 0, { recordBatch: batchOf(['r'.repeat(600)]) });
      assert.equal(result.errorCode, 'NONE', result.errorMessage);
    }
    // Retention (every 50 ms here) deletes all but the active segment.
    let logStart = 0;
    for (let waited = 0; logStart === 0 && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const earliest = await running.client.call('ListOffsets', { topics: [{ name: 'short-lived', partitions: [{ partition: 0, spec: 'OFFSET_SPEC_EARLIEST' }] }] });
      logStart = earliest.topics[0].partitions[0].offset;
    }
    assert.ok(logStart > 0, 'retention advanced the log start');
    for (const fetchOffset of [0, 7, -1]) {
      const fetched = await running.client.call('Fetch', { topics: [{ name: 'short-lived', partitions: [{ partition: 0, fetchOffset }] }] });
      const answer = fetched.topics[0].partitions[0];
      assert.equal(answer.errorCode, 'OFFSET_OUT_OF_RANGE', `fetch offset ${fetchOffset}`);
      assert.equal(answer.logStartOffset, logStart);
      assert.equal(answer.highWatermark, 6);
    }
    await assertServing();
  });

  it('Subscribe: a bad partition gets one error message and the stream ends', async () => {
    const stream = running.client.subscribe({
      topics: [
        { name: 'good', partitions: [{ partition: 0, fetchOffset: 1_000 }] },
        { name: 'missing', partitions: [{ partition: 0, fetchOffset: 0 }] },
      ],
    });
    const messages: Array<{ topic: string; errorCode: string }> = [];
    const ended = await new Promise<string>((resolve) => {
      stream.on('data', (message: { topic: string; errorCode: string }) => messages.push(message));
      stream.on('end', () => resolve('end'));
      stream.on('error', (error: ServiceError) => resolve(`error ${error.code}`));
    });
    assert.equal(ended, 'end');
    assert.deepEqual(messages.map((m) => [m.topic, m.errorCode]).sort(), [['good', 'OFFSET_OUT_OF_RANGE'], ['missing', 'UNKNOWN_TOPIC_OR_PARTITION']]);

    const empty = running.client.subscribe({ topics: [] });
    const refused = await new Promise<number>((resolve) => {
      empty.on('data', () => undefined);
      empty.on('error', (error: ServiceError) => resolve(error.code));
      empty.on('end', () => resolve(-1));
    });
    assert.equal(refused, status.INVALID_ARGUMENT, 'a subscription of nothing is refused');
    await assertServing();
  });

  it('Subscribe calls over subscribe.streams.max -> RESOURCE_EXHAUSTED', async () => {
    const follow = () => running.client.subscribe({ topics: [{ name: 'good', partitions: [{ partition: 1, fetchOffset: 0 }] }] });
    const open = [follow(), follow()];
    for (const stream of open) stream.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const third = follow();
    const code = await new Promise<number>((resolve) => {
      third.on('data', () => undefined);
      third.on('error', (error: ServiceError) => resolve(error.code));
      third.on('end', () => resolve(-1));
    });
    assert.equal(code, status.RESOURCE_EXHAUSTED);
    for (const stream of open) stream.cancel();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = follow();
    again.on('error', () => undefined);
    const first = await new Promise<{ errorCode: string }>((resolve) => again.once('data', resolve));
    assert.equal(first.errorCode, 'NONE', 'cancelled streams free their slots');
    again.cancel();
    await assertServing();
  });

  it('malformed protobuf -> INVALID_ARGUMENT', async () => {
    for (const method of ['Produce', 'Fetch', 'CreateTopics']) {
      await assert.rejects(running.client.callRaw(method, Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f, 0x01])), (error: ServiceError) => {
        assert.equal(error.code, status.INVALID_ARGUMENT, `${method}: ${error.details}`);
        return true;
      });
    }
    await assertServing();
  });

  it('an oversized request -> RESOURCE_EXHAUSTED', async () => {
    const huge = { acks: 'ACKS_ALL', topics: [{ name: 'good', partitions: [{ partition: 0, records: [{ value: Buffer.alloc(100 * 1024) }] }] }] };
    await assert.rejects(running.client.call('Produce', huge), (error: ServiceError) => {
      assert.equal(error.code, status.RESOURCE_EXHAUSTED, error.details);
      return true;
    });
    await assertServing();
  });
});
