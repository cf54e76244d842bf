/**
 * The mapping between Raft entries and record batches (see README.md): an entry is one or more
 * record batches appended together; entry.index is the first batch's baseOffset, entry.count the
 * number of offsets they cover, entry.term their partitionLeaderEpoch. Raft's own entries become
 * control batches: the no-op a new leader appends is a LeaderChange marker, a configuration
 * change a Voters record whose value is encodeConfChange(change).
 *
 * Control batches are encoded deterministically (timestamp 0, no producer), so that every replica
 * writes the same bytes for them and the logs stay byte-identical.
 */
import assert from 'node:assert/strict';
import {
  BATCH_HEADER_BYTES,
  baseOffsetNumberAt,
  batchSizeAt,
  checkBatchAt,
  isControlBatch,
  lastOffsetDeltaAt,
  partitionLeaderEpochAt,
  stampOffsetAndEpoch,
} from '../../record/batch-header.js';
import { ControlRecordType, decodeControlKey, encodeControlBatch } from '../../record/control-record.js';
import { decodeRecords, readBatchInfo } from '../../record/record-batch.js';
import { EntryType, type Entry } from '../../raft/types.js';
import { BatchTooLargeError, CorruptBatchError } from '../storage/storage-errors.js';

/** The timestamp of control batches: fixed, so all replicas encode the same bytes. */
const CONTROL_BATCH_TIMESTAMP_MS = 0;
const EMPTY = new Uint8Array(0);

/** A Buffer view of an entry's data, without copying. */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Checks that `batches` is a sequence of whole, valid batches (framing, magic, CRC, size) and
 * returns the number of offsets they cover; throws the storage's typed error for bad input.
 */
export function checkBatches(batches: Buffer, maxBatchBytes: number): number {
  if (batches.length === 0) throw new CorruptBatchError('no batches', 0);
  let offsets = 0;
  for (let position = 0; position < batches.length; ) {
    const problem = checkBatchAt(batches, position, batches.length, true);
    if (problem !== null) throw new CorruptBatchError(problem, position);
    const size = batchSizeAt(batches, position);
    if (size > maxBatchBytes) throw new BatchTooLargeError(size, maxBatchBytes, 'maxBatchBytes');
    offsets += lastOffsetDeltaAt(batches, position) + 1;
    position += size;
  }
  return offsets;
}

/**
 * Why a Normal entry received from a peer cannot be written, or undefined when it can: its batches
 * must be valid (CRC included) and carry exactly the entry's offsets and term. Checked before Raft
 * sees the message, because once Raft has accepted an entry the replica must write it.
 */
export function entryProblem(entry: Entry, maxBatchBytes: number): string | undefined {
  if (entry.type !== EntryType.Normal) return undefined;
  const batches = asBuffer(entry.data);
  let offsets: number;
  try {
    offsets = checkBatches(batches, maxBatchBytes);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (offsets !== entry.count) return `entry at ${entry.index} covers ${entry.count} offsets but its batches ${offsets}`;
  let offset = entry.index;
  for (let position = 0; position < batches.length; position += batchSizeAt(batches, position)) {
    if (baseOffsetNumberAt(batches, position) !== offset) return `batch at byte ${position} of entry ${entry.index} has base offset ${baseOffsetNumberAt(batches, position)}, want ${offset}`;
    if (partitionLeaderEpochAt(batches, position) !== entry.term) return `batch at byte ${position} of entry ${entry.index} has epoch ${partitionLeaderEpochAt(batches, position)}, want ${entry.term}`;
    offset += lastOffsetDeltaAt(batches, position) + 1;
  }
  return undefined;
}

/** Stamps the leader's offsets (from `baseOffset`) and epoch into every batch, in place (outside the CRC). */
export function stampBatches(batches: Buffer, baseOffset: number, epoch: number): void {
  let offset = baseOffset;
  for (let position = 0; position < batches.length; position += batchSizeAt(batches, position)) {
    stampOffsetAndEpoch(batches, position, offset, epoch);
    offset += lastOffsetDeltaAt(batches, position) + 1;
  }
}

/** The bytes an entry is stored as: its batches, or the control batch standing for a Raft entry. */
export function entryToBatches(entry: Entry): Buffer {
  switch (entry.type) {
    case EntryType.Normal:
      return asBuffer(entry.data);
    case EntryType.NoOp:
      return encodeControlBatch(ControlRecordType.LeaderChange, null, controlOptions(entry));
    case EntryType.ConfChange:
      return encodeControlBatch(ControlRecordType.Voters, Buffer.from(entry.data), controlOptions(entry));
  }
}

function controlOptions(entry: Entry): { baseOffset: number; partitionLeaderEpoch: number; nowMs: number } {
  assert.equal(entry.count, 1, 'a Raft control entry covers one offset');
  return { baseOffset: entry.index, partitionLeaderEpoch: entry.term, nowMs: CONTROL_BATCH_TIMESTAMP_MS };
}

/** One entry per batch of `bytes` (whole batches read back from the log). */
export function entriesFromBatches(bytes: Buffer): Entry[] {
  const entries: Entry[] = [];
  for (let position = 0; position < bytes.length; ) {
    assert.ok(bytes.length - position >= BATCH_HEADER_BYTES, 'a log read returned a partial batch');
    const size = batchSizeAt(bytes, position);
    const batch = bytes.subarray(position, position + size);
    const index = baseOffsetNumberAt(bytes, position);
    const count = lastOffsetDeltaAt(bytes, position) + 1;
    const term = partitionLeaderEpochAt(bytes, position);
    entries.push(isControlBatch(bytes, position) ? controlEntry(batch, index, count, term) : { index, count, term, type: EntryType.Normal, data: batch });
    position += size;
  }
  return entries;
}

/** A control batch read back: Brook's Raft markers become their entries again; others stay batches. */
function controlEntry(batch: Buffer, index: number, count: number, term: number): Entry {
  const records = decodeRecords(batch, 0, readBatchInfo(batch));
  if (records.length === 1) {
    const type = decodeControlKey(records[0].key).type;
    if (type === ControlRecordType.LeaderChange) return { index, count, term, type: EntryType.NoOp, data: EMPTY };
    if (type === ControlRecordType.Voters && records[0].value !== null) {
      return { index, count, term, type: EntryType.ConfChange, data: new Uint8Array(records[0].value) };
    }
  }
  return { index, count, term, type: EntryType.Normal, data: batch };
}
