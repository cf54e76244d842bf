/**
 * Opens the segments of a log directory at start-up.
 *
 * A segment before the tail was sealed (indexes written, every file fdatasynced) before the next
 * one was created, so its indexes are trusted after a check of their last entries, loaded into
 * memory only on first use, and rebuilt by a header scan only when missing or inconsistent. The tail segment is the only one that can hold a torn write:
 * after an unclean shutdown it is scanned with CRC checks from its last sound index entry, and
 * the file is cut at the first invalid batch. After a clean shutdown only the few batches after
 * the last index entry are walked (headers only) to find the end offset.
 */
import { readFile, stat } from 'node:fs/promises';
import { BATCH_HEADER_BYTES, baseOffsetNumberAt, batchSizeAt, checkBatchAt, lastOffsetDeltaAt, maxTimestampAt, partitionLeaderEpochAt } from '../../record/batch-header.js';
import { scanBatches, type ScanResult } from './batch-scanner.js';
import type { FileHandleCache } from './file-handle-cache.js';
import type { FileWriter } from './file-writer.js';
import { MAX_BATCH_BYTES_LIMIT } from './log-config.js';
import { LogSegment } from './log-segment.js';
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from './time-index.js';

/** How many index entries recovery steps back over before it rescans the tail from its start. */
const RECOVERY_ENTRY_RETRIES = 8;

export interface SegmentLoadContext {
  readonly dir: string;
  readonly files: FileHandleCache;
  readonly writer: FileWriter;
  readonly indexIntervalBytes: number;
}

/** A leader-epoch change seen while scanning: batches from startOffset on carry epoch. */
export interface EpochStart {
  readonly epoch: number;
  readonly startOffset: number;
}

export interface TailLoadResult {
  readonly segment: LogSegment;
  /** Bytes cut from the end of the .log file (a torn or garbage tail). */
  readonly truncatedBytes: number;
  /** Epoch changes among the batches the scan walked. */
  readonly scannedEpochs: EpochStart[];
  /**
   * Set when the cut was not a torn write: the first bad batch is followed by sound batches that
   * continue its offsets, so bytes that had been written whole went bad on the disk. Offsets
   * `fromOffset` through `throughOffset` were cut and may have been acknowledged.
   */
  readonly damage?: LogDamage;
}

