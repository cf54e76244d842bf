import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import {
  BATCH_HEADER_BYTES,
  Codec,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_RECORD_COUNT,
  computeBatchCrc,
  stampLogAppendTime,
  stampOffsetAndEpoch,
} from '../../record/batch-header.js';
import { CorruptRecordError, InvalidRecordError } from '../../record/errors.js';
import type { ProduceRecord } from '../../record/record.js';
import {
  type DecodedBatch,
  RecordCursor,
  decodeBatch,
  encodeBatch,
  iterateBatches,
  iterateRecords,
  openRecords,
  readBatchInfo,
  validateBatch,
} from '../../record/record-batch.js';
import { ControlRecordType, controlRecordType, decodeControlKey, encodeControlBatch, encodeControlKey } from '../../record/control-record.js';
import { readHexFixture, referenceCrc32c } from './fixture.js';
import { TestRandom } from '../fixtures/test-random.js';

const NOW_MS = 1_700_000_000_000;
const ALL_CODECS = [Codec.None, Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd];

function randomRecords(random: TestRandom, count: number): ProduceRecord[] {
  const records: ProduceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const headers = [];
    const headerCount = random.chance(0.3) ? random.below(4) : 0;
    for (let h = 0; h < headerCount; h++) headers.push({ key: random.unicodeString(6), value: random.chance(0.2) ? null : random.bytes(random.below(20)) });
    records.push({
      key: random.chance(0.3) ? null : Buffer.from(random.unicodeString(10)),
      value: random.chance(0.1) ? null : random.chance(0.5) ? random.compressibleBytes(random.below(2000)) : random.bytes(random.below(300)),
      headers,
      timestamp: NOW_MS + random.below(100_000) - 50_000,
    });
  }
  return records;
}

function assertSameRecords(decoded: DecodedBatch, records: ProduceRecord[], baseOffset: number): void {
  assert.equal(decoded.records.length, records.length);
  for (let i = 0; i < records.length; i++) {
    const got = decoded.records[i];
    const want = records[i];
    assert.equal(got.offset, baseOffset + i);
    assert.equal(got.timestamp, want.timestamp ?? NOW_MS);
    assert.deepEqual(got.key, want.key);
    assert.deepEqual(got.value, want.value);
    assert.deepEqual(got.headers, want.headers ?? []);
  }
}

/** Rewrites the batch's CRC after a deliberate edit inside the CRC's range. */
function fixCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), OFFSET_CRC);
  return batch;
}

/** A batch whose records region is `records` verbatim (count as given), with a valid CRC. */
function craftBatch(records: Buffer, recordCount: number, lastOffsetDelta = Math.max(0, recordCount - 1)): Buffer {
  const header = encodeBatch([{ key: null, value: null }], { nowMs: NOW_MS }).subarray(0, BATCH_HEADER_BYTES);
  const batch = Buffer.concat([header, records]);
  batch.writeInt32BE(batch.length - 12, OFFSET_BATCH_LENGTH);
  batch.writeInt32BE(recordCount, OFFSET_RECORD_COUNT);
  batch.writeInt32BE(lastOffsetDelta, OFFSET_LAST_OFFSET_DELTA);
  return fixCrc(batch);
}

function assertCorrupt(action: () => unknown, reason?: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof CorruptRecordError, `expected CorruptRecordError, got ${String(error)}`);
    if (reason !== undefined) assert.equal(error.reason, reason, error.message);
    return true;
  });
}

describe('record batch: fixed byte vector', () => {
  const fixture = readHexFixture('batch-v2-two-records.hex');
  const bytes = fixture.bytes;
  bytes.writeUInt32BE(referenceCrc32c(bytes.subarray(OFFSET_ATTRIBUTES)), fixture.crcOffset);

  it('the reference CRC32C gives the standard check value', () => {
    assert.equal(referenceCrc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.from('123456789')) >>> 0, 0xe3069283);
  });

  it('decodes the hand-built batch field by field', () => {
    assert.equal(fixture.crcOffset, OFFSET_CRC);
    const { info, records, size } = decodeBatch(bytes);
    assert.equal(size, 85);
    assert.deepEqual(info, {
      baseOffset: 5,
      batchLength: 73,
      partitionLeaderEpoch: 3,
      magic: 2,
      crc: bytes.readUInt32BE(OFFSET_CRC),
      attributes: 0,
      codec: Codec.None,
      timestampType: 'create',
      transactional: false,
      control: false,
      lastOffsetDelta: 1,
      baseTimestamp: NOW_MS,
      maxTimestamp: NOW_MS + 5,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 2,
    });
    assert.deepEqual(records, [
      { offset: 5, timestamp: NOW_MS, key: Buffer.from('k'), value: Buffer.from('hello'), headers: [] },
      { offset: 6, timestamp: NOW_MS + 5, key: null, value: Buffer.alloc(0), headers: [{ key: 'h', value: Buffer.from('v') }] },
    ]);
  });

  it('encodes the same inputs to exactly the same bytes', () => {
    const encoded = encodeBatch(
      [
        { key: Buffer.from('k'), value: Buffer.from('hello'), timestamp: NOW_MS },
        { key: null, value: Buffer.alloc(0), headers: [{ key: 'h', value: Buffer.from('v') }], timestamp: NOW_MS + 5 },
      ],
      { baseOffset: 5, partitionLeaderEpoch: 3, nowMs: 0 },
    );
    assert.equal(encoded.toString('hex'), bytes.toString('hex'));
  });
});

