/**
 * Sticky: as balanced as round robin (with equal subscriptions the partition counts of any two
 * members differ by at most one), while moving as few partitions as possible between
 * rebalances. Each member reports the partitions it owns and the generation it got them in;
 * a member keeps them (when it still reads their topic and they still exist), new and orphaned
 * partitions go to the member holding fewest, and then partitions move one at a time from the
 * fullest member to an eligible member holding at least two fewer until no such move exists.
 *
 * When two members claim the same partition (one missed a rebalance), the claim from the later
 * generation wins.
 *
 * Eager: members still give up everything before a rebalance but report what they held, so the
 * leader gives most of it back. The cooperative variant (cooperative-sticky-assignor.ts) lets
 * members keep consuming what stays.
 */
import assert from 'node:assert';
import {
  comparePartitions,
  compareStrings,
  partitionKey,
  sortedMembers,
  type AssignInput,
  type MemberSubscription,
  type PartitionAssignor,
  type Subscription,
  type TopicPartition,
} from './partition-assignor.js';

export class StickyAssignor implements PartitionAssignor {
  readonly name: string = 'sticky';
  readonly rebalanceProtocol: 'eager' | 'cooperative' = 'eager';

  metadata(subscription: { topics: readonly string[]; ownedPartitions: readonly TopicPartition[]; generation: number }): Subscription {
    return { topics: [...subscription.topics], ownedPartitions: [...subscription.ownedPartitions], generation: subscription.generation, userData: null };
  }

  assign(input: AssignInput): Map<string, TopicPartition[]> {
    return stickyAssign(input);
  }
}

/** Who owns each partition now, by the members' own reports: member id by partition key. */
export function validOwners(input: AssignInput): Map<string, { memberId: string; generation: number; partition: TopicPartition }> {
  const owners = new Map<string, { memberId: string; generation: number; partition: TopicPartition }>();
  for (const member of sortedMembers(input.members)) {
    for (const owned of member.ownedPartitions) {
      const count = input.partitionCounts.get(owned.topic);
      if (count === undefined || owned.partition >= count || !member.topics.includes(owned.topic)) continue;
      const key = partitionKey(owned.topic, owned.partition);
      const claim = owners.get(key);
      if (claim !== undefined && claim.generation >= member.generation) continue;
      owners.set(key, { memberId: member.memberId, generation: member.generation, partition: { topic: owned.topic, partition: owned.partition } });
    }
  }
  return owners;
}

export function stickyAssign(input: AssignInput): Map<string, TopicPartition[]> {
  const members = sortedMembers(input.members);
  const byMember = new Map<string, Map<string, TopicPartition>>(members.map((member) => [member.memberId, new Map()]));
  const memberById = new Map<string, MemberSubscription>(members.map((member) => [member.memberId, member]));
  for (const [key, owner] of validOwners(input)) byMember.get(owner.memberId)!.set(key, owner.partition);

  // Every partition some member reads that nobody keeps goes to the eligible member holding fewest.
  const topics = [...input.partitionCounts.keys()].filter((topic) => members.some((m) => m.topics.includes(topic))).sort(compareStrings);
  const assigned = new Set<string>();
  for (const partitions of byMember.values()) for (const key of partitions.keys()) assigned.add(key);
  let total = 0;
  for (const topic of topics) {
    const count = input.partitionCounts.get(topic)!;
    total += count;
    const readers = members.filter((m) => m.topics.includes(topic));
    for (let partition = 0; partition < count; partition++) {
      const key = partitionKey(topic, partition);
      if (assigned.has(key)) continue;
      const receiver = fewest(readers, byMember);
      byMember.get(receiver.memberId)!.set(key, { topic, partition });
    }
  }

  // Each move lowers the sum of squared counts by at least 2, so this ends; the bound is a check.
  const movesMax = total * Math.max(1, members.length) + 1;
  for (let moves = 0; ; moves++) {
    assert(moves < movesMax, 'sticky balancing must converge');
    if (!moveOne(members, memberById, byMember)) break;
  }

  const result = new Map<string, TopicPartition[]>();
  for (const [memberId, partitions] of byMember) result.set(memberId, [...partitions.values()].sort(comparePartitions));
  return result;
}

function fewest(candidates: readonly MemberSubscription[], byMember: Map<string, Map<string, TopicPartition>>): MemberSubscription {
  let best = candidates[0];
  for (const candidate of candidates) if (byMember.get(candidate.memberId)!.size < byMember.get(best.memberId)!.size) best = candidate;
  return best;
}

/** Moves one partition from a member to an eligible one holding at least two fewer; false when none can move. */
function moveOne(members: readonly MemberSubscription[], memberById: Map<string, MemberSubscription>, byMember: Map<string, Map<string, TopicPartition>>): boolean {
  const donors = [...members].sort((a, b) => byMember.get(b.memberId)!.size - byMember.get(a.memberId)!.size);
  for (const donor of donors) {
    const held = byMember.get(donor.memberId)!;
    // The highest-numbered partitions move first, so what stays is predictable.
    const candidates = [...held].sort(([, a], [, b]) => comparePartitions(b, a));
    for (const [key, partition] of candidates) {
      const readers = members.filter((m) => m !== donor && memberById.get(m.memberId)!.topics.includes(partition.topic));
      if (readers.length === 0) continue;
      const receiver = fewest(readers, byMember);
      if (byMember.get(receiver.memberId)!.size > held.size - 2) continue;
      held.delete(key);
      byMember.get(receiver.memberId)!.set(key, partition);
      return true;
    }
  }
  return false;
}
