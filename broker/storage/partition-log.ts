/**
 * The durable log of one partition replica: a directory of segments (see log-segment.ts and
 * README.md for the file formats), a leader-epoch cache, and the offsets the rest of the broker
 * drives it by: log start, log end, and the high watermark Raft sets.
 *
 * Threading model: every mutation (appends, rolls, truncation, retention, flush, close) runs on one
 * serial queue, so the active segment has exactly one writer. Consecutive appends waiting in the
 * queue are written together with one writev and, under flushPolicy 'always', covered by one
 * fdatasync (group commit). Reads run concurrently with the queue: they only look at whole
 * batches below the segment sizes published after each write.
 *
 * Ownership: append and appendReplicated take ownership of the buffer they are given (it is
 * stamped in place and may be kept in the tail cache); read returns buffers the caller must not
 * modify (they may alias the tail cache).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  BATCH_HEADER_BYTES,
  baseOffsetNumberAt,
  batchSizeAt,
  checkBatchAt,
  lastOffsetDeltaAt,
  maxTimestampAt,
  partitionLeaderEpochAt,
  stampLogAppendTime,
  stampOffsetAndEpoch,
} from '../../record/batch-header.js';
import { scanBatches, scanValidatedBatches, type ScanResult } from './batch-scanner.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { nodeFileWriter, type FileWriter } from './file-writer.js';
import type { LeaderEpochCache } from './leader-epoch-cache.js';
import {
  CLEAN_SHUTDOWN_FILE,
  createSegment,
  deleteSegmentFilesByBase,
  loadEpochCache,
  readLogStartCheckpoint,
  removeStrayFiles,
  writeCleanShutdownMarker,
  writeEpochCheckpoint,
  writeLogStartCheckpoint,
  type LogStartCheckpoint,
} from './log-directory.js';
import { MAX_BATCH_BYTES_LIMIT, validateLogConfig, type LogConfig } from './log-config.js';
import type { LogSegment } from './log-segment.js';
import { OffsetIndex } from './offset-index.js';
import { loadSealedIndexes, loadTailSegment, openSealedSegment, type LogDamage, type SegmentLoadContext, type TailLoadResult } from './segment-loader.js';
import {
  BatchTooLargeError,
  CorruptBatchError,
  CorruptLogError,
  hasErrorCode,
  LogBusyError,
  LogClosedError,
  NonContiguousAppendError,
  OffsetOutOfRangeError,
  StaleLeaderEpochError,
  StorageFullError,
  toStorageError,
} from './storage-errors.js';
import { TailCache } from './tail-cache.js';
import { TimeIndex } from './time-index.js';
import { verifyStoredBatches } from './stored-batches.js';

export interface Clock {
  nowMs(): number;
}

export interface PartitionLogDeps {
  readonly clock: Clock;
  /** Read handles, shared by all logs of a broker. */
  readonly files: FileHandleCache;
  /** Where segment and index bytes are written; tests wrap it to count syncs or inject ENOSPC. */
  readonly writer?: FileWriter;
}

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** The broker time stamped into the batches under timestampType 'log-append', else -1. */
  readonly logAppendTimeMs: number;
}

export { CLEAN_SHUTDOWN_FILE, LEADER_EPOCH_CHECKPOINT_FILE, LOG_START_CHECKPOINT_FILE } from './log-directory.js';

/** Appends written together in one writev (and one fdatasync) at most; bounds commit latency. */
export const APPEND_GROUP_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes of appends waiting for the writer; beyond this, appends fail with LogBusyError. */
export const APPEND_QUEUE_BYTES_MAX = 256 * 1024 * 1024;
/** A read that finds its segment deleted under it (retention, truncation) looks again this often. */
const READ_ATTEMPTS_MAX = 3;
/** Bytes a scrub checks between two throttle calls. */
const SCRUB_CHUNK_BYTES = 4 * 1024 * 1024;
/** The largest maxBytes a read accepts; a read allocates up to this much. */
export const READ_BYTES_MAX = 64 * 1024 * 1024;
/** Sealed segments whose indexes a log keeps in memory (least recently used are unloaded). */
export const SEALED_INDEXES_IN_MEMORY_MAX = 4;
/** Relative offsets in the index are int32, so a segment covers fewer offsets than this. */
const SEGMENT_OFFSETS_MAX = 0x7fffffff;

const EMPTY = Buffer.alloc(0);

interface AppendOp {
  readonly kind: 'append';
  readonly bytes: Buffer;
  /** The leader's epoch to stamp, or undefined for replicated batches that keep theirs. */
  readonly leaderEpoch: number | undefined;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
  /** Epoch changes this append brings, to persist before its bytes are written. */
  newEpochs: Array<[number, number]>;
  /** Whether the batches' CRCs were checked; if not, the writer checks them while writing. */
  crcChecked: boolean;
}

/** Thrown inside writeGroup when a run held batches with bad CRCs: the others are written again. */
class RunHadCorruptBatches extends Error {
  constructor(readonly survivors: AppendOp[]) {
    super('a run held corrupt batches');
  }
}

interface TaskOp {
  readonly kind: 'task';
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

type QueuedOp = AppendOp | TaskOp;

export class PartitionLog {
  /** Sorted by base offset; the last one is active. Replaced, never mutated, so reads can hold one. */
  private segments: readonly LogSegment[];
  private startOffset: number;
  private endOffset: number;
  private committedOffset: number;
  private readonly queue: QueuedOp[] = [];
  private queuedAppendBytes = 0;
  private draining = false;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private closed = false;
  private failure: unknown = undefined;
  /** An index write failed: the index files may be stale, so the next open must recover. */
  private indexWriteFailed = false;
  private lastSyncMs: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly tailCache: TailCache;
  private readonly writer: FileWriter;
  /** Sealed segments with indexes in memory, least recently used first. */
  private loadedSealed: LogSegment[] = [];
  private readonly indexLoads = new Map<LogSegment, Promise<void>>();
  /** Whether the last shutdown was clean (no recovery scan ran, nothing can be torn). */
  openedClean = true;
  /** Offsets recovery cut because written bytes had gone bad (not a torn tail); see segment-loader. */
  damageOnOpen: LogDamage | undefined = undefined;
  /** Truncations so far: a scrub does not trust a scan that one may have raced. */
  private truncations = 0;

