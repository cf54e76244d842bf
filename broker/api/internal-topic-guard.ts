import { TopicError } from '../topics/topic-error.js';
import { INTERNAL_TOPIC_NAMES } from '../topics/topic-name.js';

/**
 * Brook's own topics (`__consumer_offsets`) belong to the broker: a client that deleted one, grew
 * it (moving groups to other partitions) or changed its configs would break consumer groups.
 * Returns the name when it is not one of them; throws TopicError otherwise.
 */
export function refuseInternal(name: string): string {
  if (INTERNAL_TOPIC_NAMES.has(name)) throw new TopicError('INVALID_TOPIC_EXCEPTION', `${name} is one of Brook's internal topics; clients may read it but not change it`);
  return name;
}
