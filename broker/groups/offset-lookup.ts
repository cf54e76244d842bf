/**
 * Offsets of data partitions as the coordinator needs them (the high watermark for the commit
 * check and for lag, the earliest / latest / by-time offset for resets), wherever the partitions
 * are led: the broker's own ListOffsets answers the partitions it leads, and the partitions it
 * answers NOT_LEADER_OR_FOLLOWER with a leader's address are asked of that leader over the client
 * protocol (one ListOffsets per leader).
 */
import * as grpc from '@grpc/grpc-js';
import type {
  ErrorCode,
  ListOffsetsRequest,
  ListOffsetsResponse,
  OffsetSpec,
  PartitionListOffsetsResponse,
} from '../../proto/brook-types.js';
import { loadBrookProto } from '../../proto/brook-proto.js';
import { offsetKey } from './consumer-group.js';
import { HIGH_WATERMARK_CACHE_MS, REMOTE_LOOKUP_TIMEOUT_MS } from './group-limits.js';

export interface OffsetQuery {
  readonly topic: string;
  readonly partition: number;
  readonly spec: OffsetSpec;
  readonly timestampMs?: number;
}

export interface OffsetAnswer {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  /** -1 on error, and for a timestamp no record reaches. */
  readonly offset: number;
}

/** The broker's own ListOffsets (broker/api/list-offsets-handler.ts). */
export type LocalListOffsets = (request: ListOffsetsRequest) => Promise<ListOffsetsResponse>;

/** Cached high watermarks kept at most; the cache starts over beyond it. */
const HIGH_WATERMARK_CACHE_ENTRIES_MAX = 100_000;

type ListOffsetsClient = grpc.Client & {
  ListOffsets(request: ListOffsetsRequest, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: ListOffsetsResponse) => void): void;
};

export class OffsetLookup {
  private readonly clients = new Map<string, ListOffsetsClient>();
  private readonly highWatermarkCache = new Map<string, { offset: number; atMs: number }>();

  constructor(
    private readonly local: LocalListOffsets,
    private readonly clock: { nowMs(): number },
  ) {}

  /** One answer per query, in order. */
  async lookup(queries: readonly OffsetQuery[]): Promise<OffsetAnswer[]> {
    const answers = await this.ask(this.local, queries);
    const byLeader = new Map<string, number[]>();
    answers.forEach((answer, index) => {
      const address = answer.currentLeader?.address ?? '';
      if (answer.errorCode === 'NOT_LEADER_OR_FOLLOWER' && address !== '') {
        const list = byLeader.get(address) ?? [];
        list.push(index);
        byLeader.set(address, list);
      }
    });
    await Promise.all(
      [...byLeader].map(async ([address, indexes]) => {
        const remote = await this.ask((request) => this.remote(address, request), indexes.map((index) => queries[index])).catch((error: unknown) =>
          indexes.map(() => ({ errorCode: 'LEADER_NOT_AVAILABLE' as const, errorMessage: `asking the leader at ${address}: ${String(error)}`, offset: -1 })),
        );
        indexes.forEach((index, at) => {
          answers[index] = remote[at] as PartitionListOffsetsResponse;
        });
      }),
    );
    return answers.map((answer) => ({ errorCode: answer.errorCode, errorMessage: answer.errorMessage, offset: answer.errorCode === 'NONE' ? answer.offset : -1 }));
  }

  /**
   * The partitions' high watermarks, in order. A recent lookup that showed at least `atLeast` is
   * answered from a cache (a high watermark never goes down, so such a value still proves
   * `atLeast` valid); the others are looked up together.
   */
  async highWatermarks(queries: readonly { readonly topic: string; readonly partition: number; readonly atLeast: number }[]): Promise<OffsetAnswer[]> {
    const nowMs = this.clock.nowMs();
    const answers: (OffsetAnswer | undefined)[] = queries.map((query) => {
      const cached = this.highWatermarkCache.get(offsetKey(query.topic, query.partition));
      return cached !== undefined && cached.offset >= query.atLeast && nowMs - cached.atMs < HIGH_WATERMARK_CACHE_MS
        ? { errorCode: 'NONE', errorMessage: '', offset: cached.offset }
        : undefined;
    });
    const missing = queries.flatMap((query, index) => (answers[index] === undefined ? [index] : []));
    if (missing.length > 0) {
      const found = await this.lookup(missing.map((index) => ({ topic: queries[index].topic, partition: queries[index].partition, spec: 'OFFSET_SPEC_LATEST' as const })));
      if (this.highWatermarkCache.size + missing.length > HIGH_WATERMARK_CACHE_ENTRIES_MAX) this.highWatermarkCache.clear();
      missing.forEach((index, at) => {
        answers[index] = found[at];
        if (found[at].errorCode === 'NONE') this.highWatermarkCache.set(offsetKey(queries[index].topic, queries[index].partition), { offset: found[at].offset, atMs: nowMs });
      });
    }
    return answers as OffsetAnswer[];
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async ask(
    call: (request: ListOffsetsRequest) => Promise<ListOffsetsResponse>,
    queries: readonly OffsetQuery[],
  ): Promise<PartitionListOffsetsResponse[]> {
    const request: ListOffsetsRequest = {
      topics: queries.map((query) => ({
        name: query.topic,
        partitions: [{ partition: query.partition, spec: query.spec, timestampMs: query.timestampMs ?? 0 }],
      })),
    };
    const response = await call(request);
    return queries.map((query, index) => {
      const found = response.topics[index]?.partitions[0];
      return found ?? { partition: query.partition, errorCode: 'UNKNOWN_SERVER_ERROR', errorMessage: 'no answer for this partition', offset: -1, timestampMs: -1, leaderEpoch: -1 };
    });
  }

  private remote(address: string, request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
    let client = this.clients.get(address);
    if (client === undefined) {
      const { Client } = loadBrookProto();
      client = new Client(address, grpc.credentials.createInsecure()) as unknown as ListOffsetsClient;
      this.clients.set(address, client);
    }
    const deadline = new Date(this.clock.nowMs() + REMOTE_LOOKUP_TIMEOUT_MS);
    return new Promise((resolve, reject) => {
      client.ListOffsets(request, { deadline }, (error, response) => (error === null ? resolve(response) : reject(error)));
    });
  }
}
