/**
 * The sparse time index of one segment: entries (timestamp int64 ms, relative offset int32),
 * big-endian, 12 bytes each, timestamps strictly increasing. An entry (T, o) says: the batch with
 * base offset o is the first of the segment whose maxTimestamp reached T, so every batch before
 * it has maxTimestamp < T. Entries are added at offset-index points when the segment's maximum
 * timestamp grew, and once more when the segment stops being active, so the last entry holds the
 * segment's largest timestamp (which time retention uses).
 */
import assert from 'node:assert/strict';

export const TIME_INDEX_ENTRY_BYTES = 12;
const INITIAL_CAPACITY_ENTRIES = 16;

export class TimeIndex {
  private bytes: Buffer;
  private count = 0;

  constructor(readonly baseOffset: number, capacityEntries = INITIAL_CAPACITY_ENTRIES) {
    this.bytes = Buffer.alloc(Math.max(1, capacityEntries) * TIME_INDEX_ENTRY_BYTES);
  }

  /**
   * Loads the longest valid prefix of a .timeindex file: strictly increasing timestamps,
   * non-decreasing offsets below `endOffsetExclusive`.
   */
  static load(baseOffset: number, fileBytes: Buffer, endOffsetExclusive: number): { index: TimeIndex; complete: boolean } {
    const available = Math.floor(fileBytes.length / TIME_INDEX_ENTRY_BYTES);
    const index = new TimeIndex(baseOffset, available);
    let lastTimestamp = Number.NEGATIVE_INFINITY;
    let lastRelative = -1;
    for (let entry = 0; entry < available; entry++) {
      const timestamp = Number(fileBytes.readBigInt64BE(entry * TIME_INDEX_ENTRY_BYTES));
      const relative = fileBytes.readInt32BE(entry * TIME_INDEX_ENTRY_BYTES + 8);
      if (timestamp < 0 || timestamp <= lastTimestamp || relative < Math.max(0, lastRelative) || baseOffset + relative >= endOffsetExclusive) break;
      index.append(timestamp, baseOffset + relative);
      lastTimestamp = timestamp;
      lastRelative = relative;
    }
    const complete = index.count === available && fileBytes.length % TIME_INDEX_ENTRY_BYTES === 0;
    return { index, complete };
  }

  get entries(): number {
    return this.count;
  }

  timestampAt(entry: number): number {
    return Number(this.bytes.readBigInt64BE(entry * TIME_INDEX_ENTRY_BYTES));
  }

  offsetAt(entry: number): number {
    return this.baseOffset + this.bytes.readInt32BE(entry * TIME_INDEX_ENTRY_BYTES + 8);
  }

  /** The largest indexed timestamp, or -Infinity for an empty index. */
  get lastTimestamp(): number {
    return this.count === 0 ? Number.NEGATIVE_INFINITY : this.timestampAt(this.count - 1);
  }

  append(timestampMs: number, offset: number): void {
    const relative = offset - this.baseOffset;
    assert.ok(relative >= 0 && relative <= 0x7fffffff, 'relative offset must fit in int32');
    assert.ok(timestampMs > this.lastTimestamp, 'timestamps strictly increase');
    if (this.count > 0) assert.ok(offset >= this.offsetAt(this.count - 1), 'offsets never decrease');
    this.ensureCapacity(this.count + 1);
    this.bytes.writeBigInt64BE(BigInt(timestampMs), this.count * TIME_INDEX_ENTRY_BYTES);
    this.bytes.writeInt32BE(relative, this.count * TIME_INDEX_ENTRY_BYTES + 8);
    this.count += 1;
  }

  /**
   * Offset from which a forward scan finds the first batch with maxTimestamp >= `timestampMs`:
   * the offset of the last entry whose timestamp is below it (batches before that are older),
   * or the segment's base offset.
   */
  lookupStartOffset(timestampMs: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.timestampAt(middle) < timestampMs) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? this.baseOffset : this.offsetAt(found);
  }

  /** Drops entries whose offset is at or after `offset`. */
  truncateToOffset(offset: number): void {
    while (this.count > 0 && this.offsetAt(this.count - 1) >= offset) this.count -= 1;
  }

  fileBytes(fromEntry = 0): Buffer {
    return this.bytes.subarray(fromEntry * TIME_INDEX_ENTRY_BYTES, this.count * TIME_INDEX_ENTRY_BYTES);
  }

  private ensureCapacity(entries: number): void {
    if (entries * TIME_INDEX_ENTRY_BYTES <= this.bytes.length) return;
    const grown = Buffer.alloc(Math.max(entries, this.count * 2) * TIME_INDEX_ENTRY_BYTES);
    this.bytes.copy(grown, 0, 0, this.count * TIME_INDEX_ENTRY_BYTES);
    this.bytes = grown;
  }
}
