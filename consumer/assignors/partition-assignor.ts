/**
 * The pluggable partition assignor. The group's leader member runs one assignor over every
 * member's subscription and sends the result in SyncGroup; every member then reads its own part.
 * The coordinator only picks the protocol (the first assignor name, in the members' order of
 * preference, that every member supports) and passes the bytes through.
 *
 * An assignor is pure: same input, same output; no clock, no I/O. Write one by implementing
 * PartitionAssignor and pass it in `partitionAssigners` of the Consumer.
 *
 * @example
 * const everythingToTheFirst: PartitionAssignor = {
 *   name: 'first-takes-all',
 *   rebalanceProtocol: 'eager',
 *   metadata: (subscription) => ({ ...subscription, userData: null }),
 *   assign: ({ members, partitionCounts }) => {
 *     const result = new Map(members.map((m) => [m.memberId, [] as TopicPartition[]]));
 *     const first = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId))[0];
 *     for (const [topic, count] of partitionCounts) for (let p = 0; p < count; p++) result.get(first.memberId)!.push({ topic, partition: p });
 *     return result;
 *   },
 * };
 */

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/**
 * 'eager': every member gives up all its partitions before a rebalance.
 * 'cooperative': members keep what they own through a rebalance; a partition that moves is first
 * revoked by its owner and given to its new owner in a follow-up rebalance.
 */
export type RebalanceProtocol = 'eager' | 'cooperative';

/** What one member tells the leader (the JoinGroup protocol metadata, decoded). */
export interface Subscription {
  /** Topics the member reads. */
  readonly topics: readonly string[];
  /** Partitions the member owns now (cooperative and sticky assignors use them). */
  readonly ownedPartitions: readonly TopicPartition[];
  /** The generation in which it got `ownedPartitions`; -1 when it owns nothing. */
  readonly generation: number;
  /** Assignor-specific data, opaque to everything else. */
  readonly userData: Buffer | null;
}

export interface MemberSubscription extends Subscription {
  readonly memberId: string;
  /** Static members keep their identity across restarts; null for dynamic members. */
  readonly groupInstanceId: string | null;
}

export interface AssignInput {
  readonly members: readonly MemberSubscription[];
  /** Partition count of every topic any member subscribes to (topics unknown to the cluster are absent). */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

export interface PartitionAssignor {
  /** The protocol name the coordinator matches across members, e.g. 'range'. */
  readonly name: string;
  readonly rebalanceProtocol: RebalanceProtocol;
  /** This member's subscription as sent in JoinGroup. */
  metadata(subscription: { topics: readonly string[]; ownedPartitions: readonly TopicPartition[]; generation: number }): Subscription;
  /** Partitions per member id; every member of `members` gets an entry (maybe empty). */
  assign(input: AssignInput): Map<string, TopicPartition[]>;
}

/** Members in a stable order: static members by instance id, then by member id, as a tie-break. */
export function sortedMembers<T extends { memberId: string; groupInstanceId: string | null }>(members: readonly T[]): T[] {
  return [...members].sort((a, b) => compareStrings(a.groupInstanceId ?? a.memberId, b.groupInstanceId ?? b.memberId) || compareStrings(a.memberId, b.memberId));
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function emptyAssignment(members: readonly { memberId: string }[]): Map<string, TopicPartition[]> {
  return new Map(members.map((member) => [member.memberId, []]));
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Orders partitions by topic, then partition number. */
export function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

/** The plain subscription most assignors send: no user data. */
export function plainMetadata(subscription: { topics: readonly string[]; ownedPartitions: readonly TopicPartition[]; generation: number }): Subscription {
  return { topics: [...subscription.topics], ownedPartitions: [...subscription.ownedPartitions], generation: subscription.generation, userData: null };
}
