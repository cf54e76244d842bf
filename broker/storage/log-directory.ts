/**
 * The files of a log directory beside the segments' contents: creating and deleting segment
 * files, cleaning up after a crash, and the small checkpoint files (log start offset, leader
 * epochs, clean-shutdown marker). See README.md for their formats.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { baseOffsetNumberAt, partitionLeaderEpochAt } from '../../record/batch-header.js';
import { scanValidatedBatches } from './batch-scanner.js';
import { readCheckpointFile, writeCheckpointFile } from './checkpoint-file.js';
import type { FileHandleCache } from './file-handle-cache.js';
import type { FileWriter } from './file-writer.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import { INDEX_SUFFIX, LOG_SUFFIX, LogSegment, parseSegmentFileName, TIME_INDEX_SUFFIX } from './log-segment.js';
import { OffsetIndex } from './offset-index.js';
import type { SegmentLoadContext } from './segment-loader.js';
import { TimeIndex } from './time-index.js';

export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';
export const LOG_START_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
const CLEAN_SHUTDOWN_HEADER = 'brook-clean-shutdown v1';
const LEADER_EPOCH_HEADER = 'brook-leader-epochs v1';
const LOG_START_HEADER = 'brook-log-start-offset v1';

/** Written by close() once everything is synced; open() skips the CRC scan when it finds it. */
export async function writeCleanShutdownMarker(writer: FileWriter, dir: string): Promise<void> {
  await writeCheckpointFile(writer, join(dir, CLEAN_SHUTDOWN_FILE), CLEAN_SHUTDOWN_HEADER, []);
}

export async function writeEpochCheckpoint(writer: FileWriter, dir: string, cache: LeaderEpochCache): Promise<void> {
  await writeCheckpointFile(writer, join(dir, LEADER_EPOCH_CHECKPOINT_FILE), LEADER_EPOCH_HEADER, cache.toLines());
}

/** Creates an empty segment (cutting any stale files of that name) and opens it for writing. */
export async function createSegment(dir: string, baseOffset: number, writer: FileWriter): Promise<LogSegment> {
  const segment = new LogSegment(dir, baseOffset, new OffsetIndex(baseOffset), new TimeIndex(baseOffset), writer);
  await segment.openWriters();
  try {
    // Stale files of that name (from an interrupted truncation) must not leak into the new segment.
    await segment.rewriteIndexFiles();
    await segment.logFile.truncate(0);
    await writer.syncDirectory(dir);
  } catch (error) {
    await segment.closeWriters();
    throw error;
  }
  return segment;
}

/** Deletes temporary and orphaned files; returns the segment base offsets, sorted. */
export async function removeStrayFiles(dir: string, names: readonly string[]): Promise<number[]> {
  const bases = new Set<number>();
  for (const name of names) {
    const base = parseSegmentFileName(name, LOG_SUFFIX);
    if (base !== undefined) bases.add(base);
  }
  for (const name of names) {
    const indexBase = parseSegmentFileName(name, INDEX_SUFFIX) ?? parseSegmentFileName(name, TIME_INDEX_SUFFIX);
    const orphan = indexBase !== undefined && !bases.has(indexBase);
    if (orphan || name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => undefined);
  }
  return [...bases].sort((a, b) => a - b);
}

/** Deletes the files of the given segments, newest first, then syncs the directory. */
export async function deleteSegmentFilesByBase(dir: string, bases: readonly number[], files: FileHandleCache, writer: FileWriter): Promise<void> {
  for (const base of [...bases].reverse()) {
    const segment = new LogSegment(dir, base, new OffsetIndex(base), new TimeIndex(base), writer);
    for (const path of [segment.logPath, segment.indexPath, segment.timeIndexPath]) {
      await unlink(path).catch(() => undefined);
      files.evict(path);
    }
  }
  await writer.syncDirectory(dir);
}

export interface LogStartCheckpoint {
  readonly offset: number;
  /** truncateFullyAndStartAt began but may not have finished deleting the old segments. */
  readonly fullTruncationPending: boolean;
}

export async function readLogStartCheckpoint(dir: string): Promise<LogStartCheckpoint | undefined> {
  const lines = await readCheckpointFile(join(dir, LOG_START_CHECKPOINT_FILE), LOG_START_HEADER);
  if (lines === undefined || lines.length !== 2 || !/^[0-9]+$/.test(lines[0]) || !/^[01]$/.test(lines[1])) return undefined;
  const offset = Number(lines[0]);
  return Number.isSafeInteger(offset) ? { offset, fullTruncationPending: lines[1] === '1' } : undefined;
}

export async function writeLogStartCheckpoint(writer: FileWriter, dir: string, offset: number, fullTruncationPending: boolean): Promise<void> {
  await writeCheckpointFile(writer, join(dir, LOG_START_CHECKPOINT_FILE), LOG_START_HEADER, [String(offset), fullTruncationPending ? '1' : '0']);
}

/**
 * The epoch cache from its checkpoint, completed with epochs the tail scan saw; rebuilt from
 * every batch header when the checkpoint is missing or unreadable.
 */
export async function loadEpochCache(
  dir: string,
  segments: readonly LogSegment[],
  context: SegmentLoadContext,
  scannedEpochs: ReadonlyArray<{ epoch: number; startOffset: number }>,
  clean: boolean,
): Promise<{ cache: LeaderEpochCache; changed: boolean }> {
  const lines = await readCheckpointFile(join(dir, LEADER_EPOCH_CHECKPOINT_FILE), LEADER_EPOCH_HEADER);
  const loaded = lines === undefined ? undefined : LeaderEpochCache.fromLines(lines);
  if (loaded !== undefined) {
    let changed = false;
    if (!clean) {
      for (const { epoch, startOffset } of scannedEpochs) {
        const latest = loaded.latestEpoch;
        if (latest === undefined || epoch > latest) changed = loaded.assign(epoch, startOffset) || changed;
      }
    }
    return { cache: loaded, changed };
  }
  const cache = new LeaderEpochCache();
  for (const segment of segments) {
    await scanValidatedBatches(
      segment.logPath,
      context.files,
      0,
      segment.sizeBytes,
      (buffer, at) => {
        const epoch = partitionLeaderEpochAt(buffer, at);
        const latest = cache.latestEpoch;
        if (latest === undefined || epoch > latest) cache.assign(epoch, baseOffsetNumberAt(buffer, at));
        return true;
      },
    );
  }
  return { cache, changed: true };
}
