/**
 * Which leader epoch (Raft term) wrote which offsets: a short list of (epoch, startOffset), both
 * strictly increasing, where an entry covers offsets from its start up to the next entry's start.
 * Raft asks it for term(i) on every append it checks, so the lookup is a binary search over a few
 * entries, never a disk read. The log persists it as a checkpoint file and rebuilds it by
 * scanning batch headers when the file is missing.
 */
import assert from 'node:assert/strict';

/** An epoch cache longer than this means epochs churn abnormally; old entries are dropped. */
export const EPOCH_ENTRIES_MAX = 100_000;

export class LeaderEpochCache {
  private epochs: number[] = [];
  private startOffsets: number[] = [];

  get entries(): number {
    return this.epochs.length;
  }

  get latestEpoch(): number | undefined {
    return this.epochs.length === 0 ? undefined : this.epochs[this.epochs.length - 1];
  }

  /** The entries as [epoch, startOffset] pairs, for tests and the checkpoint file. */
  toPairs(): Array<[number, number]> {
    return this.epochs.map((epoch, entry) => [epoch, this.startOffsets[entry]]);
  }

  /**
   * Records that batches from `startOffset` on carry `epoch`. Returns whether the cache changed.
   * An epoch lower than the latest is a caller bug (the log checks it first).
   */
  assign(epoch: number, startOffset: number): boolean {
    const latest = this.latestEpoch;
    if (latest !== undefined) {
      assert.ok(epoch >= latest, `epoch ${epoch} is below the latest epoch ${latest}`);
      if (epoch === latest) return false;
      assert.ok(startOffset >= this.startOffsets[this.startOffsets.length - 1], 'epoch start offsets never decrease');
      if (startOffset === this.startOffsets[this.startOffsets.length - 1]) {
        // The previous epoch wrote nothing: the new one replaces it at the same offset.
        this.epochs.pop();
        this.startOffsets.pop();
      }
    }
    this.epochs.push(epoch);
    this.startOffsets.push(startOffset);
    if (this.epochs.length > EPOCH_ENTRIES_MAX) {
      this.epochs.shift();
      this.startOffsets.shift();
    }
    return true;
  }

  /** The epoch covering `offset`, or undefined when it is before the first entry. */
  epochAt(offset: number): number | undefined {
    let low = 0;
    let high = this.startOffsets.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.startOffsets[middle] <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? undefined : this.epochs[found];
  }

  /**
   * The largest offset at or below `maxOffset` whose epoch is at most `epoch`, or undefined when
   * every entry at or below it has a larger epoch. Callers clamp the answer to their log.
   */
  lastOffsetWithEpochAtMost(epoch: number, maxOffset: number): number | undefined {
    for (let entry = this.epochs.length - 1; entry >= 0; entry--) {
      if (this.startOffsets[entry] > maxOffset || this.epochs[entry] > epoch) continue;
      const nextStart = entry + 1 < this.startOffsets.length ? this.startOffsets[entry + 1] : Number.POSITIVE_INFINITY;
      return Math.min(maxOffset, nextStart - 1);
    }
    return undefined;
  }

  /** Forgets epochs that start at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.epochs.length;
    while (this.startOffsets.length > 0 && this.startOffsets[this.startOffsets.length - 1] >= endOffset) {
      this.epochs.pop();
      this.startOffsets.pop();
    }
    return this.epochs.length !== before;
  }

  /** The log now starts at `startOffset`: entries wholly before it go, the covering one moves up. */
  truncateFromStart(startOffset: number): boolean {
    let changed = false;
    while (this.startOffsets.length > 1 && this.startOffsets[1] <= startOffset) {
      this.epochs.shift();
      this.startOffsets.shift();
      changed = true;
    }
    if (this.startOffsets.length > 0 && this.startOffsets[0] < startOffset) {
      this.startOffsets[0] = startOffset;
      changed = true;
    }
    return changed;
  }

  clear(): void {
    this.epochs = [];
    this.startOffsets = [];
  }

  /** Checkpoint payload: one "epoch startOffset" line per entry. */
  toLines(): string[] {
    return this.epochs.map((epoch, entry) => `${epoch} ${this.startOffsets[entry]}`);
  }

  /** Parses checkpoint lines; undefined when any line is malformed or the order is broken. */
  static fromLines(lines: readonly string[]): LeaderEpochCache | undefined {
    const cache = new LeaderEpochCache();
    for (const line of lines) {
      const match = /^(-?[0-9]+) ([0-9]+)$/.exec(line);
      if (match === null) return undefined;
      const epoch = Number(match[1]);
      const startOffset = Number(match[2]);
      const latest = cache.latestEpoch;
      if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset)) return undefined;
      if (latest !== undefined && (epoch <= latest || startOffset <= cache.startOffsets[cache.startOffsets.length - 1])) return undefined;
      cache.epochs.push(epoch);
      cache.startOffsets.push(startOffset);
    }
    return cache;
  }
}