/** Offsets a log lost to damaged bytes (both ends inclusive; fromOffset is a batch boundary). */
export interface LogDamage {
  readonly fromOffset: number;
  readonly throughOffset: number;
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function loadFiles(context: SegmentLoadContext, baseOffset: number, endOffsetExclusive: number) {
  const probe = new LogSegment(context.dir, baseOffset, new OffsetIndex(baseOffset), new TimeIndex(baseOffset), context.writer);
  const info = await stat(probe.logPath);
  const [indexBytes, timeBytes] = await Promise.all([readIfExists(probe.indexPath), readIfExists(probe.timeIndexPath)]);
  const offsets = OffsetIndex.load(baseOffset, indexBytes ?? Buffer.alloc(0), info.size);
  const times = TimeIndex.load(baseOffset, timeBytes ?? Buffer.alloc(0), endOffsetExclusive);
  const segment = new LogSegment(context.dir, baseOffset, offsets.index, times.index, context.writer);
  segment.sizeBytes = info.size;
  segment.syncedBytes = info.size;
  segment.lastModifiedMs = info.mtimeMs;
  const offsetIndexComplete = indexBytes !== undefined && offsets.complete;
  const timeIndexComplete = timeBytes !== undefined && times.complete;
  return { segment, offsetIndexComplete, timeIndexComplete, indexesComplete: offsetIndexComplete && timeIndexComplete };
}

/** Whether the last offset-index entry points at a well-framed batch with the indexed offset. */
async function lastEntryIsSound(segment: LogSegment, files: FileHandleCache): Promise<boolean> {
  const last = segment.index.entries - 1;
  if (last < 0) return true;
  const header = await files.readBytes(segment.logPath, segment.index.positionAt(last), BATCH_HEADER_BYTES);
  if (checkBatchAt(header, 0, Number.MAX_SAFE_INTEGER, false) !== null) return false;
  return header.readBigInt64BE(0) === BigInt(segment.index.offsetAt(last));
}

function resetIndexes(segment: LogSegment, keepEntries: number): number {
  segment.index.truncateEntries(keepEntries);
  const fromPosition = keepEntries === 0 ? 0 : segment.index.positionAt(keepEntries - 1);
  const fromOffset = keepEntries === 0 ? segment.baseOffset : segment.index.offsetAt(keepEntries - 1);
  segment.timeIndex.truncateToOffset(fromOffset);
  const timeEntries = segment.timeIndex.entries;
  segment.maxTimestampMs = timeEntries === 0 ? Number.NEGATIVE_INFINITY : segment.timeIndex.timestampAt(timeEntries - 1);
  segment.offsetOfMaxTimestamp = timeEntries === 0 ? segment.baseOffset : segment.timeIndex.offsetAt(timeEntries - 1);
  segment.bytesSinceIndexEntry = 0;
  segment.nextOffset = fromOffset;
  return fromPosition;
}

/** Scans from index entry `keepEntries - 1` (or the file start), rebuilding the indexes after it. */
async function scanFromEntry(
  context: SegmentLoadContext,
  segment: LogSegment,
  keepEntries: number,
  checkCrc: boolean,
  epochs: EpochStart[],
): Promise<ScanResult> {
  const fromPosition = resetIndexes(segment, keepEntries);
  epochs.length = 0;
  let lastEpoch: number | undefined;
  return scanBatches(
    {
      path: segment.logPath,
      files: context.files,
      fromPosition,
      endPosition: segment.sizeBytes,
      checkCrc,
      firstOffsetMin: segment.nextOffset,
      firstOffsetExact: keepEntries > 0,
      batchBytesMax: MAX_BATCH_BYTES_LIMIT,
    },
    (buffer, at, position, size) => {
      segment.onBatchWritten(buffer, at, position, size, context.indexIntervalBytes);
      const epoch = partitionLeaderEpochAt(buffer, at);
      if (epoch !== lastEpoch) epochs.push({ epoch, startOffset: baseOffsetNumberAt(buffer, at) });
      lastEpoch = epoch;
      return true;
    },
  );
}

/**
 * Opens a sealed (non-tail) segment without loading its indexes: only their last entries are
 * checked (whole entries; the last offset entry points at a batch with that offset; the last time
 * entry lies inside the segment), which gives the segment's largest timestamp. Indexes that fail
 * the check are rebuilt by a header scan now; the rest load on first use (loadSealedIndexes).
 */
export async function openSealedSegment(
  context: SegmentLoadContext,
  baseOffset: number,
  nextSegmentBaseOffset: number,
): Promise<{ segment: LogSegment; rebuilt: boolean }> {
  const segment = new LogSegment(context.dir, baseOffset, undefined, undefined, context.writer);
  const [info, indexInfo, timeInfo] = await Promise.all([stat(segment.logPath), statIfExists(segment.indexPath), statIfExists(segment.timeIndexPath)]);
  segment.sizeBytes = info.size;
  segment.syncedBytes = info.size;
  segment.lastModifiedMs = info.mtimeMs;
  segment.firstAppendMs = info.mtimeMs;
  segment.nextOffset = nextSegmentBaseOffset;
  const lastTime =
    indexInfo !== undefined && timeInfo !== undefined && (await lastOffsetEntryIsSound(context, segment, indexInfo.size))
      ? await lastTimeEntry(context, segment, timeInfo.size)
      : undefined;
  if (lastTime === undefined) {
    await rebuildSealedIndexes(context, segment);
    await segment.rewriteIndexFiles(true);
    return { segment, rebuilt: true };
  }
  if (lastTime !== null) {
    segment.maxTimestampMs = lastTime.timestampMs;
    segment.offsetOfMaxTimestamp = lastTime.offset;
  }
  return { segment, rebuilt: false };
}

/**
 * Loads a sealed segment's indexes into memory. When the files turn out damaged (which the
 * cheap check at open cannot see everywhere), the indexes are rebuilt in memory and `rebuilt` is
 * true: the caller rewrites the files.
 */
export async function loadSealedIndexes(context: SegmentLoadContext, segment: LogSegment): Promise<{ rebuilt: boolean }> {
  const [indexBytes, timeBytes] = await Promise.all([readIfExists(segment.indexPath), readIfExists(segment.timeIndexPath)]);
  if (indexBytes !== undefined && timeBytes !== undefined) {
    const offsets = OffsetIndex.load(segment.baseOffset, indexBytes, segment.sizeBytes);
    const times = TimeIndex.load(segment.baseOffset, timeBytes, segment.nextOffset);
    if (offsets.complete && times.complete) {
      segment.setIndexes(offsets.index, times.index);
      if (await lastEntryIsSound(segment, context.files)) return { rebuilt: false };
    }
  }
  await rebuildSealedIndexes(context, segment);
  return { rebuilt: true };
}

/** Rebuilds a sealed segment's indexes in memory from its batch headers. */
async function rebuildSealedIndexes(context: SegmentLoadContext, segment: LogSegment): Promise<void> {
  segment.setIndexes(new OffsetIndex(segment.baseOffset), new TimeIndex(segment.baseOffset));
  // A sealed segment was fdatasynced whole, so its framing is trusted; headers suffice.
  const result = await scanFromEntry(context, segment, 0, false, []);
  segment.maybeAppendTimeIndexEntry();
  if (result.stop !== null) segment.sizeBytes = result.endPosition;
}

async function statIfExists(path: string): Promise<{ size: number } | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The last offset-index entry (if any) is whole and points at a batch with that offset. */
async function lastOffsetEntryIsSound(context: SegmentLoadContext, segment: LogSegment, fileBytes: number): Promise<boolean> {
  if (fileBytes % OFFSET_INDEX_ENTRY_BYTES !== 0) return false;
  if (fileBytes === 0) return true;
  const entry = await context.files.readBytes(segment.indexPath, fileBytes - OFFSET_INDEX_ENTRY_BYTES, OFFSET_INDEX_ENTRY_BYTES);
  if (entry.length !== OFFSET_INDEX_ENTRY_BYTES) return false;
  const relative = entry.readInt32BE(0);
  const position = entry.readInt32BE(4);
  if (relative < 0 || position < 0 || position >= segment.sizeBytes || segment.baseOffset + relative >= segment.nextOffset) return false;
  const header = await context.files.readBytes(segment.logPath, position, BATCH_HEADER_BYTES);
  if (checkBatchAt(header, 0, Number.MAX_SAFE_INTEGER, false) !== null) return false;
  return baseOffsetNumberAt(header, 0) === segment.baseOffset + relative;
}

/** The last time-index entry: null for an empty index, undefined when it is not plausible. */
async function lastTimeEntry(
  context: SegmentLoadContext,
  segment: LogSegment,
  fileBytes: number,
): Promise<{ timestampMs: number; offset: number } | null | undefined> {
  if (fileBytes % TIME_INDEX_ENTRY_BYTES !== 0) return undefined;
  if (fileBytes === 0) return null;
  const entry = await context.files.readBytes(segment.timeIndexPath, fileBytes - TIME_INDEX_ENTRY_BYTES, TIME_INDEX_ENTRY_BYTES);
  if (entry.length !== TIME_INDEX_ENTRY_BYTES) return undefined;
  const timestampMs = Number(entry.readBigInt64BE(0));
  const offset = segment.baseOffset + entry.readInt32BE(8);
  if (timestampMs < 0 || offset < segment.baseOffset || offset >= segment.nextOffset) return undefined;
  return { timestampMs, offset };
}

/**
 * Loads the tail segment and leaves it writable. With `clean` (the log was closed cleanly) only
 * the batches after the last index entry are walked, headers only; otherwise they are checked
 * with their CRC, stepping back over index entries that do not lead to a valid batch, and the
 * file is cut at the first invalid batch.
 */
export async function loadTailSegment(context: SegmentLoadContext, baseOffset: number, clean: boolean): Promise<TailLoadResult> {
  const { segment, indexesComplete, timeIndexComplete } = await loadFiles(context, baseOffset, Number.MAX_SAFE_INTEGER);
  const epochs: EpochStart[] = [];
  let result: ScanResult | undefined;
  if (clean && indexesComplete) {
    result = await scanFromEntry(context, segment, segment.index.entries, false, epochs);
    if (result.stop !== null) result = undefined;
  }
  // A damaged time index cannot be completed from a partial scan (its entries depend on every
  // batch before them), so the whole segment is rescanned.
  if (result === undefined && !timeIndexComplete) result = await scanFromEntry(context, segment, 0, true, epochs);
  if (result === undefined) result = await recoverTail(context, segment, epochs);
  const fileSizeBytes = segment.sizeBytes;
  const damage = result.stop === null ? undefined : await soundBatchesAfter(context, segment, result, fileSizeBytes);
  await segment.openWriters();
  try {
    await cutTail(segment, result, fileSizeBytes);
    segment.firstAppendMs = await firstBatchTimeMs(segment, context.files);
  } catch (error) {
    await segment.closeWriters();
    throw error;
  }
  return damage === undefined
    ? { segment, truncatedBytes: fileSizeBytes - result.endPosition, scannedEpochs: epochs }
    : { segment, truncatedBytes: fileSizeBytes - result.endPosition, scannedEpochs: epochs, damage };
}

/**
 * Tells a torn tail from damage inside written data. A torn write (power lost before the bytes
 * were synced) leaves a bad or partial batch with nothing sound after it. A bad batch followed by
 * a whole batch with a good CRC whose offsets continue it means bytes went bad after they were
 * written (bit rot, a stray write): the batches from the bad one on may have been acknowledged.
 * Returns the offsets the cut drops in that case. A bad last batch looks like a torn write and is
 * treated as one; that is the one case this cannot tell apart.
 */
async function soundBatchesAfter(context: SegmentLoadContext, segment: LogSegment, cut: ScanResult, fileSizeBytes: number): Promise<LogDamage | undefined> {
  const header = await context.files.readBytes(segment.logPath, cut.endPosition, BATCH_HEADER_BYTES);
  if (header.length < BATCH_HEADER_BYTES) return undefined;
  const size = batchSizeAt(header, 0);
  const next = cut.endPosition + size;
  if (size < BATCH_HEADER_BYTES || size > MAX_BATCH_BYTES_LIMIT || next + BATCH_HEADER_BYTES > fileSizeBytes) return undefined;
  const following = await scanBatches(
    {
      path: segment.logPath,
      files: context.files,
      fromPosition: next,
      endPosition: fileSizeBytes,
      checkCrc: true,
      firstOffsetMin: cut.nextOffset + lastOffsetDeltaAt(header, 0) + 1,
      firstOffsetExact: true,
      batchBytesMax: MAX_BATCH_BYTES_LIMIT,
    },
    () => true,
  );
  if (following.endPosition === next) return undefined;
  return { fromOffset: cut.nextOffset, throughOffset: following.nextOffset - 1 };
}

/** Cuts the tail file after its last valid batch and rewrites the indexes to match. */
async function cutTail(segment: LogSegment, result: ScanResult, fileSizeBytes: number): Promise<void> {
  if (result.endPosition < fileSizeBytes) await segment.logFile.truncate(result.endPosition);
  segment.sizeBytes = result.endPosition;
  segment.syncedBytes = result.endPosition;
  segment.nextOffset = result.nextOffset;
  segment.index.truncateToPosition(result.endPosition);
  segment.timeIndex.truncateToOffset(result.nextOffset);
  await segment.rewriteIndexFiles();
  if (result.endPosition < fileSizeBytes) await segment.logFile.datasync();
}

async function recoverTail(context: SegmentLoadContext, segment: LogSegment, epochs: EpochStart[]): Promise<ScanResult> {
  const entries = segment.index.entries;
  const lowestTried = Math.max(0, entries - RECOVERY_ENTRY_RETRIES);
  for (let keep = entries; keep >= lowestTried; keep--) {
    if (keep > 0 && keep < entries) segment.index.truncateEntries(keep);
    const result = await scanFromEntry(context, segment, keep, true, epochs);
    const startedAt = keep === 0 ? 0 : segment.index.positionAt(keep - 1);
    // A scan that cannot read even the indexed batch means the entry itself may be bad (its
    // bytes never reached the disk); step back one entry. The result is the same if the tear
    // happened to start exactly there.
    if (keep === 0 || result.endPosition > startedAt || startedAt >= segment.sizeBytes) return result;
  }
  return scanFromEntry(context, segment, 0, true, epochs);
}

async function firstBatchTimeMs(segment: LogSegment, files: FileHandleCache): Promise<number | undefined> {
  if (segment.sizeBytes === 0) return undefined;
  const header = await files.readBytes(segment.logPath, 0, BATCH_HEADER_BYTES);
  const timestampMs = header.length === BATCH_HEADER_BYTES ? maxTimestampAt(header, 0) : -1;
  return timestampMs >= 0 ? timestampMs : segment.lastModifiedMs;
}
