/**
 * Disk faults on a stopped broker's data dir: a power loss (every segment and index file cut back
 * to the length its last fdatasync covered, from the broker's fsync journal) and a bit flip in a
 * committed batch of one replica. Both run only while the broker process is dead (SIGKILLed), so
 * the broker meets the damage the way it would after a crash: on open.
 *
 * The fsync journal is written by the broker itself when BROOK_TEST_FSYNC_JOURNAL is set
 * (broker/storage/README.md, "Test-only hooks"): one "<absolute path> <synced length>" line per
 * successful fdatasync; the last line of a path is its durable length.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iterateBatches } from '../../record/record-batch.js';
import type { TestRandom } from '../fixtures/test-random.js';

/** Files a power loss can shorten: segments and their indexes. raft-state and checkpoints are renamed into place atomically. */
const CUT_FILE_PATTERN = /\.(log|index|timeindex)$/;
/** The RecordBatch v2 header: a bit flipped at or after it lies in the CRC-covered records. */
const BATCH_HEADER_BYTES = 61;
/** Directory depth searched below a data dir (replicas/<dir>/file, controller/log/file). */
const DATA_DIR_DEPTH_MAX = 4;

/** Durable length per absolute file path, from a journal; the journal is rewritten compacted (one line per file). */
export function readFsyncJournal(journalPath: string): Map<string, number> {
  const synced = new Map<string, number>();
  if (!existsSync(journalPath)) return synced;
  for (const line of readFileSync(journalPath, 'utf8').split('\n')) {
    const space = line.lastIndexOf(' ');
    // A line torn by the SIGKILL has no length (or a partial one that is at most too short).
    if (space <= 0) continue;
    const length = Number(line.slice(space + 1));
    if (Number.isSafeInteger(length) && length >= 0) synced.set(line.slice(0, space), length);
  }
  // The broker is dead while this runs, so compacting cannot race with its appends.
  writeFileSync(journalPath, [...synced].map(([path, length]) => `${path} ${length}\n`).join(''));
  return synced;
}

function filesBelow(dir: string, depth: number, into: string[]): string[] {
  if (depth > DATA_DIR_DEPTH_MAX || !existsSync(dir)) return into;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      // Removed replicas wait in trash/ for deletion: nothing reads them again.
      if (entry.name !== 'trash') filesBelow(path, depth + 1, into);
    } else if (entry.isFile()) {
      into.push(path);
    }
  }
  return into;
}

export interface PowerLossResult {
  readonly filesCut: number;
  readonly bytesCut: number;
}

/**
 * Simulates a power loss on a dead broker: every segment and index file longer than its journaled
 * durable length is cut back to it (a file never synced to 0).
 */
export function cutToSyncedLengths(dataDir: string, journalPath: string): PowerLossResult {
  const synced = readFsyncJournal(journalPath);
  let filesCut = 0;
  let bytesCut = 0;
  for (const path of filesBelow(dataDir, 0, [])) {
    if (!CUT_FILE_PATTERN.test(path)) continue;
    const size = statSync(path).size;
    const durable = Math.min(size, synced.get(path) ?? 0);
    if (durable === size) continue;
    truncateSync(path, durable);
    filesCut++;
    bytesCut += size - durable;
  }
  return { filesCut, bytesCut };
}

export interface BitFlipResult {
  readonly file: string;
  readonly positionBytes: number;
  readonly bit: number;
  readonly batchBaseOffset: number;
}

/**
 * Flips one bit inside the records of a batch of one replica of `topic` held by a dead broker.
 * The byte is drawn uniformly over the replica's committed bytes: every sealed segment whole, and
 * the first `committedFraction` of the last segment's batches (the rest may be an uncommitted or
 * torn tail). So flips land in sealed segments, which recovery trusts, as often as their share
 * of the bytes. Returns undefined when the broker holds no such batch.
 */
export function flipCommittedBit(dataDir: string, topic: string, random: TestRandom, committedFraction = 0.8): BitFlipResult | undefined {
  const replicasDir = join(dataDir, 'replicas');
  if (!existsSync(replicasDir)) return undefined;
  const candidates = readdirSync(replicasDir).filter((name) => name.startsWith(`${topic}-`)).sort();
  if (candidates.length === 0) return undefined;
  const dir = join(replicasDir, random.pick(candidates));
  const segments = readdirSync(dir).filter((name) => /^\d{20}\.log$/.test(name)).sort();
  const usable = segments.map((name, index) => {
    const bytes = readFileSync(join(dir, name));
    const batches = [...iterateBatches(bytes, { verifyCrc: false })].filter((batch) => batch.size > BATCH_HEADER_BYTES);
    const kept = index === segments.length - 1 ? batches.slice(0, Math.floor(batches.length * committedFraction)) : batches;
    const usableBytes = kept.length === 0 ? 0 : kept.at(-1)!.pos + kept.at(-1)!.size;
    return { file: join(dir, name), bytes, batches: kept, usableBytes };
  });
  const totalBytes = usable.reduce((sum, segment) => sum + segment.usableBytes, 0);
  if (totalBytes === 0) return undefined;
  let target = random.below(totalBytes);
  const segment = usable.find((candidate) => {
    if (target < candidate.usableBytes) return true;
    target -= candidate.usableBytes;
    return false;
  })!;
  const batch = segment.batches.find((candidate) => candidate.pos + candidate.size > target)!;
  const positionBytes = batch.pos + BATCH_HEADER_BYTES + random.below(batch.size - BATCH_HEADER_BYTES);
  assert.ok(positionBytes < batch.pos + batch.size);
  const bit = random.below(8);
  segment.bytes[positionBytes] ^= 1 << bit;
  writeFileSync(segment.file, segment.bytes);
  return { file: segment.file, positionBytes, bit, batchBaseOffset: batch.info.baseOffset };
}