  private constructor(
    readonly dir: string,
    readonly config: LogConfig,
    private readonly deps: PartitionLogDeps,
    segments: LogSegment[],
    private readonly epochCache: LeaderEpochCache,
    startOffset: number,
  ) {
    this.segments = segments;
    this.endOffset = segments[segments.length - 1].nextOffset;
    this.startOffset = startOffset;
    this.committedOffset = startOffset;
    this.tailCache = new TailCache(config.tailCacheBytes);
    this.writer = deps.writer ?? nodeFileWriter;
    this.lastSyncMs = deps.clock.nowMs();
  }

  /**
   * Opens (or creates) the log in `dir`, recovering the tail segment when the last shutdown was
   * not clean. Never throws for torn or garbage bytes at the tail: they are cut away.
   */
  static async open(dir: string, config: LogConfig, deps: PartitionLogDeps): Promise<PartitionLog> {
    validateLogConfig(config);
    await mkdir(dir, { recursive: true });
    const writer = deps.writer ?? nodeFileWriter;
    const context: SegmentLoadContext = { dir, files: deps.files, writer, indexIntervalBytes: config.indexIntervalBytes };
    const names = await readdir(dir);
    const clean = names.includes(CLEAN_SHUTDOWN_FILE);
    const startCheckpoint = await readLogStartCheckpoint(dir);
    let bases = await removeStrayFiles(dir, names);
    if (startCheckpoint?.fullTruncationPending === true) {
      await deleteSegmentFilesByBase(dir, bases, deps.files, writer);
      bases = [];
    }
    if (bases.length === 0) {
      await createSegment(dir, startCheckpoint?.offset ?? 0, writer).then((segment) => segment.closeWriters());
      bases = [startCheckpoint?.offset ?? 0];
    }
    const segments: LogSegment[] = [];
    for (let i = 0; i < bases.length - 1; i++) {
      const { segment, rebuilt } = await openSealedSegment(context, bases[i], bases[i + 1]);
      if (rebuilt) segment.unloadIndexes();
      segments.push(segment);
    }
    const tail = await loadTailSegment(context, bases[bases.length - 1], clean);
    segments.push(tail.segment);
    try {
      return await PartitionLog.finishOpen(dir, config, deps, segments, tail, startCheckpoint, clean);
    } catch (error) {
      await tail.segment.closeWriters();
      throw error;
    }
  }

  private static async finishOpen(
    dir: string,
    config: LogConfig,
    deps: PartitionLogDeps,
    segments: LogSegment[],
    tail: TailLoadResult,
    startCheckpoint: LogStartCheckpoint | undefined,
    clean: boolean,
  ): Promise<PartitionLog> {
    const writer = deps.writer ?? nodeFileWriter;
    const context: SegmentLoadContext = { dir, files: deps.files, writer, indexIntervalBytes: config.indexIntervalBytes };
    const bases = segments.map((segment) => segment.baseOffset);
    const endOffset = tail.segment.nextOffset;
    const startOffset = Math.min(Math.max(startCheckpoint?.offset ?? 0, bases[0]), endOffset);
    const { cache: epochCache, changed: epochsLoadedChanged } = await loadEpochCache(dir, segments, context, tail.scannedEpochs, clean);
    const epochsCutAtEnd = epochCache.truncateFromEnd(endOffset);
    const epochsCutAtStart = epochCache.truncateFromStart(startOffset);
    const log = new PartitionLog(dir, config, deps, segments, epochCache, startOffset);
    log.openedClean = clean;
    log.damageOnOpen = tail.damage;
    if (epochsLoadedChanged || epochsCutAtEnd || epochsCutAtStart) await log.persistEpochs();
    if (startCheckpoint?.fullTruncationPending === true) await writeLogStartCheckpoint(writer, dir, startOffset, false);
    if (clean) {
      // The marker must be gone for good before anything is appended: a crash from here on must
      // trigger recovery on the next open.
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE));
      await writer.syncDirectory(dir);
    }
    return log;
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  /** The offset the next appended record gets; reads see everything below it. */
  get logEndOffset(): number {
    return this.endOffset;
  }

  /** The committed offset (exclusive): consumers read below it. Raft moves it. */
  get highWatermark(): number {
    return this.committedOffset;
  }

  /** The latest leader epoch in the log, or undefined when it holds no batch. */
  get latestEpoch(): number | undefined {
    return this.epochCache.latestEpoch;
  }

