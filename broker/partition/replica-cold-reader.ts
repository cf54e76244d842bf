/**
 * Synchronous reads of whole batches from a log's segment files, for the entries Raft asks for
 * that the log's tail cache no longer holds (a follower far behind the leader).
 *
 * Why synchronous: Raft's LogStorage is synchronous and the core has no notion of "not available
 * yet" (it asserts that the storage answers), so the replica cannot defer an Append to a lagging
 * follower until an asynchronous read completes. A bounded blocking read is the honest answer:
 * one read serves at most COLD_READ_BYTES_MAX plus the walk from the nearest index entry, which
 * is at most INDEX_WRITE_LAG_BYTES for the active segment and one index interval elsewhere. The
 * event loop stalls for the duration of those reads (page-cache hits: well under a millisecond
 * per MiB; a cold disk: one seek per read). Raft asks for at most maxMessageBytes per Append and
 * keeps at most maxInflightMessages in flight per follower, so a catching-up follower costs a
 * bounded number of such reads per round trip.
 *
 * It reads the files the log documents (broker/storage/README.md): `<base>.log` frames and the
 * sparse `<base>.index` (8-byte entries: relative offset int32, position int32). Index files may
 * trail the log (the walk from an earlier entry still finds the batch, following batch lengths)
 * or be read while being rewritten: a position that does not walk like batches (bad magic or
 * length, offsets not increasing, or past the wanted offset) makes the read walk from the
 * segment's start instead (the whole segment at worst; never seen outside such a race).
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BATCH_HEADER_BYTES, MAGIC_V2, OFFSET_MAGIC, baseOffsetNumberAt, batchSizeAt, checkBatchAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { ColdReadError } from './replica-errors.js';
import { INDEX_SUFFIX, INDEX_WRITE_LAG_BYTES, LOG_SUFFIX, parseSegmentFileName, segmentFileName } from '../storage/log-segment.js';
import { verifyStoredBatches } from '../storage/stored-batches.js';

/** Bytes of batches one cold read returns at most (one batch always, whatever its size). */
export const COLD_READ_BYTES_MAX = 4 * 1024 * 1024;
/** Bytes of headers a read may walk past to reach the wanted batch: the index's worst lag plus slack. */
export const COLD_WALK_BYTES_MAX = INDEX_WRITE_LAG_BYTES + 1024 * 1024;
const INDEX_ENTRY_BYTES = 8;
/** Bytes read per step of the header walk. */
const WALK_WINDOW_BYTES = 64 * 1024;

/**
 * Whole batches from the one containing `offset`, up to `maxBytes` (at least one batch), that end
 * before `limitExclusive`, from a single segment. Throws when the segment does not hold `offset`
 * (the caller checked it is inside the log) or when the bytes are not batches.
 */
export function readBatchesSync(dir: string, offset: number, maxBytes: number, limitExclusive: number): Buffer {
  const base = floorSegmentBase(dir, offset);
  const path = join(dir, segmentFileName(base, LOG_SUFFIX));
  const fd = openSync(path, 'r');
  try {
    const fileBytes = fstatSync(fd).size;
    const indexed = indexedPosition(dir, base, offset);
    // The fallback walks the whole segment: slow, but only for an index read mid-rewrite.
    const start = walkToBatch(fd, fileBytes, offset, indexed, COLD_WALK_BYTES_MAX) ?? walkToBatch(fd, fileBytes, offset, 0, fileBytes);
    if (start === undefined) throw new ColdReadError(dir, `offset ${offset} not found in segment ${base}`);
    const batches = readWholeBatches(fd, fileBytes, start, Math.min(maxBytes, COLD_READ_BYTES_MAX), limitExclusive);
    if (batches === undefined) throw new ColdReadError(dir, `no whole batch at position ${start} of segment ${base}`);
    // What goes to a follower must be what was written (CorruptLogError: the replica repairs).
    verifyStoredBatches(batches, path, start);
    return batches;
  } finally {
    closeSync(fd);
  }
}

function floorSegmentBase(dir: string, offset: number): number {
  let found = -1;
  for (const name of readdirSync(dir)) {
    const base = parseSegmentFileName(name, LOG_SUFFIX);
    if (base !== undefined && base <= offset && base > found) found = base;
  }
  if (found < 0) throw new ColdReadError(dir, `no segment holds offset ${offset}`);
  return found;
}

/** The position of the last index entry at or before `offset`, or 0 (no usable index). */
function indexedPosition(dir: string, base: number, offset: number): number {
  let fd: number;
  try {
    fd = openSync(join(dir, segmentFileName(base, INDEX_SUFFIX)), 'r');
  } catch {
    return 0;
  }
  try {
    const entries = Math.floor(fstatSync(fd).size / INDEX_ENTRY_BYTES);
    const entry = Buffer.alloc(INDEX_ENTRY_BYTES);
    let low = 0;
    let high = entries - 1;
    let position = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (readSync(fd, entry, 0, INDEX_ENTRY_BYTES, middle * INDEX_ENTRY_BYTES) !== INDEX_ENTRY_BYTES) break;
      if (base + entry.readInt32BE(0) <= offset) {
        position = entry.readInt32BE(4);
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return position;
  } finally {
    closeSync(fd);
  }
}

/**
 * From a batch start at or before the wanted batch, the position of the batch holding `offset`,
 * or undefined when the bytes from `from` do not walk like batches to it (an index entry read
 * while being rewritten, or stale): the caller then walks from the segment's start.
 */
function walkToBatch(fd: number, fileBytes: number, offset: number, from: number, walkBytesMax: number): number | undefined {
  const window = Buffer.allocUnsafe(WALK_WINDOW_BYTES);
  let position = from;
  let previousBase = -1;
  while (position - from <= walkBytesMax) {
    const got = readSync(fd, window, 0, Math.min(WALK_WINDOW_BYTES, fileBytes - position), position);
    if (got < BATCH_HEADER_BYTES) return undefined;
    let at = 0;
    while (at + BATCH_HEADER_BYTES <= got) {
      const size = batchSizeAt(window, at);
      const base = baseOffsetNumberAt(window, at);
      if (size < BATCH_HEADER_BYTES || window[at + OFFSET_MAGIC] !== MAGIC_V2 || base <= previousBase || (previousBase < 0 && base > offset)) return undefined;
      if (base + lastOffsetDeltaAt(window, at) >= offset) return position + at;
      previousBase = base;
      at += size;
    }
    position += at;
  }
  return undefined;
}

/** Whole valid batches from `start`, or undefined when not even one is there. */
function readWholeBatches(fd: number, fileBytes: number, start: number, maxBytes: number, limitExclusive: number): Buffer | undefined {
  const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
  if (readSync(fd, header, 0, BATCH_HEADER_BYTES, start) !== BATCH_HEADER_BYTES) return undefined;
  const firstBytes = batchSizeAt(header, 0);
  const wanted = Math.min(Math.max(firstBytes, maxBytes), fileBytes - start);
  const data = Buffer.allocUnsafe(wanted);
  const got = readSync(fd, data, 0, wanted, start);
  let end = 0;
  while (end + BATCH_HEADER_BYTES <= got) {
    const size = batchSizeAt(data, end);
    if (end + size > got || (end > 0 && end + size > maxBytes)) break;
    if (baseOffsetNumberAt(data, end) + lastOffsetDeltaAt(data, end) >= limitExclusive) break;
    if (checkBatchAt(data, end, got, false) !== null) break;
    end += size;
  }
  return end > 0 ? data.subarray(0, end) : undefined;
}
