/**
 * The group side of a Consumer: its subscription (a topic list or a RegExp), its membership
 * (group-membership.ts), committed offsets (fetch on assignment, commit by interval, on demand
 * and on revoke) and the application's rebalance listeners. The Consumer keeps the fetching and
 * delivery; this class tells it which partitions to read from where, through ConsumerPartitions.
 */
import type { Cluster } from '../client/cluster.js';
import { InvalidArgumentError, isNoError, StateError } from '../client/errors.js';
import { GroupError, groupErrorAction } from '../client/group-errors.js';
import type { GroupCallOptions, GroupsApi } from '../client/groups-api.js';
import { retry } from '../client/retry.js';
import { comparePartitions, type PartitionAssignor, type TopicPartition } from './assignors/partition-assignor.js';
import { GroupMembership, type MembershipConfig, type MembershipHost } from './group-membership.js';
import type { StartOffset } from './partition-state.js';

/** Called around rebalances, from the consuming flow (never while a handler runs). */
export interface RebalanceListener {
  /** New partitions, positioned at their committed offsets (or the reset policy's). */
  onPartitionsAssigned?(partitions: TopicPartition[]): Promise<void> | void;
  /** Partitions taken away in an orderly way; with autoCommit their positions are already committed. */
  onPartitionsRevoked?(partitions: TopicPartition[]): Promise<void> | void;
  /** Partitions lost (the member's generation expired); another member may own them already. */
  onPartitionsLost?(partitions: TopicPartition[]): Promise<void> | void;
}

/** What the group needs from the Consumer's partition bookkeeping. */
export interface ConsumerPartitions {
  /** Starts reading these partitions; `null` start: no committed offset and autoOffsetReset 'none'. */
  addPartitions(list: ReadonlyArray<{ topic: string; partition: number; start: StartOffset | null }>): void;
  /** Stops reading these partitions and drops what is buffered of them. */
  removePartitions(list: readonly TopicPartition[]): void;
  /** Offsets to commit: the position (next offset to process) of each partition named, or all. */
  consumedOffsets(list?: readonly TopicPartition[]): Array<{ topic: string; partition: number; offset: number }>;
  /** Wakes the consuming flow (a rebalance waits to be applied). */
  wake(): void;
  log(message: string): void;
}

export interface ConsumerGroupConfig extends Omit<MembershipConfig, 'assignors'> {
  readonly assignors: readonly PartitionAssignor[];
  readonly autoOffsetReset: 'earliest' | 'latest' | 'none';
  readonly autoCommit: boolean;
  readonly autoCommitIntervalMs: number;
}

/** Topics a RegExp subscription may match at most. */
export const SUBSCRIBED_TOPICS_MAX = 10_000;

export class ConsumerGroup implements MembershipHost {
  readonly membership: GroupMembership;
  private topics: readonly string[] | RegExp | null = null;
  private fromBeginning = false;
  private listener: RebalanceListener = {};
  private lastCommitMs = Date.now();
  /** Offsets committed by this member, by partition key: unchanged positions are not sent again. */
  private readonly committed = new Map<string, number>();
  autoCommit: boolean;
  autoCommitIntervalMs: number;

  constructor(
    private readonly config: ConsumerGroupConfig,
    private readonly api: GroupsApi,
    private readonly cluster: Cluster,
    private readonly partitions: ConsumerPartitions,
  ) {
    this.membership = new GroupMembership(config, api, this);
    this.autoCommit = config.autoCommit;
    this.autoCommitIntervalMs = config.autoCommitIntervalMs;
  }

  get subscribed(): boolean {
    return this.topics !== null;
  }

  subscribe(topics: readonly string[] | RegExp, fromBeginning: boolean, listener: RebalanceListener | undefined): void {
    if (!(topics instanceof RegExp)) {
      if (topics.length === 0 || !topics.every((t) => typeof t === 'string' && t.length > 0)) throw new InvalidArgumentError('subscribe needs topic names or a RegExp');
    }
    const first = this.topics === null;
    this.topics = topics instanceof RegExp ? topics : [...new Set([...(this.topics instanceof RegExp || this.topics === null ? [] : this.topics), ...topics])];
    this.fromBeginning = fromBeginning;
    if (listener !== undefined) this.listener = listener;
    if (!first) this.membership.requestRejoin('the subscription changed');
  }

