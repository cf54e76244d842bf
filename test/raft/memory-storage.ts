import assert from 'node:assert/strict';
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from '../../raft/types.js';

/**
 * A LogStorage held in memory, for tests: what the driver persisted, with the driver's write side
 * (append with truncation, hard state, snapshot install, compaction). Everything written counts as
 * durable at once; a test that wants to lose writes keeps its own copy.
 */
export class MemoryStorage implements LogStorage {
  private hardState: HardState;
  private snap: Snapshot;
  /** Entries after the snapshot, contiguous: entries[0].index === snap.index + 1. */
  private log: Entry[] = [];

  constructor(conf: ConfState) {
    this.snap = { index: 0, term: 0, conf: copyConf(conf), data: new Uint8Array(0) };
    this.hardState = { term: 0, vote: 0, commit: 0 };
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hardState }, conf: copyConf(this.snap.conf) };
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.log.length === 0 ? this.snap.index : end(this.log[this.log.length - 1]);
  }

  term(i: number): number {
    if (i === this.snap.index) return this.snap.term;
    if (i < this.snap.index) throw new Error(`index ${i} is compacted`);
    if (i > this.lastIndex()) throw new Error(`index ${i} is unavailable`);
    return this.log[this.find(i)].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert.ok(lo > this.snap.index && lo <= this.lastIndex(), `entries(${lo}) outside ${this.firstIndex()}..${this.lastIndex()}`);
    let k = this.find(lo);
    assert.equal(this.log[k].index, lo, `entries(${lo}): not an entry start`);
    const out: Entry[] = [];
    let bytes = 0;
    for (; k < this.log.length && this.log[k].index < hi; k++) {
      if (out.length > 0 && bytes + this.log[k].data.length > maxBytes) break;
      bytes += this.log[k].data.length;
      out.push(this.log[k]);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- the driver's side ----

  /** Appends entries, first dropping the suffix of the log from entries[0].index on. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const from = entries[0].index;
    assert.ok(from > this.snap.index && from <= this.lastIndex() + 1, `append at ${from} to log ${this.firstIndex()}..${this.lastIndex()}`);
    if (from <= this.lastIndex()) {
      const k = this.find(from);
      assert.equal(this.log[k].index, from, `truncation at ${from} is inside an entry`);
      this.log.length = k;
    }
    this.log.push(...entries);
  }

  setHardState(hardState: HardState): void {
    this.hardState = { ...hardState };
  }

  /** Installs a snapshot received from the leader: the whole log is replaced by it. */
  applySnapshot(snapshot: Snapshot): void {
    this.snap = { ...snapshot, conf: copyConf(snapshot.conf) };
    this.log = [];
    if (this.hardState.commit < snapshot.index) this.hardState = { ...this.hardState, commit: snapshot.index };
  }

  /** Drops the log through `index` (an entry end the state machine has applied). */
  compact(index: number, conf: ConfState, data: Uint8Array = new Uint8Array(0)): void {
    if (index <= this.snap.index) return;
    assert.ok(index <= this.lastIndex(), `compact(${index}) beyond ${this.lastIndex()}`);
    const k = this.find(index);
    assert.equal(end(this.log[k]), index, `compact(${index}) inside an entry`);
    this.snap = { index, term: this.log[k].term, conf: copyConf(conf), data };
    this.log = this.log.slice(k + 1);
  }

  /** Every entry held, for tests that print or compare logs. */
  allEntries(): Entry[] {
    return this.log.slice();
  }

  private find(i: number): number {
    let low = 0;
    let high = this.log.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.log[mid].index <= i) low = mid;
      else high = mid - 1;
    }
    assert.ok(this.log[low] !== undefined && this.log[low].index <= i && i <= end(this.log[low]), `index ${i} not held`);
    return low;
  }
}

function end(entry: Entry): number {
  return entry.index + entry.count - 1;
}

function copyConf(conf: ConfState): ConfState {
  return { voters: conf.voters.slice(), learners: conf.learners.slice() };
}
