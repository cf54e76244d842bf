import assert from 'node:assert/strict';
import type { Entry, LogStorage, Snapshot } from './types.js';

/** Whether two entries are the same one: same index and term (and so the same range). */
function sameEntry(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.count === b.count;
}

/** The index of the last offset an entry covers. */
export function entryEnd(entry: Entry): number {
  return entry.index + entry.count - 1;
}

/**
 * A node's view of its log: what the driver has persisted (LogStorage, read-only here) followed by
 * entries (and possibly a snapshot) that the driver has been handed but not yet confirmed durable.
 *
 * Entries cover ranges of indices. Entry boundaries are known for the unstable tail only; the
 * storage answers `term(i)` for any index. Because terms never decrease along the log, and because
 * two entries with the same term at the same index are the same entry (one leader per term made
 * them), every "term boundary" (an index whose successor has a higher term) is an entry end in
 * every log that agrees on those terms. The back-off search below relies on that.
 */
export class RaftLog {
  /** Highest index known committed (always an entry's last index). */
  committed: number;
  /** Highest index the driver has applied (confirmed by advance()). */
  applied: number;
  /** Highest index handed out in Ready.committedEntries (applied <= applying <= committed). */
  applying: number;

  /** Entries not yet confirmed durable; unstable[0].index === unstableOffset when non-empty. */
  private unstable: Entry[] = [];
  /** The index the unstable tail starts at (the storage's view is authoritative below it). */
  private unstableOffset: number;
  /** A snapshot received from the leader and not yet confirmed installed. */
  private unstableSnapshot: Snapshot | undefined;

