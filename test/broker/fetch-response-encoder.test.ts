import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FetchResponse, PartitionFetchResponse } from '../../proto/brook-types.js';
import { loadBrookProto } from '../../proto/brook-proto.js';
import { encodeFetchResponse } from '../../broker/api/fetch-response-encoder.js';

const fetchMethod = loadBrookProto().service.Fetch;
const decode = (bytes: Buffer): FetchResponse => fetchMethod.responseDeserialize(bytes) as FetchResponse;
const genericEncode = (response: FetchResponse): Buffer => fetchMethod.responseSerialize(response);

function partition(fields: Partial<PartitionFetchResponse>): PartitionFetchResponse {
  return {
    partition: 0,
    errorCode: 'NONE',
    errorMessage: '',
    highWatermark: 0,
    logStartOffset: 0,
    recordBatches: Buffer.alloc(0),
    records: [],
    nextFetchOffset: 0,
    ...fields,
  };
}

test('raw fetch responses decode to what the generic encoder gives', () => {
  const batches = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff));
  const responses: FetchResponse[] = [
    { topics: [] },
    { topics: [{ name: '', partitions: [] }] },
    {
      topics: [
        {
          name: 'tópico-ü',
          partitions: [
            partition({ partition: 3, highWatermark: 2 ** 53 - 1, logStartOffset: 128, recordBatches: batches, nextFetchOffset: 300 }),
            partition({ partition: 0, errorCode: 'OFFSET_OUT_OF_RANGE', errorMessage: 'offset 9 is outside [0, 5] — ü', highWatermark: 5, nextFetchOffset: 9 }),
            partition({ partition: 1, errorCode: 'UNKNOWN_SERVER_ERROR', highWatermark: -1, logStartOffset: -1, nextFetchOffset: 0 }),
          ],
        },
        { name: 'other', partitions: [partition({ partition: 2_000_000, recordBatches: batches.subarray(5, 200), nextFetchOffset: 127 })] },
      ],
    },
  ];
  for (const response of responses) {
    const encoded = encodeFetchResponse(response);
    assert.ok(encoded !== undefined);
    assert.deepEqual(decode(encoded), decode(genericEncode(response)));
  }
});

test('the batches arrive byte for byte, and negative values survive', () => {
  const batches = Buffer.from('0123456789abcdef'.repeat(1000));
  const encoded = encodeFetchResponse({ topics: [{ name: 't', partitions: [partition({ partition: 1, highWatermark: -1, logStartOffset: -1, recordBatches: batches, nextFetchOffset: 17 })] }] });
  const decoded = decode(encoded!);
  const only = decoded.topics[0].partitions[0];
  assert.ok(Buffer.from(only.recordBatches).equals(batches));
  assert.equal(only.highWatermark, -1);
  assert.equal(only.logStartOffset, -1);
  assert.equal(only.nextFetchOffset, 17);
  assert.equal(only.errorCode, 'NONE');
});

test('responses with decoded records are left to the generic encoder', () => {
  const response: FetchResponse = {
    topics: [{ name: 't', partitions: [partition({ records: [{ offset: 1, timestampMs: 2, headers: [], timestampType: 'CREATE_TIME', leaderEpoch: 0 }] })] }],
  };
  assert.equal(encodeFetchResponse(response), undefined);
});

test('a leader hint is encoded as field 9 and decodes as the generic encoder gives it', () => {
  const hinted = partition({
    partition: 2,
    errorCode: 'NOT_LEADER_OR_FOLLOWER',
    errorMessage: 'broker 1 does not lead orders-2',
    highWatermark: -1,
    logStartOffset: -1,
    nextFetchOffset: 40,
    currentLeader: { leaderId: 3, leaderEpoch: 7, address: '127.0.0.1:9094' },
  });
  const unknownLeader = partition({ partition: 4, errorCode: 'NOT_LEADER_OR_FOLLOWER', currentLeader: { leaderId: -1, leaderEpoch: -1, address: '' } });
  const response: FetchResponse = { topics: [{ name: 'orders', partitions: [hinted, unknownLeader, partition({ partition: 5 })] }] };
  const encoded = encodeFetchResponse(response);
  assert.ok(encoded !== undefined);
  assert.deepEqual(decode(encoded), decode(genericEncode(response)));
  const decoded = decode(encoded).topics[0].partitions;
  assert.deepEqual(decoded[0].currentLeader, { leaderId: 3, leaderEpoch: 7, address: '127.0.0.1:9094' });
  assert.deepEqual(decoded[1].currentLeader, { leaderId: -1, leaderEpoch: -1, address: '' });
  assert.equal(decoded[2].currentLeader ?? null, null, 'no hint stays absent');
});
