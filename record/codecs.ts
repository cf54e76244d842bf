/**
 * The batch compression codecs, byte-compatible with Kafka's:
 *
 * - gzip: an RFC 1952 stream (node:zlib).
 * - snappy: written as one raw snappy block (as librdkafka and KafkaJS write it; Kafka's reader
 *   accepts it); read both raw and in the xerial framing that Kafka's Java producer writes.
 * - lz4: the LZ4 *frame* format with independent blocks (what Kafka reads and writes since magic 1).
 * - zstd: standard zstd frames.
 *
 * Every decompressor is bounded by `maxOutputBytes` before it allocates: a declared size is checked
 * against the limit first, and where no size is declared the output is produced in bounded steps.
 * Errors of the underlying libraries become CorruptRecordError; nothing else escapes on bad input.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import lz4 from 'lz4-napi';
import snappy from 'snappy';
import zstd from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { Codec } from './batch-header.js';
import { CorruptRecordError, InvalidRecordError, isRecordFormatError } from './errors.js';

export { Codec };

/** Largest zstd window the decoder accepts (2^24 = 16 MiB), bounding its own working memory. */
export const ZSTD_WINDOW_LOG_MAX = 24;
/** First output step of a zstd frame that does not declare its size. */
const ZSTD_STREAM_STEP_BYTES = 256 * 1024;

const CODEC_NAMES: Record<Codec, string> = {
  [Codec.None]: 'none',
  [Codec.Gzip]: 'gzip',
  [Codec.Snappy]: 'snappy',
  [Codec.Lz4]: 'lz4',
  [Codec.Zstd]: 'zstd',
};

/** The codec's name as Kafka spells it in `compression.type`. */
export function codecName(codec: Codec): string {
  return CODEC_NAMES[codec] ?? `unknown(${codec})`;
}

/** Parses a `compression.type` name; throws InvalidRecordError for an unknown one. */
export function codecFromName(name: string): Codec {
  for (const [id, codecString] of Object.entries(CODEC_NAMES)) {
    if (codecString === name) return Number(id) as Codec;
  }
  throw new InvalidRecordError(`unknown compression codec '${name}'`);
}

export function isKnownCodec(codec: number): codec is Codec {
  return codec >= Codec.None && codec <= Codec.Zstd && Number.isInteger(codec);
}

let zstdCompressor: zstd.Compressor | undefined;
let zstdContext: zstdBinding.DCtx | undefined;

/** Compresses `input` with `codec`. Codec.None returns `input` itself. */
export function compress(codec: Codec, input: Buffer): Buffer {
  switch (codec) {
    case Codec.None:
      return input;
    case Codec.Gzip:
      return gzipSync(input);
    case Codec.Snappy:
      return snappy.compressSync(input, { copyOutputData: true });
    case Codec.Lz4:
      return lz4.compressFrameSync(input);
    case Codec.Zstd:
      zstdCompressor ??= new zstd.Compressor();
      return zstdCompressor.compress(input);
    default:
      throw new InvalidRecordError(`unknown compression codec ${codec as number}`);
  }
}

/**
 * Decompresses `input`, producing at most `maxOutputBytes`; more is a CorruptRecordError
 * ('decompressed-too-large'), as is any malformed input.
 */
export function decompress(codec: Codec, input: Buffer, maxOutputBytes: number): Buffer {
  if (!(Number.isSafeInteger(maxOutputBytes) && maxOutputBytes >= 0)) {
    throw new InvalidRecordError(`maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`);
  }
  switch (codec) {
    case Codec.None:
      if (input.length > maxOutputBytes) throw tooLarge(input.length, maxOutputBytes);
      return input;
    case Codec.Gzip:
      return gunzipBounded(input, maxOutputBytes);
    case Codec.Snappy:
      return snappyDecompressBounded(input, maxOutputBytes);
    case Codec.Lz4:
      return lz4DecompressBounded(input, maxOutputBytes);
    case Codec.Zstd:
      return zstdDecompressBounded(input, maxOutputBytes);
    default:
      throw new InvalidRecordError(`unknown compression codec ${codec as number}`);
  }
}

function tooLarge(size: number, maxOutputBytes: number): CorruptRecordError {
  return new CorruptRecordError('decompressed-too-large', `${size} bytes exceed the limit of ${maxOutputBytes}`);
}

