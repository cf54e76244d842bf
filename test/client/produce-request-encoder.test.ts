import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProduceRequest } from '../../proto/brook-types.js';
import { loadBrookProto } from '../../proto/brook-proto.js';
import { encodeProduceRequest, ProduceRequestFrames } from '../../client/produce-request-encoder.js';

const produceMethod = loadBrookProto().service.Produce;
const decode = (bytes: Buffer): ProduceRequest => produceMethod.requestDeserialize(bytes) as ProduceRequest;
const genericEncode = (request: object): Buffer => produceMethod.requestSerialize(request);

/** The same request as the generic encoder takes it: each partition's batches concatenated. */
function concatenated(frames: ProduceRequestFrames): object {
  return {
    acks: frames.acks,
    timeoutMs: frames.timeoutMs,
    topics: frames.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({ partition: partition.partition, recordBatch: Buffer.concat(partition.recordBatches) })),
    })),
  };
}

test('produce requests decode to what the generic encoder gives', () => {
  const big = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));
  const requests = [
    new ProduceRequestFrames('ACKS_ALL', 0, []),
    new ProduceRequestFrames('ACKS_LEADER', 30_000, [{ name: 'ü-topic', partitions: [{ partition: 0, recordBatches: [big.subarray(0, 100)] }] }]),
    new ProduceRequestFrames('ACKS_NONE', 1, [
      { name: 'a', partitions: [{ partition: 7, recordBatches: [big, big.subarray(3, 1000), big.subarray(10, 20)] }, { partition: 1, recordBatches: [] }] },
      { name: 'b'.repeat(300), partitions: [{ partition: 200_000, recordBatches: [big.subarray(0, 127), big.subarray(0, 1)] }] },
    ]),
  ];
  for (const request of requests) assert.deepEqual(decode(encodeProduceRequest(request)), decode(genericEncode(concatenated(request))));
});

test('a partition carries its batches back to back, in order', () => {
  const first = Buffer.from('first-batch');
  const second = Buffer.from('second');
  const decoded = decode(encodeProduceRequest(new ProduceRequestFrames('ACKS_ALL', 5000, [{ name: 't', partitions: [{ partition: 2, recordBatches: [first, second] }] }])));
  assert.equal(decoded.acks, 'ACKS_ALL');
  assert.equal(decoded.timeoutMs, 5000);
  const only = decoded.topics[0].partitions[0];
  assert.equal(only.partition, 2);
  assert.equal(Buffer.from(only.recordBatch!).toString(), 'first-batchsecond');
});
