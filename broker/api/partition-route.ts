/**
 * Where a request for one partition goes: to the partition this broker serves, or to the refusal
 * the client acts on. Produce, Fetch, Subscribe and ListOffsets answer through it alike, so a
 * client hears NOT_LEADER_OR_FOLLOWER with the same leader hint whichever call it made.
 */
import type { LeadershipRefusal, ServedPartition, ServedTopic, TopicService } from './topic-service.js';

export type PartitionRoute =
  | { readonly partition: ServedPartition; readonly refusal?: undefined }
  | { readonly partition?: undefined; readonly refusal: LeadershipRefusal };

/**
 * The route of partition `index` of `topic`; undefined when the topic or the partition does not
 * exist (the caller words that answer). A partition held here but led elsewhere, and one of an
 * existing topic that this broker holds no replica of, are refused with the leader as known here.
 */
export function routePartition(topics: TopicService, topic: ServedTopic | undefined, index: number): PartitionRoute | undefined {
  if (topic === undefined || !Number.isInteger(index) || index < 0 || index >= topic.partitions.length) return undefined;
  const partition = topic.partitions[index];
  if (partition === undefined) return { refusal: topics.notHeldHere(topic.name, index) };
  const refusal = partition.leadership();
  return refusal === undefined ? { partition } : { refusal };
}
