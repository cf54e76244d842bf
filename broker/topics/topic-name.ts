/**
 * Topic name rules. A name becomes part of a directory name (`<topic>-<partition>`), so it must be
 * a safe file name on every platform; the rules are Kafka's, plus a reserved "__" prefix for
 * Brook's own internal topics.
 */

/** Longest legal name: a partition directory adds "-" and up to 10 digits and stays under 255. */
export const TOPIC_NAME_LENGTH_MAX = 249;
/** Names with this prefix belong to the broker (e.g. future consumer-offset topics). */
export const RESERVED_TOPIC_PREFIX = '__';

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** The reserved topics a broker creates for itself (never a client). */
export const INTERNAL_TOPIC_NAMES: ReadonlySet<string> = new Set(['__consumer_offsets']);

/** Why `name` may not be created as an internal topic, or null when it may. */
export function internalTopicNameProblem(name: string): string | null {
  return INTERNAL_TOPIC_NAMES.has(name) ? null : `${JSON.stringify(name)} is not one of Brook's internal topics (${[...INTERNAL_TOPIC_NAMES].join(', ')})`;
}

/** Why `name` is not a legal topic name, or null when it is. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name.length > TOPIC_NAME_LENGTH_MAX) return `topic name is ${name.length} characters long, more than ${TOPIC_NAME_LENGTH_MAX}`;
  if (name === '.' || name === '..') return `topic name ${JSON.stringify(name)} is not allowed`;
  if (!LEGAL.test(name)) return `topic name ${JSON.stringify(name)} has characters other than ASCII letters, digits, '.', '_' and '-'`;
  if (name.startsWith(RESERVED_TOPIC_PREFIX)) return `topic names starting with "${RESERVED_TOPIC_PREFIX}" are reserved`;
  return null;
}
