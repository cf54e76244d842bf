/**
 * Cooperative sticky: the sticky assignment, reached in two steps so that members never stop
 * consuming the partitions they keep. A partition whose owner changes is left out of this
 * generation's assignment: its owner sees it missing, revokes it (commits, calls
 * onPartitionsRevoked) and rejoins at once, and in that follow-up rebalance the partition is
 * unowned and goes to its new member. Partitions that stay put are never revoked.
 */
import { partitionKey, type AssignInput, type TopicPartition } from './partition-assignor.js';
import { StickyAssignor, stickyAssign, validOwners } from './sticky-assignor.js';

export class CooperativeStickyAssignor extends StickyAssignor {
  override readonly name: string = 'cooperative-sticky';
  override readonly rebalanceProtocol: 'eager' | 'cooperative' = 'cooperative';

  override assign(input: AssignInput): Map<string, TopicPartition[]> {
    return withoutMoves(input, stickyAssign(input));
  }
}

/** `target` without the partitions that would change owner now: they are handed over next round. */
export function withoutMoves(input: AssignInput, target: Map<string, TopicPartition[]>): Map<string, TopicPartition[]> {
  const owners = validOwners(input);
  const result = new Map<string, TopicPartition[]>();
  for (const [memberId, partitions] of target) {
    result.set(memberId, partitions.filter((p) => {
      const owner = owners.get(partitionKey(p.topic, p.partition));
      return owner === undefined || owner.memberId === memberId;
    }));
  }
  return result;
}
