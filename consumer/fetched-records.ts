/**
 * Turns the record batches of one partition's fetch response into messages: skips control
 * batches (Raft markers and the like) and records below the fetch offset (a response starts at
 * the batch that holds the fetch offset), decompresses through the codec pool, and works out the
 * offset to fetch next. Offsets need not be consecutive: the next fetch offset comes from the last
 * batch's header (baseOffset + lastOffsetDelta + 1), never from counting records.
 */
import type { CodecPool } from '../record/codec-pool.js';
import { DEFAULT_DECODE_LIMITS, iterateBatches, type DecodeLimits } from '../record/record-batch.js';
import type { RecordHeader } from '../record/record.js';

/** One consumed record. Key, value and header values are views into the fetched bytes. */
export interface ConsumerMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** CreateTime, or the broker's append time on LogAppendTime topics; ms since the epoch. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  /** Approximate bytes this message holds in memory, for the prefetch bound. */
  readonly sizeBytes: number;
}

export interface FetchedRecords {
  readonly messages: ConsumerMessage[];
  /** Where the next fetch of this partition starts. */
  readonly nextFetchOffset: number;
  /** Sum of the messages' sizeBytes. */
  readonly bytes: number;
}

const MESSAGE_OVERHEAD_BYTES = 64;

/**
 * Where the next fetch starts after a response holding `recordBatches` for `fetchOffset`: after the
 * last whole batch (control batches included). Reads headers only, so the next fetch can be sent
 * before the records are decoded.
 */
export function nextFetchOffsetOf(recordBatches: Buffer, fetchOffset: number): number {
  let nextFetchOffset = fetchOffset;
  for (const view of iterateBatches(recordBatches, { verifyCrc: false })) {
    const lastOffset = view.info.baseOffset + view.info.lastOffsetDelta;
    if (lastOffset + 1 > nextFetchOffset) nextFetchOffset = lastOffset + 1;
  }
  return nextFetchOffset;
}

/**
 * Decodes `recordBatches` (concatenated batches; a partial batch at the end is ignored) for a
 * fetch that asked for `fetchOffset`. The next fetch offset is computed from the batches received
 * alone: a hint from the broker could point past records this client did not get or decode (a
 * cut-off tail batch, a partition left out of a full response).
 */
export async function readFetchedRecords(
  topic: string,
  partition: number,
  recordBatches: Buffer,
  fetchOffset: number,
  pool: CodecPool,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Promise<FetchedRecords> {
  const messages: ConsumerMessage[] = [];
  let nextFetchOffset = fetchOffset;
  let bytes = 0;
  for (const view of iterateBatches(recordBatches, { verifyCrc: false })) {
    const lastOffset = view.info.baseOffset + view.info.lastOffsetDelta;
    if (lastOffset < fetchOffset) continue;
    if (lastOffset + 1 > nextFetchOffset) nextFetchOffset = lastOffset + 1;
    if (view.info.control) continue;
    // The pool checks the CRC and decompresses (on a worker when the batch is large).
    const decoded = await pool.decodeBatch(recordBatches.subarray(view.pos, view.pos + view.size), 0, limits);
    for (const record of decoded.records) {
      if (record.offset < fetchOffset) continue;
      let sizeBytes = MESSAGE_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
      for (const header of record.headers) sizeBytes += header.key.length + (header.value?.length ?? 0);
      bytes += sizeBytes;
      messages.push({ topic, partition, offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers, sizeBytes });
    }
  }
  return { messages, nextFetchOffset, bytes };
}