  /** retry(), but not once the member has left: a closing consumer's calls must not linger. */
  private retrying<T>(operation: () => Promise<T>): Promise<T> {
    return retry(() => {
      if (this.membership.state === 'left') return Promise.reject(new StateError('the consumer has left its group'));
      return operation();
    }, this.config.retry);
  }

  useListener(listener: RebalanceListener): void {
    this.listener = listener;
  }

  // ---- MembershipHost --------------------------------------------------------------------------

  async subscribedTopics(): Promise<string[]> {
    const topics = this.topics;
    if (topics === null) return [];
    if (!(topics instanceof RegExp)) return [...topics];
    // An empty topic list asks for every topic.
    const metadata = await this.retrying(() => this.cluster.wire.metadata(this.cluster.anyConnection(), [], false, this.config.requestTimeoutMs));
    // Internal topics (the group offsets topic) are never matched by a pattern.
    const matched = metadata.topics.filter((t) => isNoError(t.errorCode) && !t.name.startsWith('__') && testPattern(topics, t.name)).map((t) => t.name);
    if (matched.length > SUBSCRIBED_TOPICS_MAX) throw new InvalidArgumentError(`${topics} matches more than ${SUBSCRIBED_TOPICS_MAX} topics`);
    return matched;
  }

  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (topics.length === 0) return counts;
    const metadata = await this.retrying(() => this.cluster.wire.metadata(this.cluster.anyConnection(), [...topics], false, this.config.requestTimeoutMs));
    for (const topic of metadata.topics) if (isNoError(topic.errorCode) && topic.partitions.length > 0) counts.set(topic.name, topic.partitions.length);
    return counts;
  }

  async revoked(partitions: TopicPartition[]): Promise<void> {
    if (this.autoCommit) {
      try {
        // Bounded: the rebalance waits for this member, and a commit that cannot get through now
        // only means the next owner starts at the previous commit.
        await this.commit(this.partitions.consumedOffsets(partitions), false, { retryTimeMs: Math.floor(this.config.rebalanceTimeoutMs / 2) });
      } catch (error) {
        // The next owner starts from the last commit that got through: at least once.
        this.log(`commit on revoke failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    try {
      await this.listener.onPartitionsRevoked?.(partitions);
    } finally {
      this.partitions.removePartitions(partitions);
      for (const p of partitions) this.committed.delete(key(p));
    }
  }

  async assigned(partitions: TopicPartition[]): Promise<void> {
    const starts = await this.startOffsets(partitions);
    this.partitions.addPartitions(starts);
    await this.listener.onPartitionsAssigned?.(partitions);
  }

  async lost(partitions: TopicPartition[]): Promise<void> {
    this.partitions.removePartitions(partitions);
    for (const p of partitions) this.committed.delete(key(p));
    await this.listener.onPartitionsLost?.(partitions);
  }

  wake(): void {
    this.partitions.wake();
  }

  log(message: string): void {
    this.partitions.log(message);
  }

  /** Committed offsets of newly assigned partitions, or the reset policy where none is committed. */
  private async startOffsets(partitions: TopicPartition[]): Promise<Array<{ topic: string; partition: number; start: StartOffset | null }>> {
    const answer = await this.retrying(async () => {
      const fetched = await this.api.offsetFetch({ groupId: this.config.groupId, partitions });
      if (!isNoError(fetched.errorCode)) throw new GroupError(fetched.errorCode, `fetching committed offsets of ${this.config.groupId}: ${fetched.errorMessage}`);
      return fetched;
    });
    const committed = new Map(answer.partitions.filter((p) => isNoError(p.errorCode)).map((p) => [key(p), p.offset]));
    const reset: StartOffset | null = this.fromBeginning ? 'earliest' : this.config.autoOffsetReset === 'none' ? null : this.config.autoOffsetReset;
    return [...partitions].sort(comparePartitions).map((p) => {
      const offset = committed.get(key(p)) ?? -1;
      if (offset >= 0) this.committed.set(key(p), offset);
      return { topic: p.topic, partition: p.partition, start: offset >= 0 ? offset : reset };
    });
  }

  // ---- polling and commits -----------------------------------------------------------------------

  /** From the consuming flow: applies membership changes and commits when the interval is up. */
  async poll(): Promise<void> {
    await this.membership.poll();
    if (this.autoCommit && this.membership.state === 'stable' && Date.now() - this.lastCommitMs >= this.autoCommitIntervalMs) await this.autoCommitNow();
  }

  private async autoCommitNow(): Promise<void> {
    this.lastCommitMs = Date.now();
    try {
      // One attempt: the next interval is the retry, and the consuming flow must not stall on it.
      await this.commit(this.partitions.consumedOffsets(this.membership.owned), false, { patient: false });
    } catch (error) {
      this.log(`auto-commit failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Commits offsets (the next offset to consume of each partition) with this member's
   * generation; offsets equal to what this member last committed are skipped. A stale generation
   * or a rebalance throws a GroupError and makes the member rejoin.
   */
  async commit(offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>, force = false, options?: GroupCallOptions): Promise<void> {
    const changed = force ? [...offsets] : offsets.filter((o) => this.committed.get(key(o)) !== o.offset);
    if (changed.length === 0) return;
    for (const o of changed) if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw new InvalidArgumentError(`offset ${o.offset} of ${o.topic}/${o.partition} is not a non-negative integer`);
    const membership = this.membership;
    // A consumer that assigns its partitions itself commits as a non-member (generation -1),
    // which the coordinator accepts while the group has no members.
    const simple = !this.subscribed;
    if (!simple && !membership.inGeneration) throw new GroupError('REBALANCE_IN_PROGRESS', `group ${this.config.groupId} has no generation to commit in yet`);
    const answer = await this.api.offsetCommit({
      groupId: this.config.groupId,
      generationId: simple ? -1 : membership.generationId,
      memberId: simple ? '' : membership.memberId,
      groupInstanceId: simple ? null : this.config.groupInstanceId,
      offsets: changed.map((o) => ({ ...o, metadata: '' })),
    }, options);
    if (!isNoError(answer.errorCode)) {
      const action = groupErrorAction(answer.errorCode);
      if (action === 'rejoin' || action === 'reset-member') membership.requestRejoin(`a commit was refused: ${answer.errorCode}`);
      throw new GroupError(answer.errorCode, `committing offsets of ${this.config.groupId}: ${answer.errorMessage}`);
    }
    const failed: string[] = [];
    let firstCode = '';
    const sent = new Map(changed.map((o) => [key(o), o.offset]));
    for (const p of answer.partitions) {
      if (isNoError(p.errorCode)) {
        this.committed.set(key(p), sent.get(key(p))!);
      } else {
        firstCode ||= p.errorCode;
        failed.push(`${p.topic}/${p.partition}: ${p.errorCode}${p.errorMessage ? ` (${p.errorMessage})` : ''}`);
      }
    }
    this.lastCommitMs = Date.now();
    if (failed.length > 0) throw new GroupError(firstCode, `commit refused for ${failed.join('; ')}`);
  }

  /** Committed offsets of the group for these partitions (-1 where none). */
  async committedOffsets(partitions: readonly TopicPartition[]): Promise<Array<{ topic: string; partition: number; offset: number }>> {
    const answer = await this.api.offsetFetch({ groupId: this.config.groupId, partitions });
    if (!isNoError(answer.errorCode)) throw new GroupError(answer.errorCode, answer.errorMessage);
    return answer.partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset }));
  }

  /** Commits (with autoCommit), revokes, and leaves the group (a static member stays registered). */
  async leave(): Promise<void> {
    await this.membership.leave();
  }
}

function key(p: { topic: string; partition: number }): string {
  return `${p.topic}\u0000${p.partition}`;
}

function testPattern(pattern: RegExp, name: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(name);
}

export function requireGroup(group: ConsumerGroup | null, operation: string): ConsumerGroup {
  if (group === null) throw new StateError(`${operation} needs a consumer with a groupId`);
  return group;
}
