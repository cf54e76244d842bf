/**
 * The narrow write interface the log uses for its segment and index files. Everything the log
 * writes or syncs goes through it, so a test can wrap it to count fdatasync calls or to fail with
 * ENOSPC after a given number of bytes, deterministically, below the storage API.
 */
import { closeSync, constants, existsSync, openSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';

/** A file open for writing at explicit positions. */
export interface WritableFile {
  readonly path: string;
  /**
   * Writes all of `buffers`, back to back, starting at `positionBytes`. On failure some prefix
   * may have reached the file; the caller truncates it away.
   */
  writeAll(buffers: readonly Buffer[], positionBytes: number): Promise<void>;
  /** fdatasync: the written bytes and the file size are durable when this resolves. */
  datasync(): Promise<void>;
  truncate(lengthBytes: number): Promise<void>;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface FileWriter {
  /** Opens `path` for writing, creating it when missing; never truncates. */
  open(path: string): Promise<WritableFile>;
  /** fsync of a directory: makes the names created, renamed or deleted in it durable. */
  syncDirectory(dir: string): Promise<void>;
}

/**
 * Test-only fault-injection hooks (broker/storage/README.md, "Test-only hooks"), read once at
 * module load so a broker without them pays nothing per write or sync.
 *
 * BROOK_TEST_FSYNC_JOURNAL=<path>: after every successful fdatasync, "<absolute file path> <synced
 * length>\n" is appended to <path>, so a harness that SIGKILLs the broker knows how much of each
 * file a power loss would have kept.
 * BROOK_TEST_FAIL_WRITES_FILE=<path>: while <path> exists, every write fails with ENOSPC (a full disk).
 */
const fsyncJournalPath = process.env.BROOK_TEST_FSYNC_JOURNAL || undefined;
const failWritesFlagPath = process.env.BROOK_TEST_FAIL_WRITES_FILE || undefined;

let fsyncJournalFd: number | undefined;

/** Appends one line to the fsync journal, synchronously, so the line is in the page cache before the caller goes on. */
function journalSyncedLength(path: string, lengthBytes: number): void {
  if (fsyncJournalFd === undefined) {
    fsyncJournalFd = openSync(fsyncJournalPath!, 'a');
    process.once('exit', () => closeSync(fsyncJournalFd!));
  }
  writeSync(fsyncJournalFd, `${resolve(path)} ${lengthBytes}\n`);
}

function simulatedDiskFullError(path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device (simulated by BROOK_TEST_FAIL_WRITES_FILE), write '${path}'`);
  error.code = 'ENOSPC';
  error.errno = -28;
  error.syscall = 'write';
  error.path = path;
  return error;
}

/** Node's writev accepts at most IOV_MAX buffers per call on Linux. */
const BUFFERS_PER_WRITEV_MAX = 1024;

class NodeWritableFile implements WritableFile {
  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  async writeAll(buffers: readonly Buffer[], positionBytes: number): Promise<void> {
    if (failWritesFlagPath !== undefined && existsSync(failWritesFlagPath)) throw simulatedDiskFullError(this.path);
    let position = positionBytes;
    let pending = buffers.filter((buffer) => buffer.length > 0);
    while (pending.length > 0) {
      const chunk = pending.slice(0, BUFFERS_PER_WRITEV_MAX);
      const chunkBytes = chunk.reduce((sum, buffer) => sum + buffer.length, 0);
      const { bytesWritten } = await this.handle.writev(chunk, position);
      position += bytesWritten;
      // A short write (rare on regular files) leaves a remainder: retry from where it stopped.
      pending = bytesWritten === chunkBytes ? pending.slice(chunk.length) : dropPrefix(pending, bytesWritten);
    }
  }

  datasync(): Promise<void> {
    return fsyncJournalPath === undefined ? this.handle.datasync() : this.datasyncJournaled();
  }

  private async datasyncJournaled(): Promise<void> {
    // The size before the sync is what the sync covers: writes to one file are serialized by
    // the log's queue, so none runs between this stat and the sync.
    const { size } = await this.handle.stat();
    await this.handle.datasync();
    journalSyncedLength(this.path, size);
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.handle.truncate(lengthBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function dropPrefix(buffers: readonly Buffer[], bytes: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = bytes;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

/** The real disk. */
export const nodeFileWriter: FileWriter = {
  async open(path: string): Promise<WritableFile> {
    // Not 'a': O_APPEND would ignore the explicit positions the log writes at.
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    return new NodeWritableFile(path, handle);
  },

  async syncDirectory(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
