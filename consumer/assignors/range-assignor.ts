/**
 * Range: per topic, the members that read it (in a stable order) each get a contiguous range of
 * partitions; the first `count % members` get one more. Members reading the same topics get the
 * same partition numbers of each topic, which suits joins of co-partitioned topics.
 */
import { emptyAssignment, plainMetadata, sortedMembers, type AssignInput, type PartitionAssignor, type TopicPartition } from './partition-assignor.js';

export class RangeAssignor implements PartitionAssignor {
  readonly name = 'range';
  readonly rebalanceProtocol = 'eager' as const;

  metadata = plainMetadata;

  assign({ members, partitionCounts }: AssignInput): Map<string, TopicPartition[]> {
    const result = emptyAssignment(members);
    const ordered = sortedMembers(members);
    for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const readers = ordered.filter((member) => member.topics.includes(topic));
      if (readers.length === 0) continue;
      const base = Math.floor(count / readers.length);
      const extra = count % readers.length;
      let next = 0;
      readers.forEach((member, index) => {
        const size = base + (index < extra ? 1 : 0);
        for (let partition = next; partition < next + size; partition++) result.get(member.memberId)!.push({ topic, partition });
        next += size;
      });
    }
    return result;
  }
}
