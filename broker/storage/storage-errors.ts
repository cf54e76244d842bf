/**
 * Operating errors of the storage layer. Each is expected in production (a full disk, a client's
 * bad bytes, a consumer asking for an offset retention deleted) and is handed to the caller as a
 * typed error; the API layer maps them to protocol error codes.
 */

/** Base class so callers can tell storage errors from programmer errors (assertions). */
export class StorageError extends Error {
  /** Whether retrying the same request later may succeed. */
  readonly retriable: boolean;
  constructor(message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.retriable = retriable;
  }
}

/** The disk is full (ENOSPC). Nothing of the failed append is visible, now or after a restart. */
export class StorageFullError extends StorageError {
  override readonly name = 'StorageFullError';
  constructor(path: string, cause?: unknown) {
    super(`no space left on device while writing ${path}`, true, { cause });
  }
}

/** A read or lookup asked for an offset outside [logStartOffset, logEndOffset]. */
export class OffsetOutOfRangeError extends StorageError {
  override readonly name = 'OffsetOutOfRangeError';
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(`offset ${offset} is outside the log [${logStartOffset}, ${logEndOffset}]`, false);
  }
}

/**
 * A batch the log had written and made durable reads back damaged (a bad CRC or framing: bit rot,
 * a bad sector, a stray write). Nothing of it is served. `offset` is the damaged batch's base
 * offset (a batch boundary): a replicated log cuts there and fetches the rest again from its
 * group (broker/partition/README.md, "Damaged storage").
 */
export class CorruptLogError extends StorageError {
  override readonly name = 'CorruptLogError';
  constructor(
    readonly path: string,
    readonly offset: number,
    readonly positionBytes: number,
    readonly reason: string,
  ) {
    super(`stored batch at offset ${offset} (byte ${positionBytes} of ${path}) is damaged: ${reason}`, false);
  }
}

/** Bytes handed to append are not a sequence of valid RecordBatch v2 frames. */
export class CorruptBatchError extends StorageError {
  override readonly name = 'CorruptBatchError';
  constructor(
    readonly reason: string,
    readonly positionBytes: number,
  ) {
    super(`corrupt record batch at byte ${positionBytes}: ${reason}`, false);
  }
}

/**
 * A batch is larger than the log's maxBatchBytes, or one append's batches together are larger
 * than a segment (an append never spans segments).
 */
export class BatchTooLargeError extends StorageError {
  override readonly name = 'BatchTooLargeError';
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes: number,
    readonly limitName: 'maxBatchBytes' | 'segmentBytes',
  ) {
    super(`${limitName === 'maxBatchBytes' ? 'record batch' : 'append'} of ${sizeBytes} bytes exceeds ${limitName} ${limitBytes}`, false);
  }
}

/** A leader appended with an epoch older than one the log already holds (it was deposed). */
export class StaleLeaderEpochError extends StorageError {
  override readonly name = 'StaleLeaderEpochError';
  constructor(
    readonly leaderEpoch: number,
    readonly latestEpoch: number,
  ) {
    super(`append with leader epoch ${leaderEpoch}, but the log already holds epoch ${latestEpoch}`, false);
  }
}

/** A replicated batch does not continue the log: its baseOffset is not the log end offset. */
export class NonContiguousAppendError extends StorageError {
  override readonly name = 'NonContiguousAppendError';
  constructor(
    readonly baseOffset: number,
    readonly logEndOffset: number,
  ) {
    super(`replicated batch starts at offset ${baseOffset}, but the log ends at ${logEndOffset}`, false);
  }
}

/** Too many appends are waiting for the log's writer (the disk is slower than the input). */
export class LogBusyError extends StorageError {
  override readonly name = 'LogBusyError';
  constructor(
    readonly queuedBytes: number,
    readonly limitBytes: number,
  ) {
    super(`${queuedBytes} bytes of appends are already waiting (limit ${limitBytes}); retry later`, true);
  }
}

/** The log was closed, or stopped accepting writes after an I/O failure it could not undo. */
export class LogClosedError extends StorageError {
  override readonly name = 'LogClosedError';
  constructor(dir: string, cause?: unknown) {
    super(cause === undefined ? `log ${dir} is closed` : `log ${dir} failed and is closed: ${String(cause)}`, false, { cause });
  }
}

/** True for a Node.js system error carrying the given code (ENOSPC, ENOENT, ...). */
export function hasErrorCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/** Turns a disk-full system error into StorageFullError; other errors pass through. */
export function toStorageError(error: unknown, path: string): unknown {
  if (error instanceof StorageError) return error;
  if (hasErrorCode(error, 'ENOSPC') || hasErrorCode(error, 'EDQUOT')) return new StorageFullError(path, error);
  return error;
}
