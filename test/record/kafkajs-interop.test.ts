/**
 * Interoperability with an independent implementation of the format: KafkaJS's RecordBatch v2
 * encoder and decoder (used directly from its sources). KafkaJS encodes, Brook decodes, and the
 * reverse, for randomized records and every codec. KafkaJS ships only gzip; the other codecs are
 * plugged into its codec registry here, written against the compression libraries directly (snappy
 * in the xerial framing Kafka's Java client uses, lz4 frames with checksums, zstd frames without a
 * declared size), so Brook's readers meet those variants too.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import lz4 from 'lz4-napi';
import snappy from 'snappy';
import zstd from 'zstd-napi';
import { Codec } from '../../record/batch-header.js';
import type { RecordHeader } from '../../record/record.js';
import { decodeBatch, encodeBatch } from '../../record/record-batch.js';
import { TestRandom } from '../fixtures/test-random.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- KafkaJS's internals come without types. */
const require = createRequire(import.meta.url);
const kafkajs: any = require('kafkajs');
const { RecordBatch: kafkaRecordBatch }: any = require('kafkajs/src/protocol/recordBatch/v0');
const kafkaRecord: any = require('kafkajs/src/protocol/recordBatch/record/v0');
const kafkaBatchDecoder: any = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const KafkaDecoder: any = require('kafkajs/src/protocol/decoder');
const Long: any = require('kafkajs/src/utils/long');

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
const XERIAL_CHUNK_BYTES = 32 * 1024;

const snappyPlugin = {
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    const parts: Buffer[] = [XERIAL_HEADER];
    for (let pos = 0; pos < encoder.buffer.length; pos += XERIAL_CHUNK_BYTES) {
      const block = snappy.compressSync(encoder.buffer.subarray(pos, pos + XERIAL_CHUNK_BYTES));
      const length = Buffer.alloc(4);
      length.writeInt32BE(block.length);
      parts.push(length, block);
    }
    return Buffer.concat(parts);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    if (buffer.subarray(0, 8).equals(XERIAL_HEADER.subarray(0, 8))) {
      const parts: Buffer[] = [];
      for (let pos = 16; pos < buffer.length; ) {
        const length = buffer.readInt32BE(pos);
        parts.push(snappy.uncompressSync(buffer.subarray(pos + 4, pos + 4 + length), { asBuffer: true }) as Buffer);
        pos += 4 + length;
      }
      return Buffer.concat(parts);
    }
    return snappy.uncompressSync(buffer, { asBuffer: true }) as Buffer;
  },
};

const lz4Plugin = {
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    return lz4.compressFrameSync(encoder.buffer, { contentChecksum: true, blockChecksums: true });
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return lz4.decompressFrameSync(buffer);
  },
};

const zstdPlugin = {
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    const stream = new zstd.CompressStream();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.end(encoder.buffer);
    await ended;
    return Buffer.concat(chunks);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return zstd.decompress(buffer);
  },
};

const NOW_MS = 1_730_000_000_000;
const ALL_CODECS = [Codec.None, Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd];

/** A record as both sides see it: KafkaJS takes headers as an object, Brook as a list. */
interface TestRecord {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headerObject: Record<string, Buffer | Buffer[]>;
  /** The headers in the order KafkaJS writes the object: Object.keys order, arrays flattened. */
  headerList: RecordHeader[];
}

function randomHeaders(random: TestRandom): Pick<TestRecord, 'headerObject' | 'headerList'> {
  const headerObject: Record<string, Buffer | Buffer[]> = {};
  const count = random.chance(0.5) ? random.below(4) : 0;
  for (let i = 0; i < count; i++) {
    const key = random.chance(0.2) ? String(random.below(5)) : random.unicodeString(8);
    const value = random.chance(0.3) ? Buffer.from(random.unicodeString(12)) : random.bytes(random.below(40));
    const existing = headerObject[key];
    if (existing === undefined) headerObject[key] = value;
    else headerObject[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const headerList: RecordHeader[] = [];
  for (const key of Object.keys(headerObject)) {
    const value = headerObject[key];
    for (const one of Array.isArray(value) ? value : [value]) headerList.push({ key, value: one });
  }
  return { headerObject, headerList };
}

function randomRecords(random: TestRandom, count: number, largeValues: boolean): TestRecord[] {
  const records: TestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const shape = random.below(10);
    const value =
      shape === 0 ? null
      : shape === 1 ? Buffer.alloc(0)
      : shape === 2 ? Buffer.from(random.unicodeString(40))
      : largeValues && shape === 3 ? random.compressibleBytes(200_000 + random.below(800_000))
      : random.chance(0.5) ? random.compressibleBytes(random.below(3000)) : random.bytes(random.below(500));
    records.push({
      key: random.chance(0.3) ? null : random.chance(0.5) ? Buffer.from(random.unicodeString(16)) : random.bytes(random.below(30)),
      value,
      timestamp: NOW_MS + random.below(1_000_000) - 500_000,
      ...randomHeaders(random),
    });
  }
  return records;
}

interface BatchFields {
  baseOffset: number;
  partitionLeaderEpoch: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  transactional: boolean;
}

function randomFields(random: TestRandom): BatchFields {
  const idempotent = random.chance(0.5);
  return {
    baseOffset: random.below(2 ** 31) * 1000,
    partitionLeaderEpoch: random.below(1000),
    producerId: idempotent ? random.below(2 ** 31) * 4 : -1,
    producerEpoch: idempotent ? random.below(32768) : -1,
    baseSequence: idempotent ? random.below(2 ** 31) : -1,
    transactional: idempotent && random.chance(0.5),
  };
}

async function kafkaEncode(records: TestRecord[], fields: BatchFields, codec: Codec): Promise<Buffer> {
  const baseTimestamp = records[0].timestamp;
  const encoded = await kafkaRecordBatch({
    compression: codec,
    firstOffset: Long.fromNumber(fields.baseOffset),
    firstTimestamp: baseTimestamp,
    maxTimestamp: Math.max(...records.map((r) => r.timestamp)),
    partitionLeaderEpoch: fields.partitionLeaderEpoch,
    lastOffsetDelta: records.length - 1,
    transactional: fields.transactional,
    producerId: Long.fromNumber(fields.producerId),
    producerEpoch: fields.producerEpoch,
    firstSequence: fields.baseSequence,
    records: records.map((r, i) =>
      kafkaRecord({ offsetDelta: i, timestampDelta: r.timestamp - baseTimestamp, key: r.key, value: r.value, headers: r.headerObject }),
    ),
  });
  return encoded.buffer as Buffer;
}

function brookEncode(records: TestRecord[], fields: BatchFields, codec: Codec): Buffer {
  return encodeBatch(
    records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headerList })),
    { ...fields, codec, nowMs: NOW_MS },
  );
}

