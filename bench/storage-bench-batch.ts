/**
 * Batches for the storage benchmarks: a valid RecordBatch v2 header and CRC around an opaque
 * records region (the log never looks inside it). Header fields the log overwrites on append
 * (base offset, leader epoch) keep the fill byte.
 */
import {
  BATCH_LOG_OVERHEAD_BYTES,
  MAGIC_V2,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_RECORD_COUNT,
  computeBatchCrc,
} from '../record/batch-header.js';

/** A valid batch of `sizeBytes` claiming `recordCount` records, filled with the low byte of `seed`. */
export function makeStorageBenchBatch(sizeBytes: number, seed: number, recordCount: number): Buffer {
  const batch = Buffer.alloc(sizeBytes, seed & 0xff);
  batch.writeInt32BE(sizeBytes - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  batch.writeInt8(MAGIC_V2, OFFSET_MAGIC);
  batch.writeInt32BE(recordCount - 1, OFFSET_LAST_OFFSET_DELTA);
  batch.writeBigInt64BE(BigInt(Date.now()), OFFSET_MAX_TIMESTAMP);
  batch.writeInt32BE(recordCount, OFFSET_RECORD_COUNT);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, sizeBytes), OFFSET_CRC);
  return batch;
}