describe('record batch: round trips', () => {
  for (const codec of ALL_CODECS) {
    it(`codec ${Codec[codec]}: random records survive encode and decode`, () => {
      const random = new TestRandom(1000 + codec);
      for (let round = 0; round < 8; round++) {
        const records = randomRecords(random, 1 + random.below(round === 7 ? 3000 : 60));
        const baseOffset = random.below(1_000_000);
        const batch = encodeBatch(records, { codec, baseOffset, nowMs: NOW_MS });
        const decoded = decodeBatch(batch);
        assert.equal(decoded.info.codec, codec);
        assert.equal(decoded.size, batch.length);
        assert.equal(decoded.info.recordCount, records.length);
        assert.equal(decoded.info.lastOffsetDelta, records.length - 1);
        assert.equal(decoded.info.baseTimestamp, records[0].timestamp);
        assert.equal(decoded.info.maxTimestamp, Math.max(...records.map((r) => r.timestamp!)));
        assertSameRecords(decoded, records, baseOffset);
      }
    });
  }

  it('carries producer id, epoch, sequence, leader epoch and the transactional bit', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('x') }], {
      nowMs: NOW_MS,
      baseOffset: 2 ** 40,
      producerId: 2 ** 45 + 7,
      producerEpoch: 32767,
      baseSequence: 2 ** 31 - 1,
      partitionLeaderEpoch: 99,
      transactional: true,
      codec: Codec.Zstd,
    });
    const { info, records } = decodeBatch(batch);
    assert.equal(info.baseOffset, 2 ** 40);
    assert.equal(info.producerId, 2 ** 45 + 7);
    assert.equal(info.producerEpoch, 32767);
    assert.equal(info.baseSequence, 2 ** 31 - 1);
    assert.equal(info.partitionLeaderEpoch, 99);
    assert.equal(info.transactional, true);
    assert.equal(info.control, false);
    assert.equal(info.attributes, 0x10 | Codec.Zstd);
    assert.equal(records[0].offset, 2 ** 40);
  });

  it('defaults producer fields to -1 and record timestamps to nowMs', () => {
    const { info, records } = decodeBatch(encodeBatch([{ key: null, value: null }], { nowMs: NOW_MS }));
    assert.equal(info.producerId, -1);
    assert.equal(info.producerEpoch, -1);
    assert.equal(info.baseSequence, -1);
    assert.equal(info.partitionLeaderEpoch, -1);
    assert.equal(records[0].timestamp, NOW_MS);
    assert.equal(records[0].key, null);
    assert.equal(records[0].value, null);
  });

  it('takes a missing key, value or header value as null', () => {
    const loose = { headers: [{ key: 'h' }] } as unknown as ProduceRecord;
    const { records } = decodeBatch(encodeBatch([loose], { nowMs: NOW_MS }));
    assert.deepEqual(records[0], { offset: 0, timestamp: NOW_MS, key: null, value: null, headers: [{ key: 'h', value: null }] });
  });

  it('LogAppendTime: maxTimestamp is nowMs and stands for every record', () => {
    const batch = encodeBatch(
      [
        { key: null, value: Buffer.from('a'), timestamp: 10 },
        { key: null, value: Buffer.from('b'), timestamp: 20 },
      ],
      { nowMs: NOW_MS, timestampType: 'log-append' },
    );
    const { info, records } = decodeBatch(batch);
    assert.equal(info.timestampType, 'log-append');
    assert.equal(info.maxTimestamp, NOW_MS);
    assert.deepEqual(records.map((r) => r.timestamp), [NOW_MS, NOW_MS]);
  });

  it('in-place stamping of offset, epoch and LogAppendTime keeps the batch valid', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('a'), timestamp: 10 }, { key: null, value: null, timestamp: 11 }], { nowMs: NOW_MS, codec: Codec.Lz4 });
    stampOffsetAndEpoch(batch, 0, 500, 7);
    let decoded = decodeBatch(batch);
    assert.deepEqual(decoded.records.map((r) => r.offset), [500, 501]);
    assert.equal(decoded.info.partitionLeaderEpoch, 7);
    stampLogAppendTime(batch, 0, NOW_MS + 1);
    decoded = decodeBatch(batch);
    assert.deepEqual(decoded.records.map((r) => r.timestamp), [NOW_MS + 1, NOW_MS + 1]);
  });

  it('decoded keys and values are views into the batch, not copies', () => {
    const batch = encodeBatch([{ key: Buffer.from('key'), value: Buffer.from('value'), headers: [{ key: 'h', value: Buffer.from('hv') }] }], { nowMs: NOW_MS });
    const { records } = decodeBatch(batch);
    assert.equal(records[0].key!.buffer, batch.buffer);
    assert.equal(records[0].value!.buffer, batch.buffer);
    assert.equal(records[0].headers[0].value!.buffer, batch.buffer);
    batch[records[0].value!.byteOffset - batch.byteOffset] = 0x56; // 'V'
    assert.equal(records[0].value!.toString(), 'Value');
  });

  it('RecordCursor walks records without objects and sees the same fields', () => {
    const random = new TestRandom(7);
    const records = randomRecords(random, 200);
    const batch = encodeBatch(records, { nowMs: NOW_MS, codec: Codec.Snappy, baseOffset: 10 });
    const info = readBatchInfo(batch);
    const cursor = new RecordCursor(openRecords(batch, 0, info), info);
    let index = 0;
    while (cursor.next()) {
      assert.equal(cursor.offset, 10 + index);
      assert.deepEqual(cursor.key(), records[index].key);
      assert.deepEqual(cursor.value(), records[index].value);
      assert.equal(cursor.headerCount, records[index].headers!.length);
      index++;
    }
    assert.equal(index, records.length);
  });

  it('encodes keys, values and header keys in full UTF-8', () => {
    const key = Buffer.from('ключ-鍵-🔑');
    const batch = encodeBatch([{ key, value: Buffer.from('値'), headers: [{ key: 'ヘッダー😀', value: null }, { key: '', value: Buffer.alloc(0) }] }], { nowMs: NOW_MS });
    const { records } = decodeBatch(batch);
    assert.deepEqual(records[0].key, key);
    assert.deepEqual(records[0].headers, [{ key: 'ヘッダー😀', value: null }, { key: '', value: Buffer.alloc(0) }]);
  });

  it('carries large values and many records', () => {
    const big = new TestRandom(3).bytes(3 * 1024 * 1024);
    for (const codec of [Codec.None, Codec.Zstd]) {
      const decoded = decodeBatch(encodeBatch([{ key: null, value: big }, { key: null, value: Buffer.alloc(0) }], { nowMs: NOW_MS, codec }));
      assert.deepEqual(decoded.records[0].value, big);
    }
    const many = Array.from({ length: 50_000 }, (_, i) => ({ key: null, value: Buffer.from(String(i)) }));
    const decoded = decodeBatch(encodeBatch(many, { nowMs: NOW_MS, codec: Codec.Lz4 }));
    assert.equal(decoded.records.length, 50_000);
    assert.equal(decoded.records[49_999].value!.toString(), '49999');
  });
});

