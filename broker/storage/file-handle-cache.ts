/**
 * A bounded LRU of read-only file handles, shared by all logs of a broker, so thousands of
 * segments never mean thousands of open descriptors.
 *
 * A handle evicted while reads are in flight is closed when the last of them finishes; so the
 * number of open descriptors is at most maxOpenFiles plus the number of reads in flight.
 */
import assert from 'node:assert/strict';
import { open, type FileHandle } from 'node:fs/promises';

interface CachedHandle {
  readonly handle: Promise<FileHandle>;
  readersInFlight: number;
  /** Removed from the cache; close once readersInFlight drops to zero. */
  evicted: boolean;
}

export const MAX_OPEN_FILES_DEFAULT = 1024;

export class FileHandleCache {
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  private readonly entries = new Map<string, CachedHandle>();
  private opensTotal = 0;

  constructor(readonly maxOpenFiles: number = MAX_OPEN_FILES_DEFAULT) {
    assert.ok(Number.isSafeInteger(maxOpenFiles) && maxOpenFiles >= 1, 'maxOpenFiles must be a positive integer');
  }

  /** Handles currently cached (not counting evicted ones still finishing a read). */
  get openFiles(): number {
    return this.entries.size;
  }

  /** How many times a file was opened; tests use it to see the LRU at work. */
  get opens(): number {
    return this.opensTotal;
  }

  /**
   * Reads up to `length` bytes of `path` at `positionBytes` into `buffer` at `offset`, looping over
   * short reads; returns the bytes read, fewer only at the end of the file.
   */
  async read(path: string, buffer: Buffer, offset: number, length: number, positionBytes: number): Promise<number> {
    const entry = this.acquire(path);
    try {
      const handle = await entry.handle;
      let total = 0;
      while (total < length) {
        const { bytesRead } = await handle.read(buffer, offset + total, length - total, positionBytes + total);
        if (bytesRead === 0) break;
        total += bytesRead;
      }
      return total;
    } finally {
      this.release(entry);
    }
  }

  /** Reads into a fresh buffer; its length is the bytes actually read. */
  async readBytes(path: string, positionBytes: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const bytesRead = await this.read(path, buffer, 0, length, positionBytes);
    return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }

  /** Drops the handle of a file that was deleted or replaced, so the next read opens it afresh. */
  evict(path: string): void {
    const entry = this.entries.get(path);
    if (entry === undefined) return;
    this.entries.delete(path);
    this.retire(entry);
  }

  /** Closes every cached handle. */
  async close(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) this.retire(entry);
    await Promise.allSettled(entries.map((entry) => entry.handle));
  }

  private acquire(path: string): CachedHandle {
    let entry = this.entries.get(path);
    if (entry !== undefined) {
      this.entries.delete(path);
      this.entries.set(path, entry);
    } else {
      this.opensTotal += 1;
      const handle = open(path, 'r');
      // A failed open must not linger in the cache; the reader sees the rejection itself.
      handle.catch(() => {
        if (this.entries.get(path) === entry) this.entries.delete(path);
      });
      entry = { handle, readersInFlight: 0, evicted: false };
      this.entries.set(path, entry);
      this.evictOverLimit();
    }
    entry.readersInFlight += 1;
    return entry;
  }

  private release(entry: CachedHandle): void {
    assert.ok(entry.readersInFlight > 0);
    entry.readersInFlight -= 1;
    if (entry.evicted && entry.readersInFlight === 0) closeQuietly(entry.handle);
  }

  private evictOverLimit(): void {
    for (const [path, entry] of this.entries) {
      if (this.entries.size <= this.maxOpenFiles) return;
      this.entries.delete(path);
      this.retire(entry);
    }
  }

  private retire(entry: CachedHandle): void {
    entry.evicted = true;
    if (entry.readersInFlight === 0) closeQuietly(entry.handle);
  }
}

function closeQuietly(handle: Promise<FileHandle>): void {
  handle.then(
    (opened) => opened.close().catch(() => undefined),
    () => undefined,
  );
}
