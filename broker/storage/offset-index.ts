/**
 * The sparse offset index of one segment: entries (relative offset int32, position int32), both
 * strictly increasing, big-endian, 8 bytes each; one entry roughly every indexIntervalBytes of
 * batches, each pointing at the first byte of a batch whose baseOffset is baseOffset + relative.
 *
 * The entries live in memory in exactly their file layout, so writing the .index file is writing
 * a slice of this buffer, and loading it is a copy plus a validity check.
 */
import assert from 'node:assert/strict';

export const OFFSET_INDEX_ENTRY_BYTES = 8;
const INITIAL_CAPACITY_ENTRIES = 64;

export class OffsetIndex {
  private bytes: Buffer;
  private count = 0;

  constructor(readonly baseOffset: number, capacityEntries = INITIAL_CAPACITY_ENTRIES) {
    this.bytes = Buffer.alloc(Math.max(1, capacityEntries) * OFFSET_INDEX_ENTRY_BYTES);
  }

  /**
   * Loads the longest valid prefix of a .index file's bytes: strictly increasing offsets and
   * positions, positions below `segmentSizeBytes`. `complete` is false when anything was dropped.
   */
  static load(baseOffset: number, fileBytes: Buffer, segmentSizeBytes: number): { index: OffsetIndex; complete: boolean } {
    const available = Math.floor(fileBytes.length / OFFSET_INDEX_ENTRY_BYTES);
    const index = new OffsetIndex(baseOffset, available);
    let lastRelative = -1;
    let lastPosition = -1;
    for (let entry = 0; entry < available; entry++) {
      const relative = fileBytes.readInt32BE(entry * OFFSET_INDEX_ENTRY_BYTES);
      const position = fileBytes.readInt32BE(entry * OFFSET_INDEX_ENTRY_BYTES + 4);
      if (relative <= lastRelative || position <= lastPosition || position >= segmentSizeBytes) break;
      index.appendRelative(relative, position);
      lastRelative = relative;
      lastPosition = position;
    }
    const complete = index.count === available && fileBytes.length % OFFSET_INDEX_ENTRY_BYTES === 0;
    return { index, complete };
  }

  get entries(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.count * OFFSET_INDEX_ENTRY_BYTES;
  }

  offsetAt(entry: number): number {
    return this.baseOffset + this.bytes.readInt32BE(entry * OFFSET_INDEX_ENTRY_BYTES);
  }

  positionAt(entry: number): number {
    return this.bytes.readInt32BE(entry * OFFSET_INDEX_ENTRY_BYTES + 4);
  }

  /** Adds an entry for the batch starting at `positionBytes` with base offset `offset`. */
  append(offset: number, positionBytes: number): void {
    this.appendRelative(offset - this.baseOffset, positionBytes);
  }

  /** Index of the last entry with offset <= `offset`, or -1 when there is none. */
  floorEntry(offset: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.offsetAt(middle) <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Position from which a forward scan finds the batch containing `offset`. */
  lookupPosition(offset: number): number {
    const entry = this.floorEntry(offset);
    return entry < 0 ? 0 : this.positionAt(entry);
  }

  /** Drops the entries at or after `entry`. */
  truncateEntries(entry: number): void {
    assert.ok(entry >= 0 && entry <= this.count);
    this.count = entry;
  }

  /** Drops entries for batches at or after `positionBytes` (they were truncated away). */
  truncateToPosition(positionBytes: number): void {
    while (this.count > 0 && this.positionAt(this.count - 1) >= positionBytes) this.count -= 1;
  }

  /** The file bytes of entries [fromEntry, entries): what to write at fromEntry * 8. */
  fileBytes(fromEntry = 0): Buffer {
    return this.bytes.subarray(fromEntry * OFFSET_INDEX_ENTRY_BYTES, this.count * OFFSET_INDEX_ENTRY_BYTES);
  }

  private appendRelative(relative: number, positionBytes: number): void {
    assert.ok(relative >= 0 && relative <= 0x7fffffff, 'relative offset must fit in int32');
    assert.ok(positionBytes >= 0 && positionBytes <= 0x7fffffff, 'position must fit in int32');
    if (this.count > 0) {
      assert.ok(relative > this.bytes.readInt32BE((this.count - 1) * OFFSET_INDEX_ENTRY_BYTES), 'offsets strictly increase');
      assert.ok(positionBytes > this.positionAt(this.count - 1), 'positions strictly increase');
    }
    this.ensureCapacity(this.count + 1);
    this.bytes.writeInt32BE(relative, this.count * OFFSET_INDEX_ENTRY_BYTES);
    this.bytes.writeInt32BE(positionBytes, this.count * OFFSET_INDEX_ENTRY_BYTES + 4);
    this.count += 1;
  }

  private ensureCapacity(entries: number): void {
    if (entries * OFFSET_INDEX_ENTRY_BYTES <= this.bytes.length) return;
    const grown = Buffer.alloc(Math.max(entries, this.count * 2) * OFFSET_INDEX_ENTRY_BYTES);
    this.bytes.copy(grown, 0, 0, this.count * OFFSET_INDEX_ENTRY_BYTES);
    this.bytes = grown;
  }
}
