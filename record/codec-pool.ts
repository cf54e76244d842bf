/**
 * Runs the heavy part of encoding and decoding batches (compression, decompression, and the CRC
 * in the same hop) on worker threads, and the light part inline:
 *
 * - encode: records are laid out inline into one fresh buffer (sizes and copies only), which is
 *   transferred to a worker that compresses it and computes the CRC, then transfers the batch back.
 * - decode: the header is checked inline; the compressed batch is copied once into a fresh buffer
 *   and transferred; the worker checks the CRC and decompresses under the limits and transfers the
 *   records back; records are then parsed inline as views into that buffer.
 *
 * A hop costs tens of microseconds, so work below a per-codec size threshold runs inline; the
 * defaults come from bench/record-pool.ts (see record/README.md for the curve). When the pool's
 * queue is full the work also runs inline, which slows the caller down instead of queueing more.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, Codec } from './batch-header.js';
import { type CodecTask, allocateOwned, runCodecTask, unwrapCodecResult } from './codec-task.js';
import { compress, decompress } from './codecs.js';
import { InvalidRecordError } from './errors.js';
import {
  type BatchInfo,
  type BatchOptions,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  type DecodedBatch,
  decodeRecordsRegion,
  encodePlainBatch,
  decodeBatch,
  readBatchInfo,
  sealBatch,
  validateBatch,
} from './record-batch.js';
import type { ProduceRecord } from './record.js';

export type CodecThresholds = Record<Codec, number>;

/** Never worth a hop: an uncompressed batch only needs its CRC, which runs at GB/s inline. */
const NEVER_BYTES = Number.MAX_SAFE_INTEGER;

/**
 * Uncompressed record bytes at or above which encoding (or compressing) goes to a worker, per
 * codec. Read off bench/record-pool.ts (curve in record/README.md): below these the hop (about
 * 0.1 ms of latency and of main-thread time on the 2-core test machine) costs as much as the
 * compression it would move; above them the main thread keeps most of its time. gzip compresses
 * at ~30 MB/s, so it pays early; snappy and lz4 run at hundreds of MB/s and pay only for big batches.
 */
export const DEFAULT_ENCODE_THRESHOLDS_BYTES: Readonly<CodecThresholds> = Object.freeze({
  [Codec.None]: NEVER_BYTES,
  [Codec.Gzip]: 32 * 1024,
  [Codec.Snappy]: 256 * 1024,
  [Codec.Lz4]: 256 * 1024,
  [Codec.Zstd]: 64 * 1024,
});

/**
 * Compressed batch bytes at or above which decoding (or decompressing) goes to a worker, per
 * codec. Decompression is much cheaper than compression, and building the record objects stays on
 * the main thread either way, so decoding pays for the hop only with larger batches.
 */
export const DEFAULT_DECODE_THRESHOLDS_BYTES: Readonly<CodecThresholds> = Object.freeze({
  [Codec.None]: NEVER_BYTES,
  [Codec.Gzip]: 64 * 1024,
  [Codec.Snappy]: 256 * 1024,
  [Codec.Lz4]: 256 * 1024,
  [Codec.Zstd]: 256 * 1024,
});

/** Tasks waiting for a worker beyond which new work runs inline instead. */
export const DEFAULT_MAX_QUEUED_TASKS = 256;
/** A worker with nothing to do exits after this long. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export interface CodecPoolOptions {
  /** Worker threads; default: cores - 1, at least 1. */
  threads?: number;
  encodeThresholdsBytes?: Partial<CodecThresholds>;
  decodeThresholdsBytes?: Partial<CodecThresholds>;
  maxQueuedTasks?: number;
  idleTimeoutMs?: number;
}

const WORKER_FILENAME = fileURLToPath(new URL('./codec-worker.js', import.meta.url));

/**
 * A pool of codec workers with inline fallback below the thresholds. Results are the same as the
 * synchronous functions of record-batch.ts and codecs.ts, byte for byte, and errors are the same
 * CorruptRecordError / InvalidRecordError.
 *
 * @example
 * const pool = new CodecPool();
 * const batch = await pool.encodeBatch(records, { codec: Codec.Zstd, nowMs });
 * const { records } = await pool.decodeBatch(batch);
 * await pool.close();
 */
export class CodecPool {
  readonly encodeThresholdsBytes: Readonly<CodecThresholds>;
  readonly decodeThresholdsBytes: Readonly<CodecThresholds>;
  private readonly maxQueuedTasks: number;
  private readonly piscina: Piscina;
  private closed = false;
  /** Operations run on a worker and inline since the pool started (for metrics and tests). */
  offloadedCount = 0;
  inlineCount = 0;

  constructor(options: CodecPoolOptions = {}) {
    const threads = options.threads ?? Math.max(1, availableParallelism() - 1);
    if (!Number.isInteger(threads) || threads < 1) throw new InvalidRecordError(`threads must be a positive integer, got ${threads}`);
    this.encodeThresholdsBytes = Object.freeze({ ...DEFAULT_ENCODE_THRESHOLDS_BYTES, ...options.encodeThresholdsBytes });
    this.decodeThresholdsBytes = Object.freeze({ ...DEFAULT_DECODE_THRESHOLDS_BYTES, ...options.decodeThresholdsBytes });
    this.maxQueuedTasks = options.maxQueuedTasks ?? DEFAULT_MAX_QUEUED_TASKS;
    this.piscina = new Piscina({
      filename: WORKER_FILENAME,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      // One task per worker at a time: codec work is CPU-bound.
      concurrentTasksPerWorker: 1,
    });
  }

