/**
 * The one place that decides whether and when a failed operation runs again.
 *
 * Only errors that say `retriable` are retried; anything else is thrown at once. The wait before
 * retry n (n = 1, 2, ...) is initialRetryMs * multiplier^(n-1), capped at maxRetryMs, then
 * spread by +-jitterFactor at random so that clients that failed together do not retry together.
 */
import { setTimeout as sleepMs } from 'node:timers/promises';
import { isRetriable, RetriesExhaustedError } from './errors.js';

export interface RetryConfig {
  /** Retries after the first attempt; the operation runs at most retries + 1 times. */
  readonly retries: number;
  readonly initialRetryMs: number;
  readonly maxRetryMs: number;
  readonly multiplier: number;
  /** Fraction of the wait added or removed at random, 0 .. 1. */
  readonly jitterFactor: number;
  /** Gives up once this much time has passed since the first attempt, whatever retries are left. */
  readonly maxRetryTimeMs: number;
}

export const DEFAULT_RETRY: RetryConfig = {
  retries: 8,
  initialRetryMs: 100,
  maxRetryMs: 5_000,
  multiplier: 2,
  jitterFactor: 0.2,
  maxRetryTimeMs: 30_000,
};

export const RETRIES_MAX = 1_000;

/** What retry() needs from the world; tests hand in fakes. */
export interface RetryEnvironment {
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly nowMs: () => number;
}

const REAL_ENVIRONMENT: RetryEnvironment = {
  random: Math.random,
  sleep: (ms) => sleepMs(ms),
  nowMs: () => Date.now(),
};

/** The wait before retry `attempt` (1-based), jittered by `randomValue` in [0, 1). */
export function backoffMs(config: RetryConfig, attempt: number, randomValue: number): number {
  const base = Math.min(config.maxRetryMs, config.initialRetryMs * config.multiplier ** (attempt - 1));
  const spread = base * config.jitterFactor;
  return Math.max(0, Math.round(base - spread + 2 * spread * randomValue));
}

/** Information handed to the operation on each attempt. */
export interface AttemptInfo {
  /** 0 for the first attempt. */
  readonly attempt: number;
  /** The error that caused this retry, if any. */
  readonly lastError: unknown;
}

/**
 * Runs `operation` until it succeeds, fails with an error that is not retriable, or retries
 * run out (then throws RetriesExhaustedError with the last error as cause). `onRetry` runs before
 * each wait, e.g. to refresh metadata.
 */
export async function retry<T>(
  operation: (info: AttemptInfo) => Promise<T>,
  config: RetryConfig = DEFAULT_RETRY,
  options: { onRetry?: (error: unknown, attempt: number) => void | Promise<void>; environment?: RetryEnvironment } = {},
): Promise<T> {
  if (config.retries < 0 || config.retries > RETRIES_MAX) throw new RangeError(`retries must be 0..${RETRIES_MAX}`);
  const environment = options.environment ?? REAL_ENVIRONMENT;
  const startMs = environment.nowMs();
  let lastError: unknown = undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation({ attempt, lastError });
    } catch (error) {
      lastError = error;
      if (!isRetriable(error)) throw error;
      if (attempt >= config.retries) throw new RetriesExhaustedError(attempt + 1, error);
      const waitMs = backoffMs(config, attempt + 1, environment.random());
      if (environment.nowMs() + waitMs - startMs > config.maxRetryTimeMs) throw new RetriesExhaustedError(attempt + 1, error);
      await options.onRetry?.(error, attempt + 1);
      await environment.sleep(waitMs);
    }
  }
}
