/**
 * Per-partition storage settings: segment size and age, index density, retention, flush policy
 * and limits. Every value is explicit; "keep forever" is a large number, never 0 or -1.
 */

/** When appended bytes reach the disk: see README.md "Flush policy" for what each can lose. */
export type FlushPolicy = 'always' | 'interval' | 'never';

/** Whether a batch keeps the producer's timestamps ('create') or gets the broker's ('log-append'). */
export type TimestampType = 'create' | 'log-append';

export interface LogConfig {
  /** The active segment rolls before an append would grow it past this size. */
  readonly segmentBytes: number;
  /** The active segment rolls when its first append is older than this. */
  readonly segmentMs: number;
  /** One sparse offset-index entry per this many bytes of batches. */
  readonly indexIntervalBytes: number;
  /** Whole segments whose newest timestamp is older than this are deleted by retention. */
  readonly retentionMs: number;
  /** Retention deletes the oldest whole segments while the log is larger than this. */
  readonly retentionBytes: number;
  readonly flushPolicy: FlushPolicy;
  /** Under 'interval', the longest time appended bytes may stay unsynced. */
  readonly flushIntervalMs: number;
  /** The largest single batch accepted (header included). */
  readonly maxBatchBytes: number;
  readonly timestampType: TimestampType;
  /** Recently appended bytes kept in memory to serve tail reads without disk I/O. */
  readonly tailCacheBytes: number;
}

const MIB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Positions in a segment are stored as int32 in the index, so a segment stays below 2 GiB. */
export const SEGMENT_BYTES_MAX = 2 ** 31 - 1;
/** A segment must hold at least one header plus a little; tiny values are for tests only. */
export const SEGMENT_BYTES_MIN = 1024;
/** Retention "forever": about 285 000 years, still an exact integer in a double. */
export const RETENTION_MS_FOREVER = Number.MAX_SAFE_INTEGER;
/** Retention "unbounded size": 8 PiB, an exact integer in a double. */
export const RETENTION_BYTES_UNBOUNDED = Number.MAX_SAFE_INTEGER;
/** An upper bound on a single batch: a batch must fit in a segment and in memory comfortably. */
export const MAX_BATCH_BYTES_LIMIT = 256 * MIB;
/** An upper bound on the tail cache of one log. */
export const TAIL_CACHE_BYTES_LIMIT = 1024 * MIB;

export const defaultLogConfig: LogConfig = Object.freeze({
  segmentBytes: 1024 * MIB,
  segmentMs: 7 * DAY_MS,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: RETENTION_BYTES_UNBOUNDED,
  flushPolicy: 'always',
  flushIntervalMs: 1000,
  maxBatchBytes: 1 * MIB,
  timestampType: 'create',
  tailCacheBytes: 4 * MIB,
});

/** Thrown by validateLogConfig; the message names the field, its value and the allowed range. */
export class LogConfigError extends Error {
  override readonly name = 'LogConfigError';
}

/** Fills missing fields from defaultLogConfig and validates the result. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = Object.freeze({ ...defaultLogConfig, ...overrides });
  validateLogConfig(config);
  return config;
}

/** Throws LogConfigError for the first field that is out of range. */
export function validateLogConfig(config: LogConfig): void {
  checkInteger('segmentBytes', config.segmentBytes, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
  checkInteger('segmentMs', config.segmentMs, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('indexIntervalBytes', config.indexIntervalBytes, 1, SEGMENT_BYTES_MAX);
  checkInteger('retentionMs', config.retentionMs, 1, RETENTION_MS_FOREVER);
  checkInteger('retentionBytes', config.retentionBytes, 1, RETENTION_BYTES_UNBOUNDED);
  checkInteger('flushIntervalMs', config.flushIntervalMs, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('maxBatchBytes', config.maxBatchBytes, 61, MAX_BATCH_BYTES_LIMIT);
  checkInteger('tailCacheBytes', config.tailCacheBytes, 0, TAIL_CACHE_BYTES_LIMIT);
  if (config.maxBatchBytes > config.segmentBytes) {
    throw new LogConfigError(
      `maxBatchBytes (${config.maxBatchBytes}) must not exceed segmentBytes (${config.segmentBytes}): a batch must fit in one segment`,
    );
  }
  if (!['always', 'interval', 'never'].includes(config.flushPolicy)) {
    throw new LogConfigError(`flushPolicy must be 'always', 'interval' or 'never', got ${JSON.stringify(config.flushPolicy)}`);
  }
  if (!['create', 'log-append'].includes(config.timestampType)) {
    throw new LogConfigError(`timestampType must be 'create' or 'log-append', got ${JSON.stringify(config.timestampType)}`);
  }
}

function checkInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new LogConfigError(`${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}
