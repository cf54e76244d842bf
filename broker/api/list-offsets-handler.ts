/**
 * ListOffsets: the earliest offset (log start), the latest (high watermark), or the first
 * committed record whose timestamp is at or after a given time. The log finds the batch by its
 * time index; the record within it is found by decoding that one batch.
 */
import type { ListOffsetsRequest, ListOffsetsResponse, PartitionListOffsets, PartitionListOffsetsResponse } from '../../proto/brook-types.js';
import { batchSizeAt } from '../../record/batch-header.js';
import type { ApiContext } from './api-context.js';
import { mapError } from './error-codes.js';
import { routePartition } from './partition-route.js';
import type { ServedPartition } from './topic-service.js';

/** Batches read while looking for the first record at or after a timestamp. */
const TIMESTAMP_SCAN_BYTES = 1024 * 1024;

export class ListOffsetsHandler {
  constructor(private readonly context: ApiContext) {}

  async listOffsets(request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
    const topics = await Promise.all(
      (request.topics ?? []).map(async (topicData) => ({
        name: topicData.name,
        partitions: await Promise.all((topicData.partitions ?? []).map((data) => this.one(topicData.name, data))),
      })),
    );
    return { topics };
  }

  private async one(topic: string, data: PartitionListOffsets): Promise<PartitionListOffsetsResponse> {
    const base = { partition: data.partition, errorMessage: '', timestampMs: -1, leaderEpoch: -1 };
    const route = routePartition(this.context.topics, this.context.topics.get(topic), data.partition);
    if (route === undefined) {
      return { ...base, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${topic} partition ${data.partition} does not exist`, offset: -1 };
    }
    // Only the leader's high watermark is the partition's: a follower's may lag.
    if (route.refusal !== undefined) return { ...base, ...route.refusal, offset: -1 };
    const partition = route.partition;
    const found = { ...base, errorCode: 'NONE' as const, leaderEpoch: partition.leaderEpoch };
    const spec = data.spec ?? 'OFFSET_SPEC_LATEST';
    switch (spec) {
      case 'OFFSET_SPEC_LATEST':
        return { ...found, offset: partition.highWatermark };
      case 'OFFSET_SPEC_EARLIEST':
        return { ...found, offset: partition.logStartOffset };
      case 'OFFSET_SPEC_TIMESTAMP':
        try {
          const hit = await this.byTimestamp(partition, data.timestampMs ?? 0);
          return { ...found, offset: hit?.offset ?? -1, timestampMs: hit?.timestampMs ?? -1 };
        } catch (error) {
          const mapped = mapError(error);
          if (!mapped.expected) this.context.logger.error({ err: error }, 'unexpected list-offsets error');
          return { ...base, errorCode: mapped.errorCode, errorMessage: mapped.errorMessage, offset: -1 };
        }
      default:
        return { ...base, errorCode: 'INVALID_REQUEST', errorMessage: `unknown offset spec ${String(spec)}`, offset: -1 };
    }
  }

  /** The first committed record with timestamp >= timestampMs, or undefined. */
  private async byTimestamp(partition: ServedPartition, timestampMs: number): Promise<{ offset: number; timestampMs: number } | undefined> {
    let offset = await partition.log.offsetForTimestamp(timestampMs);
    if (offset === null) return undefined;
    // The log answers with a batch whose max timestamp qualifies; records inside may be older,
    // and a record in a later batch may be the first that qualifies only when timestamps are out of
    // order, so scan forward from there.
    while (offset < partition.highWatermark) {
      const bytes = await partition.read(offset, TIMESTAMP_SCAN_BYTES);
      if (bytes.length === 0) return undefined;
      for (let position = 0; position < bytes.length; position += batchSizeAt(bytes, position)) {
        const size = batchSizeAt(bytes, position);
        const { info, records } = await this.context.pool.decodeBatch(bytes.subarray(position, position + size), 0, this.context.decodeLimits);
        if (info.control) continue;
        for (const record of records) {
          if (record.offset >= offset && record.timestamp >= timestampMs) return { offset: record.offset, timestampMs: record.timestamp };
        }
        offset = info.baseOffset + info.lastOffsetDelta + 1;
      }
    }
    return undefined;
  }
}
