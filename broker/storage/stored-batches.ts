/**
 * Checks batches read back from a segment file before anything is served from them. Appends are
 * CRC-checked on the way in; this catches what happened to the bytes afterwards on the disk. The
 * CRC32C runs at memory speed (SIMD), a small cost next to the read itself.
 */
import { baseOffsetNumberAt, batchSizeAt, checkBatchAt } from '../../record/batch-header.js';
import { CorruptLogError } from './storage-errors.js';

/**
 * Throws CorruptLogError for the first batch of `batches` (whole batches as read from `path`
 * starting at byte `filePosition`) whose framing or CRC is wrong.
 */
export function verifyStoredBatches(batches: Buffer, path: string, filePosition: number): void {
  for (let at = 0; at < batches.length; ) {
    const problem = checkBatchAt(batches, at, batches.length, true);
    if (problem !== null) throw new CorruptLogError(path, baseOffsetNumberAt(batches, at), filePosition + at, problem);
    at += batchSizeAt(batches, at);
  }
}
