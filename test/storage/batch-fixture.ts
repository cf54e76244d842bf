/**
 * Builds valid RecordBatch v2 frames for storage tests: real header fields and a correct CRC, with
 * an opaque records region (storage never looks inside it).
 */
import { BATCH_HEADER_BYTES, OFFSET_CRC, computeBatchCrc, writeBatchHeader } from '../../record/batch-header.js';

export interface BatchFixture {
  /** Records in the batch; lastOffsetDelta = recordCount - 1. */
  readonly recordCount?: number;
  /** Bytes of the (opaque) records region, filled from `seed`. */
  readonly recordsBytes?: number;
  readonly baseOffset?: number;
  readonly leaderEpoch?: number;
  readonly baseTimestampMs?: number;
  readonly maxTimestampMs?: number;
  readonly attributes?: number;
  /** Varies the records' content. */
  readonly seed?: number;
}

export function buildBatch(fixture: BatchFixture = {}): Buffer {
  const recordCount = fixture.recordCount ?? 1;
  const recordsBytes = fixture.recordsBytes ?? 16;
  const size = BATCH_HEADER_BYTES + recordsBytes;
  const batch = Buffer.alloc(size);
  const baseTimestampMs = fixture.baseTimestampMs ?? 1_700_000_000_000;
  writeBatchHeader(batch, 0, size, {
    baseOffset: fixture.baseOffset ?? 0,
    partitionLeaderEpoch: fixture.leaderEpoch ?? -1,
    attributes: fixture.attributes ?? 0,
    lastOffsetDelta: recordCount - 1,
    baseTimestampMs,
    maxTimestampMs: fixture.maxTimestampMs ?? baseTimestampMs,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    recordCount,
  });
  let state = (fixture.seed ?? 1) >>> 0 || 1;
  for (let at = BATCH_HEADER_BYTES; at < size; at++) {
    state = (state * 1103515245 + 12345) >>> 0;
    batch[at] = state >>> 24;
  }
  batch.writeUInt32BE(computeBatchCrc(batch, 0, size), OFFSET_CRC);
  return batch;
}

/** Several batches concatenated, as one append would receive them. */
export function buildBatches(fixtures: readonly BatchFixture[]): Buffer {
  return Buffer.concat(fixtures.map((fixture) => buildBatch(fixture)));
}
