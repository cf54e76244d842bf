/**
 * Leader hints, acted on where the answers arrive. A broker that does not lead a partition answers
 * NOT_LEADER_OR_FOLLOWER and, when it knows, where the leader is (`current_leader`). This service
 * wraps the Brook calls that must reach a partition's leader (Produce, Fetch, ListOffsets): on such
 * an answer it updates the cluster's cached leader of that partition and sends that partition's
 * part of the request to the named leader at once — one redirect per call, so two brokers that
 * name each other cannot bounce a request forever. Whatever the redirect answers is the answer;
 * the caller's own retry (with backoff, after a metadata refresh) handles what is still refused.
 * Producer, consumer and admin thus follow a moved leadership without waiting for a metadata
 * round trip or a backoff.
 */
import type { BrokerConnection } from './broker-connection.js';
import {
  BrookService,
  type Acks,
  type LeaderHint,
  type OffsetSpec,
  type WireFetchPartition,
  type WireFetchResult,
  type WireListOffsetsResult,
  type WirePartitionProduce,
  type WireProduceResult,
} from './service.js';

/** What the routing needs from the cluster (client/cluster.ts). */
export interface LeaderCache {
  /** Records that `hint` leads topic/partition; returns false when the hint is not usable (no address). */
  applyLeaderHint(topic: string, partition: number, hint: LeaderHint): boolean;
  connectionTo(address: string): BrokerConnection;
}

interface Redirected {
  readonly topic: string;
  readonly partition: number;
}

/** The hinted leader's address for a NOT_LEADER_OR_FOLLOWER answer worth redirecting, else undefined. */
function redirectAddress(
  cache: LeaderCache,
  result: { topic: string; partition: number; errorCode: string; currentLeader?: LeaderHint },
  askedAddress: string,
): string | undefined {
  const hint = result.currentLeader;
  if (result.errorCode !== 'NOT_LEADER_OR_FOLLOWER' || hint === undefined) return undefined;
  if (!cache.applyLeaderHint(result.topic, result.partition, hint)) return undefined;
  return hint.address === askedAddress ? undefined : hint.address;
}

/** Groups the items to redirect by the hinted address. */
function groupByAddress<T extends Redirected>(items: readonly (T & { address: string })[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    let list = groups.get(item.address);
    if (list === undefined) groups.set(item.address, (list = []));
    list.push(item);
  }
  return groups;
}

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Replaces the redirected partitions' results by the redirect's answers (same order otherwise). */
function merge<R extends Redirected>(results: readonly R[], redirected: readonly R[]): R[] {
  const byKey = new Map(redirected.map((result) => [keyOf(result.topic, result.partition), result]));
  return results.map((result) => byKey.get(keyOf(result.topic, result.partition)) ?? result);
}

export class LeaderRoutedService extends BrookService {
  constructor(
    inner: BrookService,
    private readonly cache: LeaderCache,
  ) {
    super(inner.client);
  }

  override async produce(connection: BrokerConnection, acks: Acks, timeoutMs: number, data: Map<string, WirePartitionProduce[]>): Promise<WireProduceResult[]> {
    const results = await super.produce(connection, acks, timeoutMs, data);
    const moves: Array<WireProduceResult & { address: string }> = [];
    for (const result of results) {
      const address = redirectAddress(this.cache, result, connection.address);
      if (address !== undefined) moves.push({ ...result, address });
    }
    if (moves.length === 0) return results;
    const redirected = await Promise.all(
      [...groupByAddress(moves)].map(([address, partitions]) => {
        const again = new Map<string, WirePartitionProduce[]>();
        for (const { topic, partition } of partitions) {
          const sent = data.get(topic)?.find((item) => item.partition === partition);
          if (sent === undefined) continue;
          let list = again.get(topic);
          if (list === undefined) again.set(topic, (list = []));
          list.push(sent);
        }
        // A redirect that fails leaves the first answers standing: the caller retries those.
        return super.produce(this.cache.connectionTo(address), acks, timeoutMs, again).catch(() => []);
      }),
    );
    return merge(results, redirected.flat());
  }

  override async fetch(
    connection: BrokerConnection,
    request: { maxWaitMs: number; minBytes: number; maxBytes: number; topics: Map<string, WireFetchPartition[]> },
    timeoutMs: number,
  ): Promise<WireFetchResult[]> {
    const results = await super.fetch(connection, request, timeoutMs);
    const moves: Array<WireFetchResult & { address: string }> = [];
    for (const result of results) {
      const address = redirectAddress(this.cache, result, connection.address);
      if (address !== undefined) moves.push({ ...result, address });
    }
    if (moves.length === 0) return results;
    const redirected = await Promise.all(
      [...groupByAddress(moves)].map(([address, partitions]) => {
        const topics = new Map<string, WireFetchPartition[]>();
        for (const { topic, partition } of partitions) {
          const asked = request.topics.get(topic)?.find((item) => item.partition === partition);
          if (asked === undefined) continue;
          let list = topics.get(topic);
          if (list === undefined) topics.set(topic, (list = []));
          list.push(asked);
        }
        // No long poll on the redirect: the rest of the answer is waiting to be delivered.
        return super.fetch(this.cache.connectionTo(address), { ...request, maxWaitMs: 0, topics }, timeoutMs).catch(() => []);
      }),
    );
    return merge(results, redirected.flat());
  }

  override async listOffsets(
    connection: BrokerConnection,
    topics: Map<string, Array<{ partition: number; spec: OffsetSpec; timestampMs: number }>>,
    timeoutMs: number,
  ): Promise<WireListOffsetsResult[]> {
    const results = await super.listOffsets(connection, topics, timeoutMs);
    const moves: Array<WireListOffsetsResult & { address: string }> = [];
    for (const result of results) {
      const address = redirectAddress(this.cache, result, connection.address);
      if (address !== undefined) moves.push({ ...result, address });
    }
    if (moves.length === 0) return results;
    const redirected = await Promise.all(
      [...groupByAddress(moves)].map(([address, partitions]) => {
        const again = new Map<string, Array<{ partition: number; spec: OffsetSpec; timestampMs: number }>>();
        for (const { topic, partition } of partitions) {
          const asked = topics.get(topic)?.find((item) => item.partition === partition);
          if (asked === undefined) continue;
          let list = again.get(topic);
          if (list === undefined) again.set(topic, (list = []));
          list.push(asked);
        }
        return super.listOffsets(this.cache.connectionTo(address), again, timeoutMs).catch(() => []);
      }),
    );
    return merge(results, redirected.flat());
  }
}
