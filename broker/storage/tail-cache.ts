/**
 * The most recently appended bytes of a log, kept in memory up to a byte bound, so consumers and
 * followers reading near the end are served without disk I/O. It always covers a contiguous
 * offset range ending at the log end offset; anything that breaks that (truncation, an append
 * larger than the bound) empties it.
 */
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';

interface Chunk {
  readonly firstOffset: number;
  readonly endOffset: number;
  readonly bytes: Buffer;
}

export class TailCache {
  private chunks: Chunk[] = [];
  private head = 0;
  private cachedBytes = 0;

  constructor(readonly capacityBytes: number) {}

  get sizeBytes(): number {
    return this.cachedBytes;
  }

  /** The first cached offset, or undefined when empty. */
  get startOffset(): number | undefined {
    return this.head < this.chunks.length ? this.chunks[this.head].firstOffset : undefined;
  }

  /** Adds the whole batches `bytes` covering [firstOffset, endOffset). The cache keeps a reference. */
  append(firstOffset: number, endOffset: number, bytes: Buffer): void {
    const last = this.chunks.length > this.head ? this.chunks[this.chunks.length - 1] : undefined;
    if (bytes.length > this.capacityBytes || (last !== undefined && last.endOffset !== firstOffset)) {
      this.clear();
      if (bytes.length > this.capacityBytes) return;
    }
    // A small view into a large allocation would pin the whole allocation: copy it instead.
    const owned = bytes.buffer.byteLength > 2 * bytes.length ? Buffer.from(bytes) : bytes;
    this.chunks.push({ firstOffset, endOffset, bytes: owned });
    this.cachedBytes += owned.length;
    while (this.cachedBytes > this.capacityBytes) {
      this.cachedBytes -= this.chunks[this.head].bytes.length;
      this.head += 1;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.cachedBytes = 0;
  }

  /**
   * Whole batches from the one containing `offset`, up to `maxBytes` (at least one batch), none
   * reaching `limitOffsetExclusive`. Undefined when `offset` is not cached.
   */
  read(offset: number, maxBytes: number, limitOffsetExclusive: number): Buffer | undefined {
    let chunkIndex = this.findChunk(offset);
    if (chunkIndex < 0) return undefined;
    const parts: Buffer[] = [];
    let totalBytes = 0;
    let first = true;
    for (; chunkIndex < this.chunks.length; chunkIndex++) {
      const { bytes } = this.chunks[chunkIndex];
      let position = 0;
      let partStart = -1;
      let stop = false;
      while (position < bytes.length) {
        const size = batchSizeAt(bytes, position);
        const baseOffset = baseOffsetNumberAt(bytes, position);
        const lastOffset = baseOffset + lastOffsetDeltaAt(bytes, position);
        if (lastOffset >= offset) {
          if (lastOffset >= limitOffsetExclusive || (!first && totalBytes + size > maxBytes)) {
            stop = true;
            break;
          }
          if (partStart < 0) partStart = position;
          totalBytes += size;
          first = false;
        }
        position += size;
      }
      if (partStart >= 0) parts.push(bytes.subarray(partStart, position));
      if (stop || totalBytes >= maxBytes) break;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, totalBytes);
  }

  private findChunk(offset: number): number {
    let low = this.head;
    let high = this.chunks.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const chunk = this.chunks[middle];
      if (offset < chunk.firstOffset) high = middle - 1;
      else if (offset >= chunk.endOffset) low = middle + 1;
      else return middle;
    }
    return -1;
  }
}
