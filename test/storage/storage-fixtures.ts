/** Shared pieces of the storage tests: a manual clock, a counting/faulty writer, temp dirs. */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { nodeFileWriter, type FileWriter, type WritableFile } from '../../broker/storage/file-writer.js';
import { resolveLogConfig, type LogConfig } from '../../broker/storage/log-config.js';
import { PartitionLog } from '../../broker/storage/partition-log.js';

export class ManualClock {
  constructor(public timeMs = 1_700_000_000_000) {}
  nowMs(): number {
    return this.timeMs;
  }
  advance(ms: number): void {
    this.timeMs += ms;
  }
}

/**
 * Wraps the real writer: counts fdatasync calls and written bytes, and, once `failAfterBytes` of
 * .log bytes have been written, writes only the part that fits and then fails with ENOSPC.
 * With `durable` false, fdatasync and directory syncs are counted but skipped: for tests that
 * simulate crashes by editing files rather than by losing power, and need not pay for fsyncs.
 */
export class FaultInjectingWriter implements FileWriter {
  datasyncs = 0;
  /** fdatasyncs of segment .log files only (not indexes or checkpoint files). */
  logDatasyncs = 0;
  directorySyncs = 0;
  durable = true;
  logBytesWritten = 0;
  failAfterBytes = Number.POSITIVE_INFINITY;
  /** Makes truncate fail with EIO, so a failed write cannot be cleaned up. */
  failTruncate = false;
  /** Makes opening a .log that does not exist yet fail with ENOSPC (a roll on a full disk). */
  failCreateLog = false;
  /** Makes the next fdatasync of a .log fail with EIO. */
  failNextLogDatasync = false;
  /** Makes every write to any file fail with ENOSPC, writing nothing. */
  diskFull = false;

  async open(path: string): Promise<WritableFile> {
    const isLog = path.endsWith('.log');
    if (isLog && this.failCreateLog && !(await exists(path))) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), { code: 'ENOSPC' });
    }
    const inner = await nodeFileWriter.open(path);
    return {
      path,
      writeAll: async (buffers, positionBytes) => {
        if (this.diskFull) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
        if (!isLog) return inner.writeAll(buffers, positionBytes);
        const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
        const room = this.failAfterBytes - this.logBytesWritten;
        if (total <= room) {
          this.logBytesWritten += total;
          return inner.writeAll(buffers, positionBytes);
        }
        const partial = Buffer.concat(buffers as Buffer[]).subarray(0, Math.max(0, room));
        await inner.writeAll([partial], positionBytes);
        this.logBytesWritten += partial.length;
        throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC', errno: -28 });
      },
      datasync: async () => {
        this.datasyncs += 1;
        if (isLog) this.logDatasyncs += 1;
        if (isLog && this.failNextLogDatasync) {
          this.failNextLogDatasync = false;
          throw Object.assign(new Error(`EIO: i/o error, fdatasync '${path}'`), { code: 'EIO' });
        }
        if (this.durable) await inner.datasync();
      },
      truncate: async (lengthBytes) => {
        if (this.failTruncate && isLog) throw Object.assign(new Error(`EIO: i/o error, ftruncate '${path}'`), { code: 'EIO' });
        await inner.truncate(lengthBytes);
      },
      sizeBytes: () => inner.sizeBytes(),
      close: () => inner.close(),
    };
  }

  async syncDirectory(dir: string): Promise<void> {
    this.directorySyncs += 1;
    if (this.durable) await nodeFileWriter.syncDirectory(dir);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'brook-storage-test-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TestLogContext {
  readonly clock: ManualClock;
  readonly writer: FaultInjectingWriter;
  readonly files: FileHandleCache;
  open(overrides?: Partial<LogConfig>): Promise<PartitionLog>;
}

/**
 * A clock, writer and handle cache for logs in `dir`; `open` opens (or reopens) the log. Syncs
 * really reach the disk only with `durable` (the default is to count them and skip them).
 */
export function testLogContext(dir: string, baseOverrides: Partial<LogConfig> = {}, durable = false): TestLogContext {
  const clock = new ManualClock();
  const writer = new FaultInjectingWriter();
  writer.durable = durable;
  const files = new FileHandleCache(64);
  return {
    clock,
    writer,
    files,
    open: (overrides = {}) => PartitionLog.open(dir, resolveLogConfig({ ...baseOverrides, ...overrides }), { clock, files, writer }),
  };
}
