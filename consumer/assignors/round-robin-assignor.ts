/**
 * Round robin: every partition of every subscribed topic, in topic and partition order, dealt to
 * the members in turn, skipping a member that does not read the partition's topic. With equal
 * subscriptions the counts differ by at most one across all topics together.
 */
import { emptyAssignment, plainMetadata, sortedMembers, type AssignInput, type PartitionAssignor, type TopicPartition } from './partition-assignor.js';

export class RoundRobinAssignor implements PartitionAssignor {
  readonly name = 'roundrobin';
  readonly rebalanceProtocol = 'eager' as const;

  metadata = plainMetadata;

  assign({ members, partitionCounts }: AssignInput): Map<string, TopicPartition[]> {
    const result = emptyAssignment(members);
    const ordered = sortedMembers(members);
    if (ordered.length === 0) return result;
    let turn = 0;
    for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!ordered.some((member) => member.topics.includes(topic))) continue;
      for (let partition = 0; partition < count; partition++) {
        // Some member reads the topic, so this loop ends within one round.
        while (!ordered[turn % ordered.length].topics.includes(topic)) turn++;
        result.get(ordered[turn % ordered.length].memberId)!.push({ topic, partition });
        turn++;
      }
    }
    return result;
  }
}