  /** Tasks waiting for a worker. */
  get queuedTasks(): number {
    return this.piscina.queueSize;
  }

  private offload(size: number, threshold: number): boolean {
    if (this.closed) throw new InvalidRecordError('the codec pool is closed');
    const offload = size >= threshold && this.piscina.queueSize < this.maxQueuedTasks;
    if (offload) this.offloadedCount++;
    else this.inlineCount++;
    return offload;
  }

  private async run(task: CodecTask, transfer: ArrayBuffer): Promise<Buffer> {
    return unwrapCodecResult(await this.piscina.run(task, { transferList: [transfer] }));
  }

  /** encodeBatch, with compression and CRC on a worker for batches at or above the threshold. */
  async encodeBatch(records: readonly ProduceRecord[], opts: BatchOptions): Promise<Buffer> {
    const codec = opts.codec ?? Codec.None;
    if (codec === Codec.None) {
      // Nothing to compress: encodePlainBatch already set the CRC, and a hop would only add latency.
      this.offload(0, NEVER_BYTES);
      return encodePlainBatch(records, opts);
    }
    // A buffer of its own, so that it can be transferred to the worker rather than copied.
    const plain = encodePlainBatch(records, opts, allocateOwned);
    if (!this.offload(plain.length - BATCH_HEADER_BYTES, this.encodeThresholdsBytes[codec])) return sealBatch(plain);
    const plainArrayBuffer = plain.buffer as ArrayBuffer;
    assert.ok(plain.byteOffset === 0 && plain.byteLength === plainArrayBuffer.byteLength, 'a transferred batch must own its memory');
    return this.run({ op: 'seal', plain: plainArrayBuffer }, plainArrayBuffer);
  }

  /**
   * decodeBatch, with CRC check and decompression on a worker for batches at or above the
   * threshold. Keys and values are views into one buffer holding the decompressed records.
   */
  async decodeBatch(buf: Buffer, pos = 0, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<DecodedBatch> {
    const info = readBatchInfo(buf, pos);
    const size = info.batchLength + BATCH_LOG_OVERHEAD_BYTES;
    if (!this.offload(size, this.decodeThresholdsBytes[info.codec] ?? NEVER_BYTES)) return decodeBatch(buf, pos, limits);
    const copy = copyToOwned(buf.subarray(pos, pos + size));
    const data = await this.run({ op: 'open', batch: copy, limits: { ...limits } }, copy);
    const records = decodeRecordsRegion({ data, start: 0, end: data.length }, info, limits);
    return { info, records, size };
  }

  /**
   * validateBatch (header, CRC, decompression, every record's framing), on a worker at or above
   * the decode threshold. Only the compressed batch crosses to the worker; nothing comes back but
   * the verdict, so a broker can check produced batches without decompressing on its main thread.
   */
  async validateBatch(buf: Buffer, pos = 0, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<BatchInfo> {
    const info = readBatchInfo(buf, pos);
    const size = info.batchLength + BATCH_LOG_OVERHEAD_BYTES;
    if (!this.offload(size, this.decodeThresholdsBytes[info.codec] ?? NEVER_BYTES)) return validateBatch(buf, pos, limits);
    const copy = copyToOwned(buf.subarray(pos, pos + size));
    await this.run({ op: 'validate', batch: copy, limits: { ...limits } }, copy);
    return info;
  }

  /** compress(), on a worker at or above the encode threshold. `input` is copied, not detached. */
  async compress(codec: Codec, input: Buffer): Promise<Buffer> {
    if (!this.offload(input.length, this.encodeThresholdsBytes[codec] ?? NEVER_BYTES)) return compress(codec, input);
    const copy = copyToOwned(input);
    return this.run({ op: 'compress', codec, input: copy }, copy);
  }

  /** decompress(), on a worker at or above the decode threshold. `input` is copied, not detached. */
  async decompress(codec: Codec, input: Buffer, maxOutputBytes: number): Promise<Buffer> {
    if (!this.offload(input.length, this.decodeThresholdsBytes[codec] ?? NEVER_BYTES)) return decompress(codec, input, maxOutputBytes);
    const copy = copyToOwned(input);
    return this.run({ op: 'decompress', codec, input: copy, maxOutputBytes }, copy);
  }

  /** Runs a task inline, exactly as a worker would; for benchmarks and tests. */
  static runInline(task: CodecTask): Buffer {
    return unwrapCodecResult(runCodecTask(task));
  }

  /** Waits for queued work, then stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.close();
  }
}

function copyToOwned(input: Buffer): ArrayBuffer {
  const copy = allocateOwned(input.length);
  input.copy(copy);
  return copy.buffer as ArrayBuffer;
}