/** Runs a native decoder call and turns its failures (plain Errors) into CorruptRecordError. */
function nativeCall<T>(codecLabel: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (isRecordFormatError(error)) throw error;
    throw new CorruptRecordError('bad-compression', `${codecLabel}: ${(error as Error)?.message ?? String(error)}`);
  }
}

function gunzipBounded(input: Buffer, maxOutputBytes: number): Buffer {
  try {
    // zlib stops and throws ERR_BUFFER_TOO_LARGE once the output would pass maxOutputLength.
    // zlib needs a limit of at least 1, hence the second check for a limit of 0.
    const output = gunzipSync(input, { maxOutputLength: Math.max(1, maxOutputBytes) });
    if (output.length > maxOutputBytes) throw tooLarge(output.length, maxOutputBytes);
    return output;
  } catch (error) {
    if (isRecordFormatError(error)) throw error;
    if ((error as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CorruptRecordError('decompressed-too-large', `gzip output exceeds the limit of ${maxOutputBytes}`);
    }
    throw new CorruptRecordError('bad-compression', `gzip: ${(error as Error)?.message ?? String(error)}`);
  }
}

// ---- snappy ----------------------------------------------------------------------------------

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic (8) + version int32 + compatible version int32. */
const XERIAL_HEADER_BYTES = 16;

function isXerialFramed(input: Buffer): boolean {
  return input.length >= XERIAL_HEADER_BYTES && input.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0;
}

/** The uncompressed length a raw snappy block declares in its leading varint (unsigned, <= 2^32). */
function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  let scale = 1;
  for (let index = 0; index < 5; index++) {
    if (index >= block.length) throw new CorruptRecordError('bad-compression', 'snappy: truncated length');
    const byte = block[index];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  throw new CorruptRecordError('bad-compression', 'snappy: length varint too long');
}

function snappyBlock(block: Buffer, declaredLength: number): Buffer {
  const output = nativeCall('snappy', () => snappy.uncompressSync(block, { asBuffer: true, copyOutputData: true })) as Buffer;
  if (output.length !== declaredLength) {
    throw new CorruptRecordError('bad-compression', `snappy: produced ${output.length} bytes, declared ${declaredLength}`);
  }
  return output;
}

function snappyDecompressBounded(input: Buffer, maxOutputBytes: number): Buffer {
  if (!isXerialFramed(input)) {
    const declared = snappyDeclaredLength(input);
    if (declared > maxOutputBytes) throw tooLarge(declared, maxOutputBytes);
    return snappyBlock(input, declared);
  }
  // First pass: check every chunk's framing and sum the declared sizes, allocating nothing.
  let total = 0;
  let chunks = 0;
  for (let pos = XERIAL_HEADER_BYTES; pos < input.length; ) {
    if (input.length - pos < 4) throw new CorruptRecordError('bad-compression', 'snappy: truncated chunk length');
    const chunkBytes = input.readInt32BE(pos);
    pos += 4;
    if (chunkBytes < 0 || chunkBytes > input.length - pos) {
      throw new CorruptRecordError('bad-compression', `snappy: chunk length ${chunkBytes} does not fit`);
    }
    total += snappyDeclaredLength(input.subarray(pos, pos + chunkBytes));
    if (total > maxOutputBytes) throw tooLarge(total, maxOutputBytes);
    pos += chunkBytes;
    chunks++;
  }
  const output = Buffer.allocUnsafe(total);
  let written = 0;
  for (let pos = XERIAL_HEADER_BYTES, chunk = 0; chunk < chunks; chunk++) {
    const chunkBytes = input.readInt32BE(pos);
    pos += 4;
    const block = input.subarray(pos, pos + chunkBytes);
    const part = snappyBlock(block, snappyDeclaredLength(block));
    part.copy(output, written);
    written += part.length;
    pos += chunkBytes;
  }
  return output;
}

// ---- lz4 frame -------------------------------------------------------------------------------

const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_FLAG_VERSION_MASK = 0xc0;
const LZ4_FLAG_VERSION_1 = 0x40;
const LZ4_FLAG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLAG_CONTENT_SIZE = 0x08;
const LZ4_FLAG_CONTENT_CHECKSUM = 0x04;
const LZ4_FLAG_RESERVED = 0x02;
const LZ4_FLAG_DICTIONARY_ID = 0x01;
const LZ4_BLOCK_UNCOMPRESSED = 0x80000000;

interface Lz4Frame {
  /** Bound on the output: exact for uncompressed blocks, the block maximum for compressed ones. */
  outputBound: number;
  blockBytesMax: number;
  blocksStart: number;
  blockChecksumBytes: number;
}

/**
 * Walks the frame's block headers (no decompression): checks the whole frame is present, that no
 * block passes the frame's block maximum and that nothing follows the frame, and bounds the output.
 */
function readLz4Frame(input: Buffer): Lz4Frame {
  const fail = (detail: string): never => {
    throw new CorruptRecordError('bad-compression', `lz4: ${detail}`);
  };
  if (input.length < 7) fail('truncated frame header');
  if (input.readUInt32LE(0) !== LZ4_FRAME_MAGIC) fail('not an lz4 frame');
  const flags = input[4];
  const blockDescriptor = input[5];
  if ((flags & LZ4_FLAG_VERSION_MASK) !== LZ4_FLAG_VERSION_1 || (flags & LZ4_FLAG_RESERVED) !== 0) fail('bad frame flags');
  if ((flags & LZ4_FLAG_DICTIONARY_ID) !== 0) fail('dictionaries are not supported');
  const blockSizeId = (blockDescriptor >> 4) & 0x07;
  if ((blockDescriptor & 0x8f) !== 0 || blockSizeId < 4) fail('bad block descriptor');
  const blockBytesMax = 1 << (8 + 2 * blockSizeId);
  const blocksStart = 6 + ((flags & LZ4_FLAG_CONTENT_SIZE) !== 0 ? 8 : 0) + 1;
  const blockChecksumBytes = (flags & LZ4_FLAG_BLOCK_CHECKSUM) !== 0 ? 4 : 0;
  let pos = blocksStart;
  let outputBound = 0;
  for (;;) {
    if (input.length - pos < 4) fail('truncated block header');
    const word = input.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const blockBytes = word & ~LZ4_BLOCK_UNCOMPRESSED;
    if (blockBytes > blockBytesMax) fail(`block of ${blockBytes} bytes exceeds the frame maximum`);
    if (input.length - pos < blockBytes + blockChecksumBytes) fail('truncated block');
    pos += blockBytes + blockChecksumBytes;
    outputBound += (word & LZ4_BLOCK_UNCOMPRESSED) !== 0 ? blockBytes : blockBytesMax;
  }
  if ((flags & LZ4_FLAG_CONTENT_CHECKSUM) !== 0) pos += 4;
  if (pos !== input.length) fail(pos > input.length ? 'truncated content checksum' : 'bytes after the frame');
  return { outputBound, blockBytesMax, blocksStart, blockChecksumBytes };
}

/** LZ4 looks back at most this far, so a linked block needs only this much of earlier output. */
const LZ4_WINDOW_BYTES = 64 * 1024;

/**
 * Whole-frame decompression in native code when the frame's bound is within the limit (the usual
 * case). Otherwise — a compressor may use 4 MiB blocks for 1 MiB of data — block by block, each
 * allowed only the output the limit has left, so the limit holds exactly.
 */
function lz4DecompressBounded(input: Buffer, maxOutputBytes: number): Buffer {
  const frame = readLz4Frame(input);
  if (frame.outputBound <= maxOutputBytes) {
    const output = nativeCall('lz4', () => lz4.decompressFrameSync(input));
    if (output.length > maxOutputBytes) throw tooLarge(output.length, maxOutputBytes);
    return output;
  }
  const parts: Buffer[] = [];
  let produced = 0;
  let previous: Buffer | null = null;
  for (let pos = frame.blocksStart; ; ) {
    const word = input.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const blockBytes = word & ~LZ4_BLOCK_UNCOMPRESSED;
    const block = input.subarray(pos, pos + blockBytes);
    pos += blockBytes + frame.blockChecksumBytes;
    const allowed = Math.min(frame.blockBytesMax, maxOutputBytes - produced);
    let part: Buffer;
    if ((word & LZ4_BLOCK_UNCOMPRESSED) !== 0) {
      if (blockBytes > allowed) throw tooLarge(produced + blockBytes, maxOutputBytes);
      part = block;
    } else {
      part = lz4Block(block, allowed, previous, allowed < frame.blockBytesMax ? maxOutputBytes : -1);
    }
    parts.push(part);
    produced += part.length;
    previous = part.length >= LZ4_WINDOW_BYTES || previous === null ? part : Buffer.concat([previous, part]).subarray(-LZ4_WINDOW_BYTES);
  }
  return Buffer.concat(parts, produced);
}

/** One compressed block, producing at most `allowed` bytes; earlier output serves as dictionary. */
function lz4Block(block: Buffer, allowed: number, previous: Buffer | null, limitForError: number): Buffer {
  // The native block decoder takes its output size as a 4-byte little-endian prefix.
  const prefixed = Buffer.allocUnsafe(4 + block.length);
  prefixed.writeUInt32LE(allowed, 0);
  block.copy(prefixed, 4);
  try {
    return previous === null ? lz4.uncompressSync(prefixed) : lz4.uncompressSync(prefixed, previous.subarray(-LZ4_WINDOW_BYTES));
  } catch (error) {
    if (limitForError >= 0) throw tooLarge(limitForError + 1, limitForError);
    throw new CorruptRecordError('bad-compression', `lz4: ${(error as Error)?.message ?? String(error)}`);
  }
}

// ---- zstd ------------------------------------------------------------------------------------

function zstdDecompressBounded(input: Buffer, maxOutputBytes: number): Buffer {
  return nativeCall('zstd', () => {
    if (zstdContext === undefined) {
      zstdContext = new zstdBinding.DCtx();
      zstdContext.setParameter(zstdBinding.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
    }
    const context = zstdContext;
    // A previous call may have failed mid-frame; start clean.
    context.reset(zstdBinding.ResetDirective.sessionOnly);
    if (input.length === 0) throw new CorruptRecordError('bad-compression', 'zstd: empty input');
    const declared = zstdDeclaredSize(input, maxOutputBytes);
    if (declared !== null) {
      const output = Buffer.allocUnsafe(declared);
      const produced = context.decompress(output, input);
      if (produced !== declared) throw new CorruptRecordError('bad-compression', `zstd: produced ${produced} of ${declared} declared bytes`);
      return output;
    }
    return zstdStream(context, input, maxOutputBytes);
  });
}

/** Sum of the frames' declared sizes, or null if any frame does not declare one. */
function zstdDeclaredSize(input: Buffer, maxOutputBytes: number): number | null {
  let total = 0;
  for (let pos = 0; pos < input.length; ) {
    const frame = input.subarray(pos);
    const size = zstdBinding.getFrameContentSize(frame);
    if (size === null) return null;
    total += size;
    if (total > maxOutputBytes) throw tooLarge(total, maxOutputBytes);
    const frameBytes = zstdBinding.findFrameCompressedSize(frame);
    if (!(frameBytes > 0)) throw new CorruptRecordError('bad-compression', 'zstd: empty frame');
    pos += frameBytes;
  }
  return total;
}

/** Streams frames without a declared size into a buffer grown geometrically up to the limit. */
function zstdStream(context: zstdBinding.DCtx, input: Buffer, maxOutputBytes: number): Buffer {
  let output = Buffer.allocUnsafe(Math.min(maxOutputBytes, Math.max(ZSTD_STREAM_STEP_BYTES, input.length * 4)));
  let produced = 0;
  let consumed = 0;
  for (;;) {
    if (produced === output.length) {
      if (output.length >= maxOutputBytes) {
        // Full at the limit: any further byte means the data is larger than allowed.
        const [, probeProduced] = context.decompressStream(Buffer.allocUnsafe(1), input.subarray(consumed));
        if (probeProduced > 0) throw tooLarge(maxOutputBytes + 1, maxOutputBytes);
        throw new CorruptRecordError('bad-compression', 'zstd: truncated frame');
      }
      const grown = Buffer.allocUnsafe(Math.min(maxOutputBytes, output.length * 2));
      output.copy(grown, 0, 0, produced);
      output = grown;
    }
    const [remainingHint, producedNow, consumedNow] = context.decompressStream(output.subarray(produced), input.subarray(consumed));
    produced += producedNow;
    consumed += consumedNow;
    if (remainingHint === 0 && consumed === input.length) return output.subarray(0, produced);
    if (producedNow === 0 && consumedNow === 0 && produced < output.length) {
      throw new CorruptRecordError('bad-compression', 'zstd: truncated frame');
    }
  }
}
