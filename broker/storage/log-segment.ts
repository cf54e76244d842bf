/**
 * One segment of a partition log: `<base>.log` holds whole RecordBatch v2 frames back to back,
 * exactly as appended (the first batch's baseOffset is the segment's base offset, offsets are
 * contiguous); `<base>.index` and `<base>.timeindex` are its sparse indexes (see offset-index.ts
 * and time-index.ts). `<base>` is the base offset, zero-padded to 20 digits.
 *
 * Only the owning PartitionLog touches a segment, from its serial writer (appends, rolls,
 * truncation, deletion) or from reads. Reads go through the shared FileHandleCache; only the
 * active segment holds writable files.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { baseOffsetNumberAt, lastOffsetDeltaAt, maxTimestampAt } from '../../record/batch-header.js';
import type { FileWriter, WritableFile } from './file-writer.js';
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from './time-index.js';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
const OFFSET_DIGITS = 20;
/** How far (in .log bytes) the index files may trail the log before their entries are written. */
export const INDEX_WRITE_LAG_BYTES = 8 * 1024 * 1024;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, '0') + suffix;
}

/** The base offset named by a segment file name, or undefined for other files. */
export function parseSegmentFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const digits = name.slice(0, -suffix.length);
  if (digits.length !== OFFSET_DIGITS || !/^[0-9]+$/.test(digits)) return undefined;
  const offset = Number(digits);
  return Number.isSafeInteger(offset) ? offset : undefined;
}

export class LogSegment {
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  /** Bytes of whole batches in the .log file (what reads may see). */
  sizeBytes = 0;
  /** Bytes of the .log file known to be on disk (fdatasync returned after they were written). */
  syncedBytes = 0;
  /** The offset after the segment's last batch. */
  nextOffset: number;
  /** Largest batch maxTimestamp seen, and the base offset of the first batch that reached it. */
  maxTimestampMs = Number.NEGATIVE_INFINITY;
  offsetOfMaxTimestamp: number;
  /** Clock time of the segment's first append (or its file time when loaded); drives segmentMs. */
  firstAppendMs: number | undefined;
  /** Clock or file time of the last change; used by time retention when batches carry no time. */
  lastModifiedMs = 0;
  bytesSinceIndexEntry = 0;
  /** Index entries already in the files; the rest are written by writeIndexTails. */
  private indexEntriesWritten = 0;
  private timeIndexEntriesWritten = 0;
  /** The .log file, open for writing while the segment is active. Index files are opened per write. */
  private logWriter: WritableFile | undefined;
  /**
   * The indexes in memory. A sealed segment may have them unloaded (the log keeps only a few
   * sealed segments' indexes in memory) and loads them again on use; the active segment always
   * has them.
   */
  private offsetIndex: OffsetIndex | undefined;
  private timeIndexInMemory: TimeIndex | undefined;