describe('record batch: walking many batches', () => {
  const first = encodeBatch([{ key: null, value: Buffer.from('a') }, { key: null, value: Buffer.from('b') }], { nowMs: NOW_MS, baseOffset: 0 });
  const control = encodeControlBatch(ControlRecordType.LeaderChange, null, { nowMs: NOW_MS, baseOffset: 2 });
  const third = encodeBatch([{ key: null, value: Buffer.from('c') }], { nowMs: NOW_MS, baseOffset: 3, codec: Codec.Gzip });
  const all = Buffer.concat([first, control, third]);

  it('iterateBatches yields each batch in place', () => {
    const views = [...iterateBatches(all)];
    assert.deepEqual(views.map((v) => [v.pos, v.size, v.info.baseOffset, v.info.control]), [
      [0, first.length, 0, false],
      [first.length, control.length, 2, true],
      [first.length + control.length, third.length, 3, false],
    ]);
  });

  it('iterateRecords skips control batches and stops quietly at a partial tail', () => {
    const cut = all.subarray(0, all.length - 3);
    assert.deepEqual([...iterateRecords(all)].map((r) => r.value!.toString()), ['a', 'b', 'c']);
    assert.deepEqual([...iterateRecords(cut)].map((r) => r.value!.toString()), ['a', 'b']);
    assert.equal([...iterateRecords(all, { skipControl: false })].length, 4);
    assertCorrupt(() => [...iterateBatches(cut, { allowPartialTail: false })], 'truncated');
  });

  it('a corrupt batch in the middle is a CorruptRecordError', () => {
    const broken = Buffer.from(all);
    broken[first.length + 40] ^= 0xff;
    assertCorrupt(() => [...iterateBatches(broken)], 'bad-crc');
    assert.equal([...iterateBatches(broken, { verifyCrc: false })].length, 3);
  });
});

