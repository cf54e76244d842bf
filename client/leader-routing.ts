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

/**
 * Resends the partitions of `results` that a hint moved: each to its hinted leader, with the
 * items of the original request (`asked`, by topic) that concern it; the redirect's answers
 * replace the first ones. A redirect that fails leaves the first answers standing: the caller
 * retries those.
 */
async function redirectMoved<R extends Redirected & { errorCode: string; currentLeader?: LeaderHint }, A extends { partition: number }>(
  cache: LeaderCache,
  askedAddress: string,
  results: R[],
  asked: ReadonlyMap<string, readonly A[]>,
  resend: (connection: BrokerConnection, subset: Map<string, A[]>) => Promise<R[]>,
): Promise<R[]> {
  const moves: Array<R & { address: string }> = [];
  for (const result of results) {
    const address = redirectAddress(cache, result, askedAddress);
    if (address !== undefined) moves.push({ ...result, address });
  }
  if (moves.length === 0) return results;
  const redirected = await Promise.all(
    [...groupByAddress(moves)].map(([address, partitions]) => {
      const subset = new Map<string, A[]>();
      for (const { topic, partition } of partitions) {
        const item = asked.get(topic)?.find((candidate) => candidate.partition === partition);
        if (item === undefined) continue;
        let list = subset.get(topic);
        if (list === undefined) subset.set(topic, (list = []));
        list.push(item);
      }
      return resend(cache.connectionTo(address), subset).catch((): R[] => []);
    }),
  );
  return merge(results, redirected.flat());
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
    return redirectMoved(this.cache, connection.address, results, data, (leader, again) => super.produce(leader, acks, timeoutMs, again));
  }

  override async fetch(
    connection: BrokerConnection,
    request: { maxWaitMs: number; minBytes: number; maxBytes: number; topics: Map<string, WireFetchPartition[]> },
    timeoutMs: number,
  ): Promise<WireFetchResult[]> {
    const results = await super.fetch(connection, request, timeoutMs);
    // No long poll on the redirect: the rest of the answer is waiting to be delivered.
    return redirectMoved(this.cache, connection.address, results, request.topics, (leader, topics) => super.fetch(leader, { ...request, maxWaitMs: 0, topics }, timeoutMs));
  }

  override async listOffsets(
    connection: BrokerConnection,
    topics: Map<string, Array<{ partition: number; spec: OffsetSpec; timestampMs: number }>>,
    timeoutMs: number,
  ): Promise<WireListOffsetsResult[]> {
    const results = await super.listOffsets(connection, topics, timeoutMs);
    return redirectMoved(this.cache, connection.address, results, topics, (leader, again) => super.listOffsets(leader, again, timeoutMs));
  }
}