describe('interoperability with KafkaJS', () => {
  const saved: Record<number, unknown> = {};

  before(() => {
    const codecs = kafkajs.CompressionCodecs;
    const types = kafkajs.CompressionTypes;
    for (const type of [types.Snappy, types.LZ4, types.ZSTD]) saved[type] = codecs[type];
    codecs[types.Snappy] = () => snappyPlugin;
    codecs[types.LZ4] = () => lz4Plugin;
    codecs[types.ZSTD] = () => zstdPlugin;
  });

  after(() => {
    for (const [type, codec] of Object.entries(saved)) kafkajs.CompressionCodecs[type] = codec;
  });

  for (const codec of ALL_CODECS) {
    it(`codec ${Codec[codec]}: KafkaJS encodes, Brook decodes`, async () => {
      const random = new TestRandom(7000 + codec);
      for (let round = 0; round < 6; round++) {
        const count = round === 5 ? 2000 : 1 + random.below(40);
        const records = randomRecords(random, count, round === 4);
        const fields = randomFields(random);
        const batch = await kafkaEncode(records, fields, codec);
        const { info, records: decoded, size } = decodeBatch(batch);
        assert.equal(size, batch.length);
        assert.equal(info.codec, codec);
        assert.equal(info.baseOffset, fields.baseOffset);
        assert.equal(info.partitionLeaderEpoch, fields.partitionLeaderEpoch);
        assert.equal(info.producerId, fields.producerId);
        assert.equal(info.producerEpoch, fields.producerEpoch);
        assert.equal(info.baseSequence, fields.baseSequence);
        assert.equal(info.transactional, fields.transactional);
        assert.equal(info.recordCount, count);
        assert.equal(decoded.length, count);
        for (let i = 0; i < count; i++) {
          assert.equal(decoded[i].offset, fields.baseOffset + i);
          assert.equal(decoded[i].timestamp, records[i].timestamp);
          assert.deepEqual(decoded[i].key, records[i].key);
          assert.deepEqual(decoded[i].value, records[i].value);
          assert.deepEqual(decoded[i].headers, records[i].headerList);
        }
        if (codec === Codec.None) {
          // Same inputs, two independent encoders: the bytes must be identical.
          assert.equal(brookEncode(records, fields, codec).toString('hex'), batch.toString('hex'));
        }
      }
    });

    it(`codec ${Codec[codec]}: Brook encodes, KafkaJS decodes`, async () => {
      const random = new TestRandom(9000 + codec);
      for (let round = 0; round < 6; round++) {
        const count = round === 5 ? 2000 : 1 + random.below(40);
        const records = randomRecords(random, count, round === 4);
        const fields = randomFields(random);
        const batch = brookEncode(records, fields, codec);
        const decoded = await kafkaBatchDecoder(new KafkaDecoder(batch));
        assert.equal(decoded.firstOffset, String(fields.baseOffset));
        assert.equal(decoded.partitionLeaderEpoch, fields.partitionLeaderEpoch);
        assert.equal(decoded.producerId, String(fields.producerId));
        assert.equal(decoded.producerEpoch, fields.producerEpoch);
        assert.equal(decoded.firstSequence, fields.baseSequence);
        assert.equal(decoded.inTransaction, fields.transactional);
        assert.equal(decoded.isControlBatch, false);
        assert.equal(decoded.lastOffsetDelta, count - 1);
        assert.equal(decoded.maxTimestamp, String(Math.max(...records.map((r) => r.timestamp))));
        assert.equal(decoded.records.length, count);
        for (let i = 0; i < count; i++) {
          const got = decoded.records[i];
          assert.equal(got.offset, String(fields.baseOffset + i));
          assert.equal(got.timestamp, String(records[i].timestamp));
          assert.deepEqual(got.key, records[i].key);
          assert.deepEqual(got.value, records[i].value);
          assert.deepEqual(got.headers, records[i].headerObject);
        }
      }
    });
  }

  it('control batches and LogAppendTime read the same in KafkaJS', async () => {
    const batch = encodeBatch([{ key: Buffer.from([0, 0, 0, 1]), value: null }], { nowMs: NOW_MS, control: true, transactional: true, producerId: 5, producerEpoch: 1, timestampType: 'log-append' });
    const decoded = await kafkaBatchDecoder(new KafkaDecoder(batch));
    assert.equal(decoded.isControlBatch, true);
    assert.equal(decoded.inTransaction, true);
    assert.equal(decoded.timestampType, 1);
    assert.equal(decoded.records[0].timestamp, String(NOW_MS));
  });
});