  /** Sets the committed offset; it must lie within [logStartOffset, logEndOffset]. */
  setHighWatermark(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < this.startOffset || offset > this.endOffset) {
      throw new RangeError(`high watermark ${offset} is outside [${this.startOffset}, ${this.endOffset}]`);
    }
    if (offset === this.committedOffset) return;
    this.committedOffset = offset;
    this.notify();
  }

  /**
   * Calls `listener` after the log end offset, log start offset or high watermark changed (an
   * append was written, Raft committed, a truncation). Returns the function that unsubscribes.
   * Listeners run synchronously and must not throw.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Leader path: validates the framing and CRC of one or more concatenated batches (framing now,
   * CRC while writing; either failure rejects with CorruptBatchError and leaves no trace), assigns
   * offsets from the log end (stamping baseOffset and partitionLeaderEpoch in place, and
   * LogAppendTime when configured), and appends them to one segment. Resolves per flush policy:
   * under 'always' after the fdatasync that covers them.
   */
  async append(batches: Buffer, leaderEpoch: number): Promise<AppendResult> {
    assert.ok(Number.isSafeInteger(leaderEpoch) && leaderEpoch >= 0 && leaderEpoch <= 0x7fffffff, 'leader epoch must be an int32 >= 0');
    this.checkWritable();
    // LogAppendTime rewrites the CRC, so the producer's CRC must be checked before stamping;
    // otherwise the writer checks CRCs while the bytes are being written (see writeRun).
    const crcChecked = this.config.timestampType === 'log-append';
    this.validateBatches(batches, crcChecked);
    return new Promise<AppendResult>((resolve, reject) => {
      this.enqueue({ kind: 'append', bytes: batches, leaderEpoch, resolve, reject, baseOffset: -1, lastOffset: -1, logAppendTimeMs: -1, newEpochs: [], crcChecked });
    });
  }

  /**
   * Replica path: batches already carry their offsets and epochs; the first baseOffset must equal
   * the log end offset when the append is written, and offsets must be contiguous.
   */
  async appendReplicated(batches: Buffer): Promise<void> {
    this.checkWritable();
    this.validateBatches(batches, false);
    await new Promise<AppendResult>((resolve, reject) => {
      this.enqueue({ kind: 'append', bytes: batches, leaderEpoch: undefined, resolve, reject, baseOffset: -1, lastOffset: -1, logAppendTimeMs: -1, newEpochs: [], crcChecked: false });
    });
  }

  /**
   * Whole batches from the one containing `offset`, up to `maxBytes`, but at least one whole batch
   * when any is readable (even if larger than maxBytes). Batches that reach `maxOffsetExclusive`
   * are left out (consumers pass the high watermark). An empty buffer when nothing is readable.
   * Throws OffsetOutOfRangeError outside [logStartOffset, logEndOffset].
   */
  async read(offset: number, maxBytes: number, maxOffsetExclusive: number = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > READ_BYTES_MAX) {
      throw new RangeError(`maxBytes must be an integer in [1, ${READ_BYTES_MAX}], got ${maxBytes}`);
    }
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new LogClosedError(this.dir, this.failure);
      if (!Number.isSafeInteger(offset) || offset < this.startOffset || offset > this.endOffset) {
        throw new OffsetOutOfRangeError(offset, this.startOffset, this.endOffset);
      }
      const limit = Math.min(maxOffsetExclusive, this.endOffset);
      if (offset >= limit) return EMPTY;
      const cached = this.tailCache.read(offset, maxBytes, limit);
      if (cached !== undefined) return cached;
      try {
        return await this.readFromSegments(offset, maxBytes, limit);
      } catch (error) {
        // Retention or truncation deleted a segment under the read: look again at the new log.
        if (!hasErrorCode(error, 'ENOENT') || attempt >= READ_ATTEMPTS_MAX) throw error;
      }
    }
  }

  /** Reads on into the following segments while maxBytes leaves room, so reads match the cache's. */
  private async readFromSegments(offset: number, maxBytes: number, limit: number): Promise<Buffer> {
    const segments = this.segments;
    const parts: Buffer[] = [];
    let totalBytes = 0;
    let nextOffset = offset;
    for (let i = floorSegment(segments, offset); i < segments.length && totalBytes < maxBytes; i++) {
      const segment = segments[i];
      const bytes = await this.readSegment(segment, nextOffset, maxBytes - totalBytes, limit, totalBytes === 0);
      if (bytes.length === 0) {
        if (totalBytes > 0) break;
        continue;
      }
      parts.push(bytes);
      totalBytes += bytes.length;
      nextOffset = lastOffsetIn(bytes) + 1;
      if (nextOffset < segment.nextOffset) break;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, totalBytes);
  }

  /**
   * Reads every batch of the log below its end as of the call and checks its framing, offsets and
   * CRC: the whole-log check for data recovery does not scan (sealed segments, the tail before its
   * last index entry). Returns the first damaged batch as a CorruptLogError, or undefined.
   * `throttle` is awaited with the bytes of each chunk before it is read (a broker-wide rate
   * limit); `stopped` ends the scrub early (undefined). Segments that retention or truncation
   * removes meanwhile are skipped; reads, appends and truncation go on as usual.
   */
  async scrub(throttle: (bytes: number) => Promise<void>, stopped: () => boolean): Promise<CorruptLogError | undefined> {
    const endOffset = this.endOffset;
    for (const segment of this.segments) {
      if (segment.baseOffset >= endOffset) break;
      let position = 0;
      let nextOffset = segment.baseOffset;
      const truncationsBefore = this.truncations;
      for (;;) {
        if (stopped() || this.closed) return undefined;
        // Truncated under the scan (and maybe rewritten): what was scanned says nothing now.
        if (this.truncations !== truncationsBefore) break;
        const endBytes = segment.sizeBytes;
        if (position >= endBytes || nextOffset >= endOffset || !this.segments.includes(segment)) break;
        await throttle(Math.min(SCRUB_CHUNK_BYTES, endBytes - position));
        let chunkBytes = 0;
        let result: ScanResult;
        try {
          result = await scanBatches(
            { path: segment.logPath, files: this.deps.files, fromPosition: position, endPosition: endBytes, checkCrc: true, firstOffsetMin: nextOffset, firstOffsetExact: true, batchBytesMax: MAX_BATCH_BYTES_LIMIT },
            (_buffer, _at, _position, size) => (chunkBytes += size) <= SCRUB_CHUNK_BYTES || chunkBytes === size,
          );
        } catch (error) {
          if (hasErrorCode(error, 'ENOENT')) break;
          throw error;
        }
        if (result.stop !== null && result.stop !== 'visitor') {
          // A truncation or retention that raced the scan explains a short read; damage does not go away.
          const stillThere = this.truncations === truncationsBefore && this.segments.includes(segment) && result.endPosition < segment.sizeBytes && result.nextOffset < this.endOffset;
          if (!stillThere) break;
          return new CorruptLogError(segment.logPath, result.nextOffset, result.endPosition, result.stop);
        }
        if (result.stop === null) break;
        position = result.endPosition;
        nextOffset = result.nextOffset;
      }
    }
    return undefined;
  }

  /**
   * The base offset of the first batch whose maxTimestamp is >= `timestampMs` (batch
   * granularity: records of that batch may be older), or null when no batch is that recent.
   */
  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new LogClosedError(this.dir, this.failure);
      try {
        for (const segment of this.segments) {
          if (segment.maxTimestampMs < timestampMs) continue;
          const found = await this.findTimestampInSegment(segment, timestampMs);
          if (found !== undefined) return found;
        }
        return null;
      } catch (error) {
        // Retention or truncation deleted a segment under the lookup: look again.
        if (!hasErrorCode(error, 'ENOENT') || attempt >= READ_ATTEMPTS_MAX) throw error;
      }
    }
  }

  /** The leader epoch (Raft term) of the batch holding `offset`, or undefined outside the log. */
  epochAt(offset: number): number | undefined {
    if (offset < this.startOffset || offset >= this.endOffset) return undefined;
    return this.epochCache.epochAt(offset);
  }

  /**
   * Raft's fast back-off: the largest offset at or below `maxOffset` whose epoch is at most
   * `epoch`, or undefined when there is none in the log.
   */
  lastOffsetWithEpochAtMost(epoch: number, maxOffset: number): number | undefined {
    const found = this.epochCache.lastOffsetWithEpochAtMost(epoch, Math.min(maxOffset, this.endOffset - 1));
    return found === undefined || found < this.startOffset ? undefined : found;
  }

  /**
   * Synchronous read from the tail cache only (for callers that cannot wait, such as a Raft
   * storage adapter serving recent entries): the same bytes `read` would return, or undefined
   * when `offset` is not cached.
   */
  readCached(offset: number, maxBytes: number, maxOffsetExclusive: number = Number.MAX_SAFE_INTEGER): Buffer | undefined {
    if (this.closed || offset < this.startOffset || offset > this.endOffset) return undefined;
    const limit = Math.min(maxOffsetExclusive, this.endOffset);
    if (offset >= limit) return EMPTY;
    return this.tailCache.read(offset, maxBytes, limit);
  }

  /** The epoch cache as [epoch, startOffset] pairs. */
  epochEntries(): Array<[number, number]> {
    return this.epochCache.toPairs();
  }

  /**
   * Drops every batch at or after `offset`, which must be a batch boundary within the log (Raft
   * follower truncation). The high watermark is lowered to `offset` if it was above.
   */
  truncateTo(offset: number): Promise<void> {
    return this.enqueueTask(() => this.truncateToNow(offset));
  }

  /** Deletes the whole log; it now starts (and ends) at `offset` (a Raft snapshot was installed). */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    assert.ok(Number.isSafeInteger(offset) && offset >= 0, 'offset must be a non-negative integer');
    return this.enqueueTask(() => this.truncateFullyNow(offset));
  }

  /**
   * Moves the log start offset up to `offset` (at most the high watermark), e.g. after a Raft
   * snapshot made the prefix unnecessary. Whole segments below it are deleted by the next
   * applyRetention; the offset is checkpointed so it survives a restart.
   */
  advanceLogStartOffset(offset: number): Promise<void> {
    return this.enqueueTask(async () => {
      if (offset <= this.startOffset) return;
      if (offset > this.committedOffset) throw new OffsetOutOfRangeError(offset, this.startOffset, this.committedOffset);
      await writeLogStartCheckpoint(this.writer, this.dir, offset, false);
      this.startOffset = offset;
      if (this.epochCache.truncateFromStart(offset)) await this.persistEpochs();
      this.notify();
    });
  }

  /**
   * Deletes the oldest whole segments that are older than retentionMs (by their largest batch
   * timestamp) or that the log can lose while staying above retentionBytes, and segments wholly
   * below the log start offset. Never deletes the active segment, nor a segment whose last offset
   * is at or above the high watermark (uncommitted data stays until Raft commits it).
   */
  applyRetention(nowMs: number): Promise<{ deletedSegments: number }> {
    let deletedSegments = 0;
    return this.enqueueTask(async () => {
      deletedSegments = await this.applyRetentionNow(nowMs);
    }).then(() => ({ deletedSegments }));
  }

  /** Writes the index tails and fdatasyncs the active segment. */
  flush(): Promise<void> {
    return this.enqueueTask(() => this.syncActive());
  }

  /**
   * Finishes queued work, syncs everything and writes the clean-shutdown marker (unless an I/O
   * failure makes the files suspect), so the next open skips recovery.
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  private async closeOnce(): Promise<void> {
    this.closing = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    try {
      if (this.failure === undefined) await this.enqueueTask(() => this.closeNow(), true);
    } catch (error) {
      // A log that failed is closed without the marker; the failure was reported to its appends.
      if (this.failure === undefined) throw error;
    } finally {
      this.closed = true;
      this.tailCache.clear();
      await Promise.allSettled(this.segments.map((segment) => segment.closeWriters()));
      for (const segment of this.segments) this.evictReadHandles(segment);
    }
  }

  /** Test-only (fault injection): per segment file name, the length known fdatasynced. */
  fsyncedLengths(): Map<string, number> {
    const lengths = new Map<string, number>();
    for (const segment of this.segments) lengths.set(basename(segment.logPath), segment.syncedBytes);
    return lengths;
  }

  /** Sealed segments whose indexes are in memory now (at most SEALED_INDEXES_IN_MEMORY_MAX). */
  get sealedIndexesInMemory(): number {
    return this.segments.filter((segment) => !segment.isWritable && segment.indexesLoaded).length;
  }

  /** The number of segments, for tests and metrics. */
  get segmentCount(): number {
    return this.segments.length;
  }

  /** Total bytes of all segment .log files. */
  get sizeBytes(): number {
    return this.segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  // ---- validation and the serial queue ----

  private checkWritable(): void {
    if (this.closing || this.closed || this.failure !== undefined) throw new LogClosedError(this.dir, this.failure);
  }

  /** Framing, size and (with `checkCrc`) CRC of every batch; throws the typed error for the first bad one. */
  private validateBatches(batches: Buffer, checkCrc: boolean): void {
    if (batches.length === 0) throw new CorruptBatchError('no batches', 0);
    if (batches.length > this.config.segmentBytes) throw new BatchTooLargeError(batches.length, this.config.segmentBytes, 'segmentBytes');
    let position = 0;
    while (position < batches.length) {
      const error = checkBatchAt(batches, position, batches.length, checkCrc);
      if (error !== null) throw new CorruptBatchError(error, position);
      const size = batchSizeAt(batches, position);
      if (size > this.config.maxBatchBytes) throw new BatchTooLargeError(size, this.config.maxBatchBytes, 'maxBatchBytes');
      position += size;
    }
  }

  private enqueue(op: QueuedOp): void {
    if (op.kind === 'append') {
      if (this.queuedAppendBytes + op.bytes.length > APPEND_QUEUE_BYTES_MAX) {
        op.reject(new LogBusyError(this.queuedAppendBytes, APPEND_QUEUE_BYTES_MAX));
        return;
      }
      this.queuedAppendBytes += op.bytes.length;
    }
    this.queue.push(op);
    if (!this.draining) void this.drain();
  }

  private enqueueTask(run: () => Promise<void>, allowWhileClosing = false): Promise<void> {
    if (!allowWhileClosing) {
      try {
        this.checkWritable();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<void>((resolve, reject) => this.enqueue({ kind: 'task', run, resolve, reject }));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        if (this.failure !== undefined) {
          for (const op of this.queue.splice(0)) op.reject(new LogClosedError(this.dir, this.failure));
          this.queuedAppendBytes = 0;
          return;
        }
        const head = this.queue[0];
        if (head.kind === 'task') {
          this.queue.shift();
          await head.run().then(head.resolve, head.reject);
          continue;
        }
        await this.writeGroup(this.takeAppendGroup());
      }
    } finally {
      this.draining = false;
    }
  }

  /** The appends at the head of the queue, up to APPEND_GROUP_BYTES_MAX (at least one). */
  private takeAppendGroup(): AppendOp[] {
    let count = 0;
    let groupBytes = 0;
    for (const op of this.queue) {
      if (op.kind !== 'append' || (count > 0 && groupBytes + op.bytes.length > APPEND_GROUP_BYTES_MAX)) break;
      count += 1;
      groupBytes += op.bytes.length;
    }
    this.queuedAppendBytes -= groupBytes;
    return this.queue.splice(0, count) as AppendOp[];
  }

  // ---- the write path ----

  /**
   * Writes a group of appends: offsets assigned in order, rolls and epoch checkpoints between
   * them where needed, one writev per segment, then the flush policy. Settles every op; never
   * throws.
   */
  private async writeGroup(group: AppendOp[]): Promise<void> {
    const nowMs = this.deps.clock.nowMs();
    const written: AppendOp[] = [];
    let run: AppendOp[] = [];
    let runBytes = 0;
    let nextOffset = this.endOffset;
    let index = 0;
    try {
      for (; index < group.length; index++) {
        const op = group[index];
        const error = this.prepareAppend(op, nextOffset, nowMs);
        if (error !== undefined) {
          op.reject(error);
          continue;
        }
        if (this.needsRoll(this.active, runBytes, op, nowMs) || op.newEpochs.length > 0) {
          await this.writeRun(run, nowMs);
          written.push(...run);
          run = [];
          runBytes = 0;
          if (this.needsRoll(this.active, 0, op, nowMs)) await this.roll(nowMs);
          if (op.newEpochs.length > 0) await this.recordEpochs(op.newEpochs);
        }
        run.push(op);
        runBytes += op.bytes.length;
        nextOffset = op.lastOffset + 1;
      }
      await this.writeRun(run, nowMs);
      written.push(...run);
      run = [];
    } catch (error) {
      // The op being placed (group[index]) was not in the run yet; it fails with the rest, or,
      // when only some batches were corrupt, goes back to the head of the queue with the others.
      const unwritten = error instanceof RunHadCorruptBatches ? [...error.survivors, ...group.slice(index)] : [];
      if (error instanceof RunHadCorruptBatches) this.requeue(unwritten);
      else for (const op of [...run, ...group.slice(index)]) op.reject(error);
      if (this.epochCache.truncateFromEnd(this.endOffset)) await this.persistEpochs().catch(() => undefined);
    }
    await this.completeGroup(written, nowMs);
  }

  /** Assigns offsets (and stamps, on the leader path); returns the error that rejects the op. */
  private prepareAppend(op: AppendOp, nextOffset: number, nowMs: number): Error | undefined {
    const bytes = op.bytes;
    let latest = this.epochCache.latestEpoch;
    op.newEpochs = [];
    let offset = nextOffset;
    if (op.leaderEpoch !== undefined) {
      if (latest !== undefined && op.leaderEpoch < latest) return new StaleLeaderEpochError(op.leaderEpoch, latest);
      if (latest === undefined || op.leaderEpoch > latest) op.newEpochs.push([op.leaderEpoch, nextOffset]);
      const logAppendTime = this.config.timestampType === 'log-append';
      for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
        stampOffsetAndEpoch(bytes, position, offset, op.leaderEpoch);
        if (logAppendTime) stampLogAppendTime(bytes, position, nowMs);
        offset += lastOffsetDeltaAt(bytes, position) + 1;
      }
      op.logAppendTimeMs = logAppendTime ? nowMs : -1;
    } else {
      for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
        const baseOffset = baseOffsetNumberAt(bytes, position);
        if (baseOffset !== offset) return new NonContiguousAppendError(baseOffset, offset);
        const epoch = partitionLeaderEpochAt(bytes, position);
        if (epoch < 0) return new CorruptBatchError(`replicated batch without a leader epoch (${epoch})`, position);
        if (latest !== undefined && epoch < latest) return new CorruptBatchError(`leader epoch ${epoch} is below ${latest}`, position);
        if (latest === undefined || epoch > latest) op.newEpochs.push([epoch, offset]);
        latest = epoch;
        offset += lastOffsetDeltaAt(bytes, position) + 1;
      }
    }
    op.baseOffset = nextOffset;
    op.lastOffset = offset - 1;
    return undefined;
  }

  private needsRoll(segment: LogSegment, pendingBytes: number, op: AppendOp, nowMs: number): boolean {
    const usedBytes = segment.sizeBytes + pendingBytes;
    if (usedBytes === 0) return false;
    if (usedBytes + op.bytes.length > this.config.segmentBytes) return true;
    if (op.lastOffset - segment.baseOffset > SEGMENT_OFFSETS_MAX) return true;
    return segment.firstAppendMs !== undefined && nowMs - segment.firstAppendMs >= this.config.segmentMs;
  }

  /**
   * Writes the run's bytes at the end of the active segment, then publishes them to readers.
   * CRCs not yet checked are checked while the write is in flight (the write runs off the main
   * thread), so a single appender does not pay for both in turn; a run with a corrupt batch is
   * cut from the file before anyone sees it.
   */
  private async writeRun(run: AppendOp[], nowMs: number): Promise<void> {
    if (run.length === 0) return;
    const segment = this.active;
    const startBytes = segment.sizeBytes;
    const written = segment.logFile.writeAll(
      run.map((op) => op.bytes),
      startBytes,
    );
    const corrupt = checkDeferredCrcs(run);
    try {
      await written;
    } catch (error) {
      // Cut any partial write so no torn batch stays in the file; if even that fails, the file's
      // tail is unknown and only a reopen (with recovery) can continue.
      await segment.logFile.truncate(startBytes).catch((truncateError: unknown) => this.fail(truncateError));
      throw toStorageError(error, segment.logPath);
    }
    if (corrupt.size > 0) {
      await segment.logFile.truncate(startBytes).catch((truncateError: unknown) => this.fail(truncateError));
      for (const [op, error] of corrupt) op.reject(error);
      throw new RunHadCorruptBatches(run.filter((op) => !corrupt.has(op)));
    }
    let position = startBytes;
    for (const op of run) {
      for (let at = 0; at < op.bytes.length; ) {
        const size = batchSizeAt(op.bytes, at);
        segment.onBatchWritten(op.bytes, at, position + at, size, this.config.indexIntervalBytes);
        at += size;
      }
      position += op.bytes.length;
      this.tailCache.append(op.baseOffset, op.lastOffset + 1, op.bytes);
    }
    segment.sizeBytes = position;
    segment.lastModifiedMs = nowMs;
    segment.firstAppendMs ??= nowMs;
    this.endOffset = segment.nextOffset;
    if (segment.indexTailsDue) {
      await segment.writeIndexTails().catch(() => {
        this.indexWriteFailed = true;
      });
    }
    this.notify();
  }

  /** Applies the flush policy to a written group, then resolves its ops. */
  private async completeGroup(written: AppendOp[], nowMs: number): Promise<void> {
    if (written.length === 0) return;
    const policy = this.config.flushPolicy;
    if (policy === 'always' || (policy === 'interval' && nowMs - this.lastSyncMs >= this.config.flushIntervalMs)) {
      try {
        await this.active.syncLog();
        this.lastSyncMs = nowMs;
      } catch (error) {
        // After a failed fdatasync the page cache may have dropped the dirty pages: nothing
        // written since the last good sync can be trusted, so the log stops (fsyncgate).
        this.fail(error);
        for (const op of written) op.reject(toStorageError(error, this.active.logPath));
        return;
      }
    } else if (policy === 'interval') {
      this.scheduleIntervalFlush();
    }
    for (const op of written) op.resolve({ baseOffset: op.baseOffset, lastOffset: op.lastOffset, logAppendTimeMs: op.logAppendTimeMs });
  }

  /** Puts appends back at the head of the queue, in order, to be written as a new group. */
  private requeue(ops: AppendOp[]): void {
    for (const op of ops) this.queuedAppendBytes += op.bytes.length;
    this.queue.unshift(...ops);
  }

  private scheduleIntervalFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.closing || this.failure !== undefined) return;
      this.enqueueTask(() => this.syncActive()).catch(() => undefined);
    }, this.config.flushIntervalMs);
    this.flushTimer.unref();
  }

  private async syncActive(): Promise<void> {
    const segment = this.active;
    await segment.writeIndexTails().catch(() => {
      this.indexWriteFailed = true;
    });
    try {
      await segment.syncLog();
    } catch (error) {
      this.fail(error);
      throw toStorageError(error, segment.logPath);
    }
    this.lastSyncMs = this.deps.clock.nowMs();
  }

  /** Seals the active segment and starts a new one at the log end offset. */
  private async roll(nowMs: number): Promise<void> {
    const old = this.active;
    let segment: LogSegment;
    try {
      await old.seal();
      segment = await createSegment(this.dir, this.endOffset, this.writer);
    } catch (error) {
      // A full disk leaves the old segment active so appends can resume (and roll) once space
      // is freed; any other failure (a failed fdatasync) stops the log.
      const typed = toStorageError(error, this.dir);
      if (!(typed instanceof StorageFullError)) this.fail(error);
      await old.openWriters().catch((reopenError: unknown) => this.fail(reopenError));
      throw typed;
    }
    segment.lastModifiedMs = nowMs;
    this.segments = [...this.segments, segment];
    this.touchSealed(old);
  }

  private async recordEpochs(epochs: Array<[number, number]>): Promise<void> {
    for (const [epoch, startOffset] of epochs) this.epochCache.assign(epoch, startOffset);
    await this.persistEpochs();
  }

  private async persistEpochs(): Promise<void> {
    await writeEpochCheckpoint(this.writer, this.dir, this.epochCache);
  }

  private fail(error: unknown): void {
    if (this.failure === undefined) this.failure = error ?? new Error('unknown I/O failure');
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        // A throwing listener is a bug in the caller; it must not fail an append whose bytes are
        // already written, so it surfaces as an uncaught exception instead.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private get active(): LogSegment {
    return this.segments[this.segments.length - 1];
  }

  // ---- reads ----

  /**
   * The segment's indexes, loading a sealed segment's from its files when they are not in
   * memory. Callers keep the returned objects rather than the segment's fields: a later load of
   * another segment may unload these.
   */
  private async useIndexes(segment: LogSegment): Promise<{ index: OffsetIndex; timeIndex: TimeIndex }> {
    while (!segment.indexesLoaded) {
      let loading = this.indexLoads.get(segment);
      if (loading === undefined) {
        loading = this.loadIndexes(segment).finally(() => this.indexLoads.delete(segment));
        this.indexLoads.set(segment, loading);
      }
      await loading;
    }
    this.touchSealed(segment);
    return { index: segment.index, timeIndex: segment.timeIndex };
  }

  private async loadIndexes(segment: LogSegment): Promise<void> {
    const { rebuilt } = await loadSealedIndexes(this.loadContext, segment);
    if (!rebuilt) return;
    // Rewrite the damaged files through the queue, so it cannot race retention deleting them.
    this.enqueueTask(async () => {
      if (!this.segments.includes(segment) || segment.isWritable) return;
      await this.useIndexes(segment);
      await segment.rewriteIndexFiles(true);
    }).catch(() => undefined);
  }

  /** Marks a sealed segment's indexes as just used; unloads the least recently used beyond the bound. */
  private touchSealed(segment: LogSegment): void {
    if (segment.isWritable) return;
    this.loadedSealed = this.loadedSealed.filter((loaded) => loaded !== segment);
    this.loadedSealed.push(segment);
    while (this.loadedSealed.length > SEALED_INDEXES_IN_MEMORY_MAX) {
      // A segment whose indexes are being (re)built stays until its load finishes.
      const victim = this.loadedSealed.findIndex((loaded) => !this.indexLoads.has(loaded));
      if (victim < 0) break;
      const [evicted] = this.loadedSealed.splice(victim, 1);
      if (!evicted.isWritable) evicted.unloadIndexes();
    }
  }

  private get loadContext(): SegmentLoadContext {
    return { dir: this.dir, files: this.deps.files, writer: this.writer, indexIntervalBytes: this.config.indexIntervalBytes };
  }

  /** Whole batches of one segment; with `atLeastOne`, the first even when larger than maxBytes. */
  private async readSegment(segment: LogSegment, offset: number, maxBytes: number, limit: number, atLeastOne: boolean): Promise<Buffer> {
    const { index } = await this.useIndexes(segment);
    const endBytes = segment.sizeBytes;
    let position = index.lookupPosition(offset);
    for (;;) {
      if (endBytes - position < BATCH_HEADER_BYTES) return EMPTY;
      const windowBytes = Math.min(endBytes - position, maxBytes + this.config.indexIntervalBytes);
      const data = await this.deps.files.readBytes(segment.logPath, position, windowBytes);
      if (data.length < BATCH_HEADER_BYTES) return EMPTY;
      let at = 0;
      let size = batchSizeAt(data, at);
      while (baseOffsetNumberAt(data, at) + lastOffsetDeltaAt(data, at) < offset) {
        // Bytes were validated when written; a nonsense length means a truncation raced this read.
        if (size < BATCH_HEADER_BYTES) return EMPTY;
        at += size;
        if (at + BATCH_HEADER_BYTES > data.length) break;
        size = batchSizeAt(data, at);
      }
      if (at + BATCH_HEADER_BYTES > data.length) {
        // The window ended before the wanted batch's header: read on from there.
        position += at;
        continue;
      }
      if (size < BATCH_HEADER_BYTES || size > MAX_BATCH_BYTES_LIMIT) return EMPTY;
      if (at + size <= data.length) return verified(takeWholeBatches(data, at, maxBytes, limit, atLeastOne), segment.logPath, position + at);
      if (!atLeastOne) return EMPTY;
      if (at > 0) {
        position += at;
        continue;
      }
      // The first wanted batch is larger than the window (and than maxBytes): it is sent whole.
      return this.readWholeBatch(segment, position, size, limit);
    }
  }

  private async readWholeBatch(segment: LogSegment, position: number, size: number, limit: number): Promise<Buffer> {
    const data = await this.deps.files.readBytes(segment.logPath, position, size);
    return data.length === size ? verified(takeWholeBatches(data, 0, size, limit, true), segment.logPath, position) : EMPTY;
  }

  private async findTimestampInSegment(segment: LogSegment, timestampMs: number): Promise<number | undefined> {
    const { index, timeIndex } = await this.useIndexes(segment);
    const startOffset = Math.max(timeIndex.lookupStartOffset(timestampMs), this.startOffset);
    let found: number | undefined;
    const minimumOffset = this.startOffset;
    await scanValidatedBatches(
      segment.logPath,
      this.deps.files,
      index.lookupPosition(startOffset),
      segment.sizeBytes,
      (buffer, at) => {
        const lastOffset = baseOffsetNumberAt(buffer, at) + lastOffsetDeltaAt(buffer, at);
        if (lastOffset < minimumOffset || maxTimestampAt(buffer, at) < timestampMs) return true;
        found = Math.max(baseOffsetNumberAt(buffer, at), minimumOffset);
        return false;
      },
    );
    return found;
  }

  // ---- truncation, retention, close ----

  private async truncateToNow(offset: number): Promise<void> {
    this.truncations += 1;
    if (offset >= this.endOffset) return;
    if (offset < this.startOffset) throw new OffsetOutOfRangeError(offset, this.startOffset, this.endOffset);
    const segments = this.segments;
    const targetIndex = floorSegment(segments, offset);
    const target = segments[targetIndex];
    const position = await this.batchBoundary(target, offset);
    // Readers see the truncated log from here on; the files follow.
    this.segments = segments.slice(0, targetIndex + 1);
    this.endOffset = offset;
    this.committedOffset = Math.min(this.committedOffset, offset);
    this.tailCache.clear();
    try {
      const removed = segments.slice(targetIndex + 1).reverse();
      for (const segment of removed) await this.deleteSegment(segment);
      if (removed.length > 0) await this.writer.syncDirectory(this.dir);
      await this.useIndexes(target);
      this.loadedSealed = this.loadedSealed.filter((segment) => segment !== target);
      await target.openWriters();
      await target.truncateTo(position, offset);
      await this.recomputeMaxTimestamp(target);
      await target.syncLog();
      if (this.epochCache.truncateFromEnd(offset)) await this.persistEpochs();
    } catch (error) {
      // Memory already shows the truncated log; files that do not match it need a reopen.
      this.fail(error);
      throw toStorageError(error, this.dir);
    }
    this.notify();
  }

  /** The file position where the batch with base offset `offset` starts; throws if none does. */
  private async batchBoundary(segment: LogSegment, offset: number): Promise<number> {
    const { index } = await this.useIndexes(segment);
    let boundary: number | undefined;
    const result = await scanValidatedBatches(
      segment.logPath,
      this.deps.files,
      index.lookupPosition(offset),
      segment.sizeBytes,
      (buffer, at, position) => {
        const baseOffset = baseOffsetNumberAt(buffer, at);
        if (baseOffset + lastOffsetDeltaAt(buffer, at) < offset) return true;
        if (baseOffset === offset) boundary = position;
        return false;
      },
    );
    if (boundary === undefined && result.stop === null && result.nextOffset === offset) boundary = result.endPosition;
    if (boundary === undefined) throw new RangeError(`offset ${offset} is not at a batch boundary of ${segment.logPath}`);
    return boundary;
  }

  /** After truncation the segment's largest timestamp may have been cut: rescan what is left. */
  private async recomputeMaxTimestamp(segment: LogSegment): Promise<void> {
    const entries = segment.timeIndex.entries;
    segment.maxTimestampMs = entries === 0 ? Number.NEGATIVE_INFINITY : segment.timeIndex.timestampAt(entries - 1);
    segment.offsetOfMaxTimestamp = entries === 0 ? segment.baseOffset : segment.timeIndex.offsetAt(entries - 1);
    await scanValidatedBatches(
      segment.logPath,
      this.deps.files,
      segment.index.lookupPosition(segment.offsetOfMaxTimestamp),
      segment.sizeBytes,
      (buffer, at) => {
        const timestampMs = maxTimestampAt(buffer, at);
        if (timestampMs > segment.maxTimestampMs) {
          segment.maxTimestampMs = timestampMs;
          segment.offsetOfMaxTimestamp = baseOffsetNumberAt(buffer, at);
        }
        return true;
      },
    );
  }

  private async truncateFullyNow(offset: number): Promise<void> {
    this.truncations += 1;
    // The checkpoint goes first: if we crash part-way, open finishes the job.
    await writeLogStartCheckpoint(this.writer, this.dir, offset, true);
    const old = this.segments;
    // Readers see the empty log from here on; the files follow.
    this.segments = [];
    this.startOffset = offset;
    this.endOffset = offset;
    this.committedOffset = offset;
    this.tailCache.clear();
    this.epochCache.clear();
    try {
      for (const segment of [...old].reverse()) await this.deleteSegment(segment);
      this.segments = [await createSegment(this.dir, offset, this.writer)];
      await this.persistEpochs();
      await writeLogStartCheckpoint(this.writer, this.dir, offset, false);
    } catch (error) {
      // The checkpoint says a full truncation is pending: a reopen completes it.
      this.fail(error);
      throw toStorageError(error, this.dir);
    }
    this.notify();
  }

  private async applyRetentionNow(nowMs: number): Promise<number> {
    const segments = this.segments;
    // Only sealed segments that end below the high watermark may go: on a Raft follower that lags,
    // entries at or above it are not known committed and the log may still be truncated and
    // rewritten there; deleting them would lose data the group has not agreed on. The next
    // segment's base offset is past this segment's last offset, so `<=` bounds the last one.
    let eligible = 0;
    while (eligible < segments.length - 1 && segments[eligible + 1].baseOffset <= this.committedOffset) eligible++;
    let deleteCount = 0;
    while (deleteCount < eligible && segments[deleteCount].retentionTimestampMs < nowMs - this.config.retentionMs) deleteCount++;
    let totalBytes = segments.slice(deleteCount).reduce((sum, segment) => sum + segment.sizeBytes, 0);
    while (deleteCount < eligible && totalBytes - segments[deleteCount].sizeBytes >= this.config.retentionBytes) {
      totalBytes -= segments[deleteCount].sizeBytes;
      deleteCount++;
    }
    while (deleteCount < eligible && segments[deleteCount + 1].baseOffset <= this.startOffset) deleteCount++;
    if (deleteCount === 0) return 0;
    assert.ok(segments[deleteCount].baseOffset <= this.committedOffset, 'retention would delete offsets at or above the high watermark');
    // Readers see the shorter log from here on; the files follow. Nothing is written before the
    // files are gone, so retention frees space even on a full disk; the new log start is the first
    // segment's base offset, which open derives from the file names, so it needs no checkpoint.
    const remaining = segments.slice(deleteCount);
    this.segments = remaining;
    const startAdvanced = remaining[0].baseOffset > this.startOffset;
    if (startAdvanced) {
      this.startOffset = remaining[0].baseOffset;
      this.committedOffset = Math.max(this.committedOffset, this.startOffset);
    }
    for (const segment of segments.slice(0, deleteCount)) await this.deleteSegment(segment);
    // Best effort: open trims epochs before the log start anyway.
    if (startAdvanced && this.epochCache.truncateFromStart(this.startOffset)) await this.persistEpochs().catch(() => undefined);
    this.notify();
    return deleteCount;
  }

  private async deleteSegment(segment: LogSegment): Promise<void> {
    this.loadedSealed = this.loadedSealed.filter((loaded) => loaded !== segment);
    await segment.closeWriters();
    // The .log goes first: a crash in between leaves index files without a log, which open removes.
    for (const path of [segment.logPath, segment.indexPath, segment.timeIndexPath]) {
      await unlink(path).catch((error: unknown) => {
        if (!hasErrorCode(error, 'ENOENT')) throw error;
      });
      this.deps.files.evict(path);
    }
  }

  private evictReadHandles(segment: LogSegment): void {
    for (const path of [segment.logPath, segment.indexPath, segment.timeIndexPath]) this.deps.files.evict(path);
  }

  private async closeNow(): Promise<void> {
    const segment = this.active;
    segment.maybeAppendTimeIndexEntry();
    await segment.writeIndexTails(true).catch(() => {
      this.indexWriteFailed = true;
    });
    await segment.syncLog();
    await segment.closeWriters();
    if (this.indexWriteFailed) return;
    await writeCleanShutdownMarker(this.writer, this.dir);
  }
}

