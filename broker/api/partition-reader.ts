/**
 * Reads committed data of one partition for Fetch and Subscribe: whole stored batches as bytes
 * (the fast path: no record is decoded, the batches are walked by their headers only), or, when
 * the client asked for decoded records, the records at or after the fetch offset.
 */
import type { FetchedRecord } from '../../proto/brook-types.js';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt, isControlBatch } from '../../record/batch-header.js';
import type { CodecPool } from '../../record/codec-pool.js';
import type { DecodeLimits } from '../../record/record-batch.js';
import type { ServedPartition } from './topic-service.js';
import { READ_BYTES_MAX } from '../storage/partition-log.js';

const EMPTY = Buffer.alloc(0);

export interface PartitionReadResult {
  /** Whole batches (raw mode); empty in decode mode. */
  readonly recordBatches: Buffer;
  /** Decoded records (decode mode); empty in raw mode. */
  readonly records: FetchedRecord[];
  /** Bytes this answer adds to the response (stored bytes, or the decoded records' estimate). */
  readonly bytes: number;
  /** Where the next read of this partition starts. */
  readonly nextFetchOffset: number;
}

export interface ReadOptions {
  readonly decodeRecords: boolean;
  readonly pool: CodecPool;
  readonly decodeLimits: DecodeLimits;
}

/**
 * Committed batches from the one holding `fetchOffset`, about `maxBytes` of them (one whole batch
 * even when larger). Throws the log's typed errors (OffsetOutOfRangeError, LogClosedError).
 */
export async function readPartition(partition: ServedPartition, fetchOffset: number, maxBytes: number, options: ReadOptions): Promise<PartitionReadResult> {
  const bytes = await partition.read(fetchOffset, Math.max(1, Math.min(maxBytes, READ_BYTES_MAX)));
  if (bytes.length === 0) return { recordBatches: EMPTY, records: [], bytes: 0, nextFetchOffset: fetchOffset };
  const nextFetchOffset = endOffsetOf(bytes);
  if (!options.decodeRecords) return { recordBatches: bytes, records: [], bytes: bytes.length, nextFetchOffset };
  const decoded = await decodeFrom(bytes, fetchOffset, maxBytes, options);
  return { recordBatches: EMPTY, records: decoded.records, bytes: decoded.encodedBytes, nextFetchOffset: decoded.nextFetchOffset ?? nextFetchOffset };
}

/**
 * Estimated protobuf bytes of a FetchedRecord beyond its key, value and headers (field tags,
 * lengths, offset, timestamp, type, epoch); a little above the real figure, so decoded responses
 * stay within the byte budgets the client asked for.
 */
const FETCHED_RECORD_OVERHEAD_BYTES = 40;
const HEADER_OVERHEAD_BYTES = 8;

/** The offset after the last batch in `bytes` (whole batches, as the log returns them). */
function endOffsetOf(bytes: Buffer): number {
  let position = 0;
  let end = 0;
  while (position < bytes.length) {
    end = baseOffsetNumberAt(bytes, position) + lastOffsetDeltaAt(bytes, position) + 1;
    position += batchSizeAt(bytes, position);
  }
  return end;
}

interface DecodedRecords {
  readonly records: FetchedRecord[];
  /** Estimated size of the records once encoded in the response. */
  readonly encodedBytes: number;
  /** Set when the byte budget cut the records short: where the next read starts. */
  readonly nextFetchOffset: number | undefined;
}

/**
 * The records of `bytes` at or after `fetchOffset`, control batches skipped, until their encoded
 * size would pass `maxBytes` (at least one record is always returned). Decompressed records can be
 * many times the stored bytes, hence the second budget.
 */
async function decodeFrom(bytes: Buffer, fetchOffset: number, maxBytes: number, options: ReadOptions): Promise<DecodedRecords> {
  const records: FetchedRecord[] = [];
  let encodedBytes = 0;
  for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
    if (isControlBatch(bytes, position)) continue;
    const size = batchSizeAt(bytes, position);
    const { info, records: decoded } = await options.pool.decodeBatch(bytes.subarray(position, position + size), 0, options.decodeLimits);
    const timestampType = info.timestampType === 'log-append' ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
    for (const record of decoded) {
      if (record.offset < fetchOffset) continue;
      let recordBytes = FETCHED_RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
      for (const header of record.headers) recordBytes += HEADER_OVERHEAD_BYTES + header.key.length + (header.value?.length ?? 0);
      if (records.length > 0 && encodedBytes + recordBytes > maxBytes) return { records, encodedBytes, nextFetchOffset: record.offset };
      encodedBytes += recordBytes;
      records.push({
        offset: record.offset,
        timestampMs: record.timestamp,
        key: record.key ?? undefined,
        value: record.value ?? undefined,
        headers: record.headers.map((header) => ({ key: header.key, value: header.value ?? undefined })),
        timestampType,
        leaderEpoch: info.partitionLeaderEpoch,
      });
    }
  }
  return { records, encodedBytes, nextFetchOffset: undefined };
}
