/** How the CLI reports errors: one line a user can act on, and an exit code per kind of failure. */
import { BrookError, ConnectionError, InvalidArgumentError, RetriesExhaustedError, TimeoutError } from '../client/errors.js';

export const EXIT_BROKER_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;
export const EXIT_TIMEOUT = 4;

/** An argument the user gave is wrong; the message says which and what is accepted. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function innermost(error: unknown): unknown {
  return error instanceof RetriesExhaustedError && error.cause !== undefined ? error.cause : error;
}

export function exitCodeFor(error: unknown): number {
  const inner = innermost(error);
  if (error instanceof UsageError || inner instanceof InvalidArgumentError) return EXIT_USAGE;
  if (inner instanceof ConnectionError) return EXIT_UNREACHABLE;
  if (inner instanceof TimeoutError) return EXIT_TIMEOUT;
  return EXIT_BROKER_ERROR;
}

export function formatError(error: unknown): string {
  const inner = innermost(error);
  if (inner instanceof ConnectionError) return `${inner.message} — is a broker running there? (set --brokers host:port)`;
  if (inner instanceof BrookError) {
    const hints: Record<string, string> = {
      UNKNOWN_TOPIC_OR_PARTITION: 'create the topic first (brook topics create) or check its name and partition count',
      TOPIC_ALREADY_EXISTS: 'pick another name, or delete the topic first',
      INVALID_TOPIC_EXCEPTION: 'topic names use letters, digits, ".", "_" and "-", at most 249 characters',
      MESSAGE_TOO_LARGE: 'send smaller records, or raise the topic\'s max.message.bytes (brook topics alter)',
      INVALID_CONFIG: 'see `brook topics describe` for the config names a topic has',
      INVALID_REPLICA_ASSIGNMENT: 'name registered brokers once each (brook cluster describe lists them)',
      REASSIGNMENT_IN_PROGRESS: 'wait until brook topics describe shows no target for the partition',
      NOT_CONTROLLER: 'the cluster has no controller leader right now (a majority of controller voters must be up)',
    };
    const hint = hints[inner.code];
    return hint === undefined ? inner.message : `${inner.message} — ${hint}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Parses a non-negative integer argument, or throws a UsageError naming the option. */
export function parseIntegerOption(name: string, value: string, min = 0): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${name} must be an integer, got "${value}"`);
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${value}"`);
  return number;
}

/** Parses "name=value" pairs into an object. */
export function parseKeyValues(name: string, pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const index = pair.indexOf('=');
    if (index <= 0) throw new UsageError(`${name} takes name=value, got "${pair}"`);
    out[pair.slice(0, index)] = pair.slice(index + 1);
  }
  return out;
}
