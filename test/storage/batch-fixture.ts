/**
 * Builds valid RecordBatch v2 frames for storage tests: real header fields and a correct CRC, with
 * an opaque records region (storage never looks inside it).
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  MAGIC_V2,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_OFFSET,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PARTITION_LEADER_EPOCH,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
  computeBatchCrc,
} from '../../record/batch-header.js';

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
  batch.writeBigInt64BE(BigInt(fixture.baseOffset ?? 0), OFFSET_BASE_OFFSET);
  batch.writeInt32BE(size - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  batch.writeInt32BE(fixture.leaderEpoch ?? -1, OFFSET_PARTITION_LEADER_EPOCH);
  batch.writeInt8(MAGIC_V2, OFFSET_MAGIC);
  batch.writeInt16BE(fixture.attributes ?? 0, OFFSET_ATTRIBUTES);
  batch.writeInt32BE(recordCount - 1, OFFSET_LAST_OFFSET_DELTA);
  const baseTimestampMs = fixture.baseTimestampMs ?? 1_700_000_000_000;
  batch.writeBigInt64BE(BigInt(baseTimestampMs), OFFSET_BASE_TIMESTAMP);
  batch.writeBigInt64BE(BigInt(fixture.maxTimestampMs ?? baseTimestampMs), OFFSET_MAX_TIMESTAMP);
  batch.writeBigInt64BE(-1n, OFFSET_PRODUCER_ID);
  batch.writeInt16BE(-1, OFFSET_PRODUCER_EPOCH);
  batch.writeInt32BE(-1, OFFSET_BASE_SEQUENCE);
  batch.writeInt32BE(recordCount, OFFSET_RECORD_COUNT);
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
