/**
 * Walks the batch headers of a segment file from a position, reading in chunks through the
 * shared handle cache, and reports where the valid batches end. Only headers are parsed; with
 * `checkCrc` each batch's CRC is verified too (recovery), which needs the whole batch in memory.
 */
import {
  BATCH_HEADER_BYTES,
  baseOffsetNumberAt,
  batchSizeAt,
  checkBatchAt,
  lastOffsetDeltaAt,
  type BatchHeaderError,
} from '../../record/batch-header.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { MAX_BATCH_BYTES_LIMIT } from './log-config.js';

/** Bytes read per I/O while scanning; batches larger than this are read whole on their own. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

export type ScanStop = BatchHeaderError | 'bad-offset' | 'visitor';

export interface ScanResult {
  /** Position just past the last valid batch visited. */
  readonly endPosition: number;
  /** The offset after the last valid batch, or the expected first offset when none was valid. */
  readonly nextOffset: number;
  /** Why the scan stopped before `endBytes`, or null when it reached it. */
  readonly stop: ScanStop | null;
}

/**
 * Called for each valid batch: `buffer` holds the batch's header at `bufferPosition` (the whole
 * batch only when checkCrc); `filePosition` is its place in the file. Return false to stop.
 */
export type BatchVisitor = (buffer: Buffer, bufferPosition: number, filePosition: number, size: number) => boolean;

export interface ScanOptions {
  readonly path: string;
  readonly files: FileHandleCache;
  readonly fromPosition: number;
  readonly endPosition: number;
  readonly checkCrc: boolean;
  /** The first batch's baseOffset must be at least this; each following one exactly continues. */
  readonly firstOffsetMin: number;
  /** The first batch's baseOffset must equal firstOffsetMin exactly (it was indexed there). */
  readonly firstOffsetExact: boolean;
  /**
   * Largest batchLength believed; a larger one is garbage and is not read into memory. Use a hard
   * limit, not the configured maxBatchBytes: lowering that setting must not truncate old data.
   */
  readonly batchBytesMax: number;
}

export async function scanBatches(options: ScanOptions, visit: BatchVisitor): Promise<ScanResult> {
  const { path, files, endPosition, checkCrc } = options;
  let position = options.fromPosition;
  let expectedOffset = options.firstOffsetMin;
  let exact = options.firstOffsetExact;
  let chunk: Buffer = Buffer.alloc(0);
  let chunkPosition = position;
  while (position < endPosition) {
    let at = position - chunkPosition;
    if (at < 0 || at + BATCH_HEADER_BYTES > chunk.length) {
      chunk = await files.readBytes(path, position, Math.min(SCAN_CHUNK_BYTES, endPosition - position));
      chunkPosition = position;
      at = 0;
    }
    if (chunk.length - at < BATCH_HEADER_BYTES) return { endPosition: position, nextOffset: expectedOffset, stop: 'truncated' };
    const size = batchSizeAt(chunk, at);
    if (size < BATCH_HEADER_BYTES || size > options.batchBytesMax) {
      return { endPosition: position, nextOffset: expectedOffset, stop: 'bad-length' };
    }
    if (size > endPosition - position) return { endPosition: position, nextOffset: expectedOffset, stop: 'truncated' };
    if (checkCrc && at + size > chunk.length) {
      chunk = await files.readBytes(path, position, Math.max(size, Math.min(SCAN_CHUNK_BYTES, endPosition - position)));
      chunkPosition = position;
      at = 0;
    }
    // Without the CRC only header fields are read, and the size was checked against the file end.
    const checkEnd = checkCrc ? at + size : Number.MAX_SAFE_INTEGER;
    const error = checkBatchAt(chunk, at, checkEnd, checkCrc);
    if (error !== null) return { endPosition: position, nextOffset: expectedOffset, stop: error };
    const baseOffset = baseOffsetNumberAt(chunk, at);
    if (exact ? baseOffset !== expectedOffset : baseOffset < expectedOffset) {
      return { endPosition: position, nextOffset: expectedOffset, stop: 'bad-offset' };
    }
    if (!visit(chunk, at, position, size)) return { endPosition: position, nextOffset: expectedOffset, stop: 'visitor' };
    expectedOffset = baseOffset + lastOffsetDeltaAt(chunk, at) + 1;
    exact = true;
    position += size;
  }
  return { endPosition: position, nextOffset: expectedOffset, stop: null };
}

/**
 * Walks the batch headers of a segment from `fromPosition` to `endPosition` without checking CRCs
 * or offset continuity, only the hard batch size limit: for lookups (by timestamp, batch
 * boundaries, the largest timestamp, leader epochs) over data the log already trusts. A scan
 * still stops at the first header that is not valid.
 */
export function scanValidatedBatches(
  path: string,
  files: FileHandleCache,
  fromPosition: number,
  endPosition: number,
  visit: BatchVisitor,
): Promise<ScanResult> {
  return scanBatches(
    {
      path,
      files,
      fromPosition,
      endPosition,
      checkCrc: false,
      firstOffsetMin: 0,
      firstOffsetExact: false,
      batchBytesMax: MAX_BATCH_BYTES_LIMIT,
    },
    visit,
  );
}