  constructor(
    readonly dir: string,
    readonly baseOffset: number,
    index: OffsetIndex | undefined,
    timeIndex: TimeIndex | undefined,
    private readonly fileWriter: FileWriter,
  ) {
    this.offsetIndex = index;
    this.timeIndexInMemory = timeIndex;
    this.logPath = join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    this.indexPath = join(dir, segmentFileName(baseOffset, INDEX_SUFFIX));
    this.timeIndexPath = join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX));
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
  }

  get index(): OffsetIndex {
    assert.ok(this.offsetIndex !== undefined, 'the offset index is not loaded');
    return this.offsetIndex;
  }

  get timeIndex(): TimeIndex {
    assert.ok(this.timeIndexInMemory !== undefined, 'the time index is not loaded');
    return this.timeIndexInMemory;
  }

  get indexesLoaded(): boolean {
    return this.offsetIndex !== undefined && this.timeIndexInMemory !== undefined;
  }

  setIndexes(index: OffsetIndex, timeIndex: TimeIndex): void {
    this.offsetIndex = index;
    this.timeIndexInMemory = timeIndex;
  }

  /** Drops the in-memory indexes of a sealed segment (they are reloaded from the files on use). */
  unloadIndexes(): void {
    assert.ok(!this.isWritable, 'the active segment keeps its indexes');
    this.offsetIndex = undefined;
    this.timeIndexInMemory = undefined;
  }

  get isWritable(): boolean {
    return this.logWriter !== undefined;
  }

  get logFile(): WritableFile {
    assert.ok(this.logWriter !== undefined, 'only the active segment is written');
    return this.logWriter;
  }

  /** Newest time of the segment for retention: its largest batch timestamp, else its file time. */
  get retentionTimestampMs(): number {
    return this.maxTimestampMs >= 0 ? this.maxTimestampMs : this.lastModifiedMs;
  }

  /** Marks the in-memory indexes as matching the files exactly (after loading or rewriting). */
  markIndexesWritten(): void {
    this.indexedBytesWritten = this.sizeBytes;
    this.indexEntriesWritten = this.index.entries;
    this.timeIndexEntriesWritten = this.timeIndex.entries;
  }

  /** Opens the .log for writing (the active segment keeps one descriptor open). */
  async openWriters(): Promise<void> {
    this.logWriter ??= await this.fileWriter.open(this.logPath);
  }

  async closeWriters(): Promise<void> {
    const log = this.logWriter;
    this.logWriter = undefined;
    await log?.close().catch(() => undefined);
  }

  /** Opens both index files for one write; they are written rarely, so no descriptor is kept. */
  private async withIndexFiles(body: (index: WritableFile, timeIndex: WritableFile) => Promise<void>): Promise<void> {
    const opened = await Promise.allSettled([this.fileWriter.open(this.indexPath), this.fileWriter.open(this.timeIndexPath)]);
    try {
      const [index, timeIndex] = opened.map((result) => {
        if (result.status === 'rejected') throw result.reason;
        return result.value;
      });
      await body(index, timeIndex);
    } finally {
      await Promise.allSettled(opened.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)));
    }
  }

  /**
   * Updates the in-memory indexes for a batch just written at `position`: an offset-index entry
   * once indexIntervalBytes have passed since the last one, and a time-index entry beside it when
   * the segment's largest timestamp grew.
   */
  onBatchWritten(buffer: Buffer, bufferPosition: number, position: number, size: number, indexIntervalBytes: number): void {
    const baseOffset = baseOffsetNumberAt(buffer, bufferPosition);
    const maxTimestampMs = maxTimestampAt(buffer, bufferPosition);
    if (maxTimestampMs > this.maxTimestampMs) {
      this.maxTimestampMs = maxTimestampMs;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    if (this.bytesSinceIndexEntry >= indexIntervalBytes) {
      this.index.append(baseOffset, position);
      this.bytesSinceIndexEntry = 0;
      this.maybeAppendTimeIndexEntry();
    }
    this.bytesSinceIndexEntry += size;
    this.nextOffset = baseOffset + lastOffsetDeltaAt(buffer, bufferPosition) + 1;
  }

  /** Adds a time-index entry for the current largest timestamp when the index lacks it. */
  maybeAppendTimeIndexEntry(): void {
    if (this.maxTimestampMs >= 0 && this.maxTimestampMs > this.timeIndex.lastTimestamp) {
      this.timeIndex.append(this.maxTimestampMs, this.offsetOfMaxTimestamp);
    }
  }

  /**
   * Bytes of the .log file covered by the index entries already written. The index files trail
   * the log by up to INDEX_WRITE_LAG_BYTES: recovery rescans what they miss, and writing them
   * for every append would cost more syscalls than the append itself.
   */
  private indexedBytesWritten = 0;

  /** Whether enough index entries are pending that writeIndexTails should run now. */
  get indexTailsDue(): boolean {
    return this.sizeBytes - this.indexedBytesWritten >= INDEX_WRITE_LAG_BYTES;
  }

  /**
   * Writes index entries added since the last call; with `sync`, fdatasyncs both index files
   * (sealing and closing do; appends never do).
   */
  async writeIndexTails(sync = false): Promise<void> {
    this.indexedBytesWritten = this.sizeBytes;
    const indexFrom = this.indexEntriesWritten;
    const timeFrom = this.timeIndexEntriesWritten;
    if (!sync && indexFrom === this.index.entries && timeFrom === this.timeIndex.entries) return;
    const indexBytes = this.index.fileBytes(indexFrom);
    const timeBytes = this.timeIndex.fileBytes(timeFrom);
    await this.withIndexFiles(async (index, timeIndex) => {
      await Promise.all([
        index.writeAll([indexBytes], indexFrom * OFFSET_INDEX_ENTRY_BYTES),
        timeIndex.writeAll([timeBytes], timeFrom * TIME_INDEX_ENTRY_BYTES),
      ]);
      if (sync) await Promise.all([index.datasync(), timeIndex.datasync()]);
    });
    this.indexEntriesWritten += indexBytes.length / OFFSET_INDEX_ENTRY_BYTES;
    this.timeIndexEntriesWritten += timeBytes.length / TIME_INDEX_ENTRY_BYTES;
  }

  /** Rewrites both index files from memory, cutting any stale tail; with `sync`, fdatasyncs them. */
  async rewriteIndexFiles(sync = false): Promise<void> {
    await this.withIndexFiles(async (index, timeIndex) => {
      await Promise.all([
        index.writeAll([this.index.fileBytes()], 0).then(() => index.truncate(this.index.sizeBytes)),
        timeIndex.writeAll([this.timeIndex.fileBytes()], 0).then(() => timeIndex.truncate(this.timeIndex.entries * TIME_INDEX_ENTRY_BYTES)),
      ]);
      if (sync) await Promise.all([index.datasync(), timeIndex.datasync()]);
    });
    this.markIndexesWritten();
  }

  async syncLog(): Promise<void> {
    const target = this.sizeBytes;
    await this.logFile.datasync();
    this.syncedBytes = Math.max(this.syncedBytes, target);
  }

  /**
   * Makes the segment read-only: a final time-index entry with its largest timestamp, index files
   * written and every file fdatasynced, so a later recovery need not scan it.
   */
  async seal(): Promise<void> {
    this.maybeAppendTimeIndexEntry();
    await Promise.all([this.syncLog(), this.writeIndexTails(true)]);
    await this.closeWriters();
  }

  /** Cuts the segment at `positionBytes` (a batch boundary) where the batch `offset` started. */
  async truncateTo(positionBytes: number, offset: number): Promise<void> {
    assert.ok(positionBytes <= this.sizeBytes);
    await this.logFile.truncate(positionBytes);
    this.sizeBytes = positionBytes;
    this.syncedBytes = Math.min(this.syncedBytes, positionBytes);
    this.nextOffset = offset;
    this.index.truncateToPosition(positionBytes);
    this.timeIndex.truncateToOffset(offset);
    this.bytesSinceIndexEntry = this.index.entries === 0 ? positionBytes : positionBytes - this.index.positionAt(this.index.entries - 1);
    await this.rewriteIndexFiles();
  }
}