  /** `applied`: what the driver applied before a restart (RaftConfig.applied); the snapshot when absent. */
  constructor(private readonly storage: LogStorage, committed: number, applied?: number) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert.ok(first >= 1 && last >= first - 1, `storage bounds ${first}..${last}`);
    assert.ok(committed >= first - 1 && committed <= last, `commit ${committed} outside ${first - 1}..${last}`);
    const start = applied ?? first - 1;
    // Entries the driver applied are committed ones it still holds or compacted into the snapshot;
    // an applied index beyond the commit would hand out nothing until the commit passed it.
    assert.ok(Number.isSafeInteger(start) && start >= first - 1 && start <= committed, `applied ${start} outside ${first - 1}..${committed}`);
    this.unstableOffset = last + 1;
    this.committed = committed;
    this.applied = start;
    this.applying = start;
  }

  firstIndex(): number {
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstable.length > 0) return entryEnd(this.unstable[this.unstable.length - 1]);
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.index;
    return this.storage.lastIndex();
  }

  /** The last index known durable (what a leader may count for itself). */
  stableLastIndex(): number {
    // Until the driver installs a received snapshot, only the commit index is known to be held by
    // a majority; claiming no more than that can never advance a commit on its own.
    if (this.unstableSnapshot !== undefined) return this.committed;
    if (this.unstable.length > 0) return this.unstableOffset - 1;
    return this.storage.lastIndex();
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert.ok(term !== undefined);
    return term;
  }

  /** The term of the entry covering i, or undefined when i is compacted or beyond the log. */
  term(i: number): number | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    if (this.unstableSnapshot !== undefined && i === this.unstableSnapshot.index) return this.unstableSnapshot.term;
    if (i >= this.unstableOffset) return this.unstable[this.findUnstable(i)].term;
    return this.storage.term(i);
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Raft's "at least as up to date" comparison of a candidate's last entry with ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The largest index j in [lo, hi] whose term is below `termBound`, or lo - 1 when there is none.
   * Terms never decrease along the log, so this is a binary search; the answer (when >= lo and
   * < hi) is a term boundary and therefore an entry end.
   */
  lastIndexWithTermBelow(lo: number, hi: number, termBound: number): number {
    let low = lo;
    let high = hi;
    let found = lo - 1;
    while (low <= high) {
      const mid = low + Math.floor((high - low) / 2);
      const term = this.term(mid);
      assert.ok(term !== undefined, `term(${mid}) unavailable in ${lo}..${hi}`);
      if (term < termBound) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  /**
   * Entries starting at `lo` (an entry start) and ending before `hi`, at most `maxBytes` of data
   * and `maxCount` entries, but always at least one entry when lo < hi.
   */
  slice(lo: number, hi: number, maxBytes: number, maxCount: number): Entry[] {
    assert.ok(lo >= this.firstIndex(), `slice(${lo}) below first index ${this.firstIndex()}`);
    const out: Entry[] = [];
    if (lo >= hi || lo > this.lastIndex()) return out;
    let bytes = 0;
    if (lo < this.unstableOffset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstableOffset), maxBytes);
      assert.ok(stored.length > 0 && stored[0].index === lo, `storage.entries(${lo}) did not start at ${lo}`);
      for (const entry of stored) {
        if (out.length >= maxCount || (out.length > 0 && bytes + entry.data.length > maxBytes)) return out;
        out.push(entry);
        bytes += entry.data.length;
      }
      const next = entryEnd(out[out.length - 1]) + 1;
      if (next < this.unstableOffset) return out;
      lo = next;
    }
    if (lo >= hi || this.unstable.length === 0 || lo > this.lastIndex()) return out;
    for (let k = this.findUnstable(lo); k < this.unstable.length && this.unstable[k].index < hi; k++) {
      const entry = this.unstable[k];
      if (out.length >= maxCount || (out.length > 0 && bytes + entry.data.length > maxBytes)) break;
      out.push(entry);
      bytes += entry.data.length;
    }
    assert.ok(out.length > 0, `slice(${lo}, ${hi}) found nothing`);
    return out;
  }

  /** Appends entries that continue the log exactly (a leader's own proposals). */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    assert.equal(entries[0].index, this.lastIndex() + 1, 'append must continue the log');
    assert.ok(entries[0].term >= this.lastTerm(), 'terms never decrease along the log');
    this.truncateAndAppend(entries);
  }

  /**
   * A follower's half of AppendEntries: if our log holds (prevIndex, prevTerm), drop any suffix
   * that conflicts with `entries`, append the rest, and advance the commit index. Returns the last
   * index the leader's message proves we share with it and the entries actually written (the log
   * was cut before the first of them), or undefined when prevIndex does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: Entry[]): { lastNew: number; written: Entry[] } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    let expected = prevIndex + 1;
    let term = prevTerm;
    for (const entry of entries) {
      assert.ok(entry.count >= 1 && entry.index === expected, `append entries not contiguous at ${entry.index}`);
      assert.ok(entry.term >= term, `terms go backwards at ${entry.index}`);
      expected = entry.index + entry.count;
      term = entry.term;
    }
    const lastNew = expected - 1;
    const conflict = entries.findIndex((entry) => !this.matchTerm(entry.index, entry.term));
    let written: Entry[] = [];
    if (conflict >= 0) {
      const from = entries[conflict].index;
      // Truncating a committed entry would lose an acknowledged write: Raft forbids it.
      assert.ok(from > this.committed, `conflict at ${from} is at or below commit ${this.committed}`);
      written = entries.slice(conflict);
      this.truncateAndAppend(written);
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return { lastNew, written };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert.ok(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Replaces the log with a snapshot (the follower's log disagreed with or lagged behind it). */
  restore(snapshot: Snapshot): void {
    assert.ok(snapshot.index >= this.committed, `snapshot ${snapshot.index} below commit ${this.committed}`);
    this.unstableSnapshot = snapshot;
    this.unstable = [];
    this.unstableOffset = snapshot.index + 1;
    this.committed = snapshot.index;
    this.applying = Math.max(this.applying, snapshot.index);
  }

  hasUnstableEntries(): boolean {
    return this.unstable.length > 0;
  }

  /** Entries the driver must persist next. */
  unstableEntries(): Entry[] {
    return this.unstable.slice();
  }

  /** The driver's latest snapshot (what a leader sends a peer that is behind its first index). */
  storageSnapshot(): Snapshot {
    return this.storage.snapshot();
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstableSnapshot;
  }

  /**
   * The driver made `written` (a Ready's entries) durable. Between that Ready and this call a
   * follower may have cut its log and appended a new leader's entries. Every written entry that
   * still has the same index and term as the unstable entry in its place is the same entry (one
   * leader per term made it), so it is durable now and must never be handed out again: the driver
   * may already have compacted past it. Only what follows the first difference stays unstable, and
   * the next Ready hands out exactly that (the driver truncates its stale write from there).
   */
  stableTo(written: Entry[]): void {
    // A snapshot that arrived after the Ready replaces the log when installed, and everything
    // written before it goes with it: the entries after it must be handed out again.
    if (written.length === 0 || this.unstable.length === 0 || this.unstableSnapshot !== undefined) return;
    // The unstable tail starts where the Ready's entries started unless a truncation cut below
    // that; then every entry from the cut on differs from what was written (Log Matching).
    if (this.unstable[0].index !== written[0].index) return;
    let matched = 0;
    while (matched < written.length && matched < this.unstable.length && sameEntry(this.unstable[matched], written[matched])) matched++;
    if (matched === 0) return;
    // The tail is cut only to append in its place, so a tail that is all durable ends where the
    // write did; otherwise the storage would hold stale entries past our last index.
    assert.ok(matched < this.unstable.length || matched === written.length, `unstable tail ends inside the written entries at ${entryEnd(written[matched - 1])}`);
    this.unstableOffset = entryEnd(this.unstable[matched - 1]) + 1;
    this.unstable = this.unstable.slice(matched);
  }

  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot !== undefined && this.unstableSnapshot.index === index) this.unstableSnapshot = undefined;
  }

  appliedTo(index: number): void {
    assert.ok(index <= this.committed, `applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  private truncateAndAppend(entries: Entry[]): void {
    const from = entries[0].index;
    const last = this.lastIndex();
    assert.ok(from <= last + 1, `entries at ${from} leave a gap after ${last}`);
    if (from === last + 1) {
      if (this.unstable.length === 0) this.unstableOffset = from;
      this.unstable.push(...entries);
    } else if (from <= this.unstableOffset) {
      // The new entries replace all of the unstable tail and part of the stored log; the driver
      // truncates the storage from `from` when it writes them (Ready.entries).
      this.unstableOffset = from;
      this.unstable = entries.slice();
    } else {
      const k = this.findUnstable(from);
      assert.equal(this.unstable[k].index, from, `truncation at ${from} is inside an entry`);
      this.unstable = this.unstable.slice(0, k).concat(entries);
    }
    if (this.unstable.length === 0) return;
    assert.equal(this.unstable[0].index, this.unstableOffset);
  }

  /** Position in the unstable tail of the entry covering i. */
  private findUnstable(i: number): number {
    let low = 0;
    let high = this.unstable.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.unstable[mid].index <= i) low = mid;
      else high = mid - 1;
    }
    const entry = this.unstable[low];
    assert.ok(entry !== undefined && entry.index <= i && i <= entryEnd(entry), `index ${i} not in unstable tail`);
    return low;
  }
}
