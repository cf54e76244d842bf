/**
 * Group id and group instance id rules: Kafka's topic-name characters, so ids are safe in logs,
 * metrics labels and command lines.
 */
import { GROUP_ID_LENGTH_MAX } from './group-limits.js';

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Why `id` is not a legal group id (or group instance id), or null when it is. */
export function groupIdProblem(id: string, what = 'group id'): string | null {
  if (typeof id !== 'string' || id.length === 0) return `${what} is empty`;
  if (id.length > GROUP_ID_LENGTH_MAX) return `${what} is ${id.length} characters long, more than ${GROUP_ID_LENGTH_MAX}`;
  if (!LEGAL.test(id)) return `${what} ${JSON.stringify(id)} has characters other than ASCII letters, digits, '.', '_' and '-'`;
  return null;
}
