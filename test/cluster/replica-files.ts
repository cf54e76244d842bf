/**
 * Reads a partition replica straight from a broker's data dir (`replicas/<topic>-<partition>-<groupId>/`,
 * segment files `<20-digit base offset>.log` of RecordBatch v2 frames back to back), so a test can
 * compare what each replica holds without asking the broker, which serves reads from leaders only.
 * Reading while the broker runs is fine: batches below the high watermark were written (and synced)
 * before the high watermark passed them, and a torn tail batch is left out.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { iterateBatches, iterateRecords } from '../../record/record-batch.js';

/** What one replica holds below an end offset. */
export interface ReplicaContent {
  readonly dir: string;
  /** The batches below endOffset, byte for byte as stored (control batches included). */
  readonly bytes: Buffer;
  /** Data records below endOffset as [offset, value] (control batches left out), in log order. */
  readonly records: Array<[number, string]>;
  /** One past the last offset of the last whole batch in the files (may exceed endOffset). */
  readonly logEndOffset: number;
}

/** The replica dir of `topic`/`partition` in a broker's data dir, or undefined when it has none. */
export function replicaDirOf(dataDir: string, topic: string, partition: number): string | undefined {
  const parent = join(dataDir, 'replicas');
  if (!existsSync(parent)) return undefined;
  const prefix = `${topic}-${partition}-`;
  const matches = readdirSync(parent).filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)));
  assert.ok(matches.length <= 1, `one replica dir for ${topic}/${partition} in ${parent}, found ${matches.join(', ')}`);
  return matches.length === 0 ? undefined : join(parent, matches[0]);
}

/** Every replica dir name in a broker's data dir (`<topic>-<partition>-<groupId>`). */
export function replicaDirNames(dataDir: string): string[] {
  const parent = join(dataDir, 'replicas');
  return existsSync(parent) ? readdirSync(parent) : [];
}

/**
 * Reads the replica's segments and keeps the whole batches below `endOffset`. A batch that
 * straddles endOffset is an assertion failure: the high watermark is always at a batch boundary.
 */
export function readReplica(dir: string, endOffset: number): ReplicaContent {
  const segments = readdirSync(dir)
    .filter((name) => /^\d{20}\.log$/.test(name))
    .sort();
  const kept: Buffer[] = [];
  const records: Array<[number, string]> = [];
  let logEndOffset = 0;
  for (const segment of segments) {
    const bytes = readFileSync(join(dir, segment));
    let keptEnd = 0;
    for (const batch of iterateBatches(bytes)) {
      const lastOffset = batch.info.baseOffset + batch.info.lastOffsetDelta;
      logEndOffset = lastOffset + 1;
      if (batch.info.baseOffset >= endOffset) break;
      assert.ok(lastOffset < endOffset, `batch ${batch.info.baseOffset}..${lastOffset} of ${dir} straddles end offset ${endOffset}`);
      keptEnd = batch.pos + batch.size;
    }
    if (keptEnd === 0) continue;
    const slice = bytes.subarray(0, keptEnd);
    kept.push(slice);
    for (const record of iterateRecords(slice)) records.push([record.offset, record.value === null ? '' : record.value.toString()]);
  }
  return { dir, bytes: Buffer.concat(kept), records, logEndOffset };
}
