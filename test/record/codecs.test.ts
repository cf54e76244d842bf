import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import lz4 from 'lz4-napi';
import snappy from 'snappy';
import zstd from 'zstd-napi';
import { Codec, codecFromName, codecName, compress, decompress } from '../../record/codecs.js';
import { CorruptRecordError, InvalidRecordError } from '../../record/errors.js';
import { TestRandom } from '../fixtures/test-random.js';

const COMPRESSED_CODECS = [Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd];

function assertCorrupt(action: () => unknown, reason?: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof CorruptRecordError, `expected CorruptRecordError, got ${String(error)}`);
    if (reason !== undefined) assert.equal(error.reason, reason, error.message);
    return true;
  });
}

/** Snappy in the xerial framing Kafka's Java producer writes: a 16-byte header, then sized chunks. */
function xerialFrame(data: Buffer, chunkBytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (let pos = 0; pos < data.length; pos += chunkBytes) {
    const block = snappy.compressSync(data.subarray(pos, pos + chunkBytes));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

describe('codecs', () => {
  const random = new TestRandom(42);
  const samples = [Buffer.alloc(0), Buffer.from('x'), random.bytes(1000), random.compressibleBytes(300_000)];

  for (const codec of COMPRESSED_CODECS) {
    it(`${codecName(codec)}: round trips and the output limit is exact`, () => {
      for (const sample of samples) {
        const compressed = compress(codec, sample);
        assert.deepEqual(decompress(codec, compressed, sample.length), sample);
        if (sample.length > 0) assertCorrupt(() => decompress(codec, compressed, sample.length - 1), 'decompressed-too-large');
      }
    });

    it(`${codecName(codec)}: garbage and truncation are corrupt`, () => {
      const compressed = compress(codec, samples[3]);
      for (const length of [0, 1, 5, 17, compressed.length >> 1, compressed.length - 1]) {
        assertCorrupt(() => decompress(codec, compressed.subarray(0, length), 1 << 20));
      }
      assertCorrupt(() => decompress(codec, random.bytes(500), 1 << 20));
    });
  }

  it('snappy: reads the xerial framing, with its limit applied across chunks', () => {
    const data = random.compressibleBytes(100_000);
    const framed = xerialFrame(data, 32 * 1024);
    assert.deepEqual(decompress(Codec.Snappy, framed, data.length), data);
    assertCorrupt(() => decompress(Codec.Snappy, framed, data.length - 1), 'decompressed-too-large');
    const lying = Buffer.from(framed);
    lying.writeInt32BE(0x7fffffff, 16);
    assertCorrupt(() => decompress(Codec.Snappy, lying, 1 << 20), 'bad-compression');
  });

  it('snappy: a raw block declaring 4 GiB is refused before any allocation', () => {
    const bomb = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    assertCorrupt(() => decompress(Codec.Snappy, bomb, 1 << 20), 'decompressed-too-large');
  });

  it('lz4: frames with checksums and with coarse blocks decode under an exact limit', () => {
    const data = random.compressibleBytes(1 << 20);
    const checked = lz4.compressFrameSync(data, { contentChecksum: true, blockChecksums: true });
    assert.deepEqual(decompress(Codec.Lz4, checked, data.length), data);
    // 4 MiB blocks: the frame's bound (4 MiB) passes a 1 MiB limit, so decoding goes block by block.
    const plain = lz4.compressFrameSync(data);
    assert.equal((plain[5] >> 4) & 7, 7);
    assert.deepEqual(decompress(Codec.Lz4, plain, data.length), data);
    assertCorrupt(() => decompress(Codec.Lz4, plain, data.length - 1), 'decompressed-too-large');
    const trailing = Buffer.concat([plain, Buffer.from([1, 2, 3])]);
    assertCorrupt(() => decompress(Codec.Lz4, trailing, 1 << 22), 'bad-compression');
  });

  it('zstd: frames without a declared size stream under the limit', async () => {
    const data = random.compressibleBytes(600_000);
    const stream = new zstd.CompressStream();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const done = new Promise((resolve) => stream.on('end', resolve));
    stream.end(data);
    await done;
    const unsized = Buffer.concat(chunks);
    assert.deepEqual(decompress(Codec.Zstd, unsized, data.length), data);
    assertCorrupt(() => decompress(Codec.Zstd, unsized, data.length - 1), 'decompressed-too-large');
    assertCorrupt(() => decompress(Codec.Zstd, unsized.subarray(0, unsized.length - 10), data.length));
    // Two frames back to back are one stream of bytes, as Kafka's reader treats them.
    const two = Buffer.concat([compress(Codec.Zstd, data.subarray(0, 1000)), compress(Codec.Zstd, data.subarray(1000, 2000))]);
    assert.deepEqual(decompress(Codec.Zstd, two, 2000), data.subarray(0, 2000));
  });

  it('zstd: a frame declaring 1 TiB is refused before any allocation', () => {
    // Magic, then a descriptor with an 8-byte content size and a single segment, then the size.
    const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0]);
    const before = process.memoryUsage().arrayBuffers;
    assertCorrupt(() => decompress(Codec.Zstd, header, 1 << 20), 'decompressed-too-large');
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
  });

  it('gzip: a small bomb is stopped at the limit', () => {
    const bomb = gzipSync(Buffer.alloc(50 << 20));
    assert.ok(bomb.length < 100_000);
    assertCorrupt(() => decompress(Codec.Gzip, bomb, 1 << 20), 'decompressed-too-large');
  });

  it('names and unknown codecs', () => {
    assert.equal(codecFromName('zstd'), Codec.Zstd);
    assert.equal(codecName(Codec.Lz4), 'lz4');
    assert.throws(() => codecFromName('brotli'), InvalidRecordError);
    assert.throws(() => compress(7 as Codec, Buffer.from('x')), InvalidRecordError);
    assert.throws(() => decompress(5 as Codec, Buffer.from('x'), 10), InvalidRecordError);
    assert.throws(() => decompress(Codec.Gzip, Buffer.from('x'), -1), InvalidRecordError);
  });
});