// ---- the directory as a whole ----

function floorSegment(segments: readonly LogSegment[], offset: number): number {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (segments[middle].baseOffset <= offset) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/** From `at`, whole batches up to `maxBytes` (or at least one) that end before `limit`. */
function takeWholeBatches(data: Buffer, at: number, maxBytes: number, limit: number, atLeastOne: boolean): Buffer {
  let end = at;
  while (end + BATCH_HEADER_BYTES <= data.length) {
    const size = batchSizeAt(data, end);
    if (size < BATCH_HEADER_BYTES || end + size > data.length) break;
    if ((end > at || !atLeastOne) && end - at + size > maxBytes) break;
    if (baseOffsetNumberAt(data, end) + lastOffsetDeltaAt(data, end) >= limit) break;
    end += size;
  }
  return data.subarray(at, end);
}

/** Batches read back from the disk are CRC-checked before they are served (CorruptLogError). */
function verified(batches: Buffer, path: string, filePosition: number): Buffer {
  verifyStoredBatches(batches, path, filePosition);
  return batches;
}

function lastOffsetIn(batches: Buffer): number {
  let at = 0;
  let lastOffset = -1;
  while (at < batches.length) {
    lastOffset = baseOffsetNumberAt(batches, at) + lastOffsetDeltaAt(batches, at);
    at += batchSizeAt(batches, at);
  }
  return lastOffset;
}

/** Checks the CRCs of ops that still need it; returns the ops with a corrupt batch and why. */
function checkDeferredCrcs(run: readonly AppendOp[]): Map<AppendOp, CorruptBatchError> {
  const corrupt = new Map<AppendOp, CorruptBatchError>();
  for (const op of run) {
    if (op.crcChecked) continue;
    for (let position = 0; position < op.bytes.length; position += batchSizeAt(op.bytes, position)) {
      if (checkBatchAt(op.bytes, position, op.bytes.length, true) === null) continue;
      corrupt.set(op, new CorruptBatchError('bad-crc', position));
      break;
    }
    op.crcChecked = true;
  }
  return corrupt;
}