describe('control batches', () => {
  it('carry the version and type key and the control attribute', () => {
    const value = Buffer.from('voters: 1,2,3');
    const batch = encodeControlBatch(ControlRecordType.Voters, value, { nowMs: NOW_MS, baseOffset: 9, partitionLeaderEpoch: 4 });
    const { info, records } = decodeBatch(batch);
    assert.equal(info.control, true);
    assert.equal(info.attributes & 0x20, 0x20);
    assert.deepEqual(records[0].key, Buffer.from([0, 0, 0, 6]));
    assert.deepEqual(records[0].value, value);
    assert.equal(controlRecordType(info, records[0]), ControlRecordType.Voters);
    assert.deepEqual(decodeControlKey(encodeControlKey(ControlRecordType.Commit)), { version: 0, type: 1 });
    assertCorrupt(() => decodeControlKey(Buffer.from([0, 0])), 'bad-control-key');
    assert.throws(() => encodeControlKey(-1), InvalidRecordError);
  });
});

describe('record batch: bad input gives typed errors', () => {
  const valid = encodeBatch(
    [
      { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'h', value: Buffer.from('x') }] },
      { key: null, value: Buffer.from('v2') },
    ],
    { nowMs: NOW_MS },
  );

  it('validateBatch accepts what decodeBatch accepts and refuses what it refuses', () => {
    assert.deepEqual(validateBatch(valid), decodeBatch(valid).info);
    const compressed = encodeBatch([{ key: null, value: Buffer.from('v') }], { nowMs: NOW_MS, codec: Codec.Snappy });
    assert.equal(validateBatch(compressed).recordCount, 1);
    const leftover = craftBatch(Buffer.from([0x0c, 0, 0, 0, 0x01, 0x01, 0x00, 0x00]), 1);
    assertCorrupt(() => validateBatch(leftover), 'bad-count');
    const broken = Buffer.from(valid);
    broken[broken.length - 1] ^= 1;
    assertCorrupt(() => validateBatch(broken), 'bad-crc');
  });

  it('every truncation is corrupt', () => {
    for (let length = 0; length < valid.length; length++) {
      assertCorrupt(() => decodeBatch(valid.subarray(0, length)));
    }
  });

  it('a flipped bit inside the CRC range is a CRC mismatch', () => {
    for (let pos = OFFSET_ATTRIBUTES; pos < valid.length; pos++) {
      const broken = Buffer.from(valid);
      broken[pos] ^= 0x04;
      assertCorrupt(() => decodeBatch(broken), 'bad-crc');
    }
  });

  it('unknown magic and unknown codec are invalid', () => {
    const badMagic = Buffer.from(valid);
    badMagic[OFFSET_MAGIC] = 1;
    assert.throws(() => decodeBatch(badMagic), InvalidRecordError);
    const badCodec = Buffer.from(valid);
    badCodec.writeInt16BE(5, OFFSET_ATTRIBUTES);
    assert.throws(() => decodeBatch(fixCrc(badCodec)), InvalidRecordError);
  });

  it('a batchLength that lies is corrupt', () => {
    for (const delta of [-1, 1, -1000, 1000]) {
      const broken = Buffer.from(valid);
      broken.writeInt32BE(valid.length - 12 + delta, OFFSET_BATCH_LENGTH);
      assertCorrupt(() => decodeBatch(broken));
    }
    const negative = Buffer.from(valid);
    negative.writeInt32BE(-5, OFFSET_BATCH_LENGTH);
    assertCorrupt(() => decodeBatch(negative), 'bad-length');
  });

  it('a recordCount that lies is corrupt, and a huge one allocates nothing first', () => {
    for (const count of [0, 1, 3, 2 ** 31 - 1, -1]) {
      const broken = Buffer.from(valid);
      broken.writeInt32BE(count, OFFSET_RECORD_COUNT);
      assert.throws(() => decodeBatch(fixCrc(broken)), (e) => e instanceof CorruptRecordError || e instanceof InvalidRecordError);
    }
    const broken = Buffer.from(valid);
    broken.writeInt32BE(1000, OFFSET_RECORD_COUNT);
    assertCorrupt(() => decodeBatch(fixCrc(broken), 0, { maxDecompressedBytes: 1 << 20, maxRecords: 1 << 20 }), 'bad-count');
    assert.throws(() => decodeBatch(valid, 0, { maxDecompressedBytes: 1 << 20, maxRecords: 1 }), InvalidRecordError);
  });

  it('varint overflow, negative lengths and record lengths that lie are corrupt', () => {
    const sixByteVarint = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0, 0, 0]);
    assertCorrupt(() => decodeBatch(craftBatch(sixByteVarint, 1)), 'varint-overflow');
    // length 6: attributes, ts 0, offset 0, key length -2 (zigzag 3), ...
    assertCorrupt(() => decodeBatch(craftBatch(Buffer.from([0x0c, 0, 0, 0, 0x03, 0, 0]), 1)), 'bad-length');
    // header value length -2
    assertCorrupt(() => decodeBatch(craftBatch(Buffer.from([0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x00, 0x03]), 1)), 'bad-length');
    // a record whose fields end before its declared length
    assertCorrupt(() => decodeBatch(craftBatch(Buffer.from([0x0e, 0, 0, 0, 0x01, 0x01, 0x00, 0x00]), 1)));
    // varlong of 11 bytes
    const longVarlong = Buffer.from([0x1e, 0, ...new Array(10).fill(0x80), 0x01, 0, 1, 1, 0]);
    assertCorrupt(() => decodeBatch(craftBatch(longVarlong, 1)), 'varint-overflow');
    // bytes left after the declared records
    assertCorrupt(() => decodeBatch(craftBatch(Buffer.from([0x0c, 0, 0, 0, 0x01, 0x01, 0x00, 0x00]), 1)), 'bad-count');
    // the minimal valid record, for contrast
    assert.equal(decodeBatch(craftBatch(Buffer.from([0x0c, 0, 0, 0, 0x01, 0x01, 0x00]), 1)).records.length, 1);
    // offsetDelta past lastOffsetDelta
    assertCorrupt(() => decodeBatch(craftBatch(Buffer.from([0x0c, 0, 0, 0x04, 0x01, 0x01, 0x00]), 1)), 'bad-offset');
  });

  it('a batch of no records decodes to none, compressed or not', () => {
    const uncompressed = craftBatch(Buffer.alloc(0), 0);
    assert.deepEqual(decodeBatch(uncompressed).records, []);
    const compressed = Buffer.from(uncompressed);
    compressed.writeInt16BE(Codec.Gzip, OFFSET_ATTRIBUTES);
    assert.deepEqual(decodeBatch(fixCrc(compressed)).records, []);
  });

  it('the decompressed size is capped', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.alloc(1 << 20) }], { nowMs: NOW_MS, codec: Codec.Zstd });
    assert.ok(batch.length < 1000);
    for (const codec of [Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd]) {
      const compressed = encodeBatch([{ key: null, value: Buffer.alloc(1 << 20) }], { nowMs: NOW_MS, codec });
      assertCorrupt(() => decodeBatch(compressed, 0, { maxDecompressedBytes: 512 * 1024, maxRecords: 10 }), 'decompressed-too-large');
      assert.equal(decodeBatch(compressed, 0, { maxDecompressedBytes: 2 << 20, maxRecords: 10 }).records.length, 1);
    }
  });

  it('bad arguments to the encoder are invalid', () => {
    const ok = { key: null, value: null };
    const cases: Array<[ProduceRecord[], object]> = [
      [[], {}],
      [[ok], { nowMs: -1 }],
      [[ok], { nowMs: 1.5 }],
      [[{ key: 'text' as unknown as Buffer, value: null }], {}],
      [[{ key: null, value: null, timestamp: -5 }], {}],
      [[{ key: null, value: null, headers: [{ key: 3 as unknown as string, value: null }] }], {}],
      [[ok], { codec: 6 }],
      [[ok], { producerEpoch: 40000 }],
      [[ok], { baseSequence: 2 ** 31 }],
      [[ok], { baseOffset: -1 }],
      [[ok], { timestampType: 'later' }],
    ];
    for (const [records, opts] of cases) {
      assert.throws(() => encodeBatch(records, { nowMs: NOW_MS, ...opts }), InvalidRecordError, JSON.stringify(opts));
    }
  });
});
