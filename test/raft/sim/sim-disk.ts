import assert from 'node:assert/strict';
import { EntryType, type ConfState, type Entry, type HardState, type LogStorage, type Snapshot } from '../../../raft/types.js';
import type { Prng } from './prng.js';

/** One node's log as held in one place (what the OS shows, or what survived on the platter). */
interface LogImage {
  hardState: HardState;
  snapshot: Snapshot;
  /** Contiguous entries after snapshot.index, ordered by index. */
  entries: Entry[];
}

type Write =
  | { kind: 'entries'; entries: Entry[] }
  | { kind: 'hardState'; hardState: HardState }
  | { kind: 'snapshot'; snapshot: Snapshot };

/** Errors the disk throws when Raft asks for what it does not hold; the core decides the classes. */
export interface StorageErrors {
  compacted(index: number): Error;
  unavailable(index: number): Error;
}

const DEFAULT_ERRORS: StorageErrors = {
  compacted: (index) => new Error(`index ${index} is compacted`),
  unavailable: (index) => new Error(`index ${index} is unavailable`),
};

/**
 * A node's simulated disk and its LogStorage. Writes are visible to reads at once (as the page
 * cache makes them) but become durable only when sync() runs (the driver's fsync returning). A
 * crash keeps what was durable, plus possibly a prefix of the unsynced writes whose last entry
 * write may be torn (cut short), as a real disk that flushed some pages on its own would.
 */
export class SimDisk implements LogStorage {
  private visible: LogImage;
  private durable: LogImage;
  private unsynced: Write[] = [];

  constructor(
    bootstrap: Snapshot,
    private readonly errors: StorageErrors = DEFAULT_ERRORS,
  ) {
    const hardState: HardState = { term: bootstrap.term, vote: 0, commit: bootstrap.index };
    this.durable = { hardState, snapshot: bootstrap, entries: [] };
    this.visible = cloneImage(this.durable);
  }

  // ---- LogStorage (read by the Raft core) ----

  initialState(): { hardState: HardState; conf: ConfState } {
    const hs = this.visible.hardState;
    const conf = this.visible.snapshot.conf;
    return { hardState: { term: hs.term, vote: hs.vote, commit: hs.commit }, conf: { voters: conf.voters.slice(), learners: conf.learners.slice() } };
  }

  firstIndex(): number {
    return this.visible.snapshot.index + 1;
  }

  lastIndex(): number {
    return lastIndexOf(this.visible);
  }

  term(i: number): number {
    const image = this.visible;
    if (i === image.snapshot.index) return image.snapshot.term;
    if (i < image.snapshot.index) throw this.errors.compacted(i);
    if (i > lastIndexOf(image)) throw this.errors.unavailable(i);
    return image.entries[findCovering(image.entries, i)].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const image = this.visible;
    if (lo <= image.snapshot.index) throw this.errors.compacted(lo);
    if (lo > lastIndexOf(image)) throw this.errors.unavailable(lo);
    const entries = image.entries;
    let k = findCovering(entries, lo);
    assert.equal(entries[k].index, lo, `entries(${lo}): ${lo} is inside an entry, not its start`);
    const out: Entry[] = [];
    let bytes = 0;
    for (; k < entries.length && entries[k].index < hi; k++) {
      const size = entries[k].data.length;
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(entries[k]);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.visible.snapshot;
  }

  confChanges(lo: number, hi: number): Entry[] {
    const out: Entry[] = [];
    for (const entry of this.visible.entries) {
      if (entry.index >= lo && entry.index < hi && entry.type === EntryType.ConfChange) out.push(entry);
    }
    return out;
  }

  /** Whether the log holds an entry that starts at `index` with `term`. */
  holds(index: number, term: number): boolean {
    const image = this.visible;
    if (index <= image.snapshot.index || index > lastIndexOf(image)) return false;
    const entry = image.entries[findCovering(image.entries, index)];
    return entry.index === index && entry.term === term;
  }

  // ---- The driver's side ----

  /** The durable hard state (what a restart would read). */
  get durableHardState(): HardState {
    return this.durable.hardState;
  }

  get hasUnsynced(): boolean {
    return this.unsynced.length > 0;
  }

  get durableLastIndex(): number {
    return lastIndexOf(this.durable);
  }

  get entryCount(): number {
    return this.visible.entries.length;
  }

  writeSnapshot(snapshot: Snapshot): void {
    applyWrite(this.visible, { kind: 'snapshot', snapshot });
    this.unsynced.push({ kind: 'snapshot', snapshot });
  }

  /** Appends entries, first dropping any suffix of the log from entries[0].index on. */
  writeEntries(entries: Entry[]): void {
    if (entries.length === 0) return;
    const write: Write = { kind: 'entries', entries: entries.slice() };
    applyWrite(this.visible, write);
    this.unsynced.push(write);
  }

  writeHardState(hardState: HardState): void {
    const write: Write = { kind: 'hardState', hardState: { term: hardState.term, vote: hardState.vote, commit: hardState.commit } };
    applyWrite(this.visible, write);
    this.unsynced.push(write);
  }

  /** The fsync returned: every write so far is durable. */
  sync(): void {
    for (const write of this.unsynced) applyWrite(this.durable, write);
    this.unsynced.length = 0;
  }

  /**
   * Power loss: unsynced writes are lost, except that with some chance a prefix of them reached the
   * platter, the last entry write of which may be torn (only some of its entries survive; recovery
   * truncates the rest as a CRC check would).
   */
  crash(prng: Prng): { survivedWrites: number; torn: boolean } {
    let survivedWrites = 0;
    let torn = false;
    if (this.unsynced.length > 0 && prng.chance(0.5)) {
      survivedWrites = prng.int(this.unsynced.length + 1);
      for (let k = 0; k < survivedWrites; k++) applyWrite(this.durable, this.unsynced[k]);
      const next = this.unsynced[survivedWrites];
      if (next !== undefined && next.kind === 'entries' && next.entries.length > 1 && prng.chance(0.5)) {
        applyWrite(this.durable, { kind: 'entries', entries: next.entries.slice(0, 1 + prng.int(next.entries.length - 1)) });
        torn = true;
      }
    }
    this.unsynced.length = 0;
    this.visible = cloneImage(this.durable);
    return { survivedWrites, torn };
  }

  /**
   * Log compaction: replaces the log up to `snapshot.index` (an entry's last index, already applied)
   * by the snapshot. Done atomically and durably (a snapshot file written, synced and renamed into
   * place), and only while no write is outstanding, so both images stay the same.
   */
  compact(snapshot: Snapshot): void {
    assert.equal(this.unsynced.length, 0, 'compaction with writes outstanding');
    for (const image of [this.visible, this.durable]) {
      assert.ok(snapshot.index > image.snapshot.index && snapshot.index <= lastIndexOf(image), 'compaction point outside the log');
      const k = findCovering(image.entries, snapshot.index);
      const entry = image.entries[k];
      assert.equal(entry.index + entry.count - 1, snapshot.index, 'compaction point inside an entry');
      assert.equal(entry.term, snapshot.term, 'compaction snapshot term differs from the log');
      image.entries = image.entries.slice(k + 1);
      image.snapshot = snapshot;
    }
  }
}

function lastIndexOf(image: LogImage): number {
  const entries = image.entries;
  if (entries.length === 0) return image.snapshot.index;
  const last = entries[entries.length - 1];
  return last.index + last.count - 1;
}

/** The position of the entry covering index i (which must be within the log). */
function findCovering(entries: Entry[], i: number): number {
  let low = 0;
  let high = entries.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (entries[mid].index <= i) low = mid;
    else high = mid - 1;
  }
  return low;
}

function applyWrite(image: LogImage, write: Write): void {
  switch (write.kind) {
    case 'hardState':
      image.hardState = write.hardState;
      return;
    case 'snapshot':
      // A snapshot replaces the whole log: the core only hands one over when its log is behind it.
      // Its index is committed by definition, so the commit index moves with it in the same write.
      image.snapshot = write.snapshot;
      image.entries = [];
      if (image.hardState.commit < write.snapshot.index) image.hardState = { ...image.hardState, commit: write.snapshot.index };
      return;
    case 'entries': {
      const first = write.entries[0].index;
      assert.ok(first > image.snapshot.index, `append at ${first} at or before the snapshot (${image.snapshot.index})`);
      assert.ok(first <= lastIndexOf(image) + 1, `append at ${first} leaves a gap after ${lastIndexOf(image)}`);
      const entries = image.entries;
      let keep = entries.length;
      if (first <= lastIndexOf(image)) {
        keep = findCovering(entries, first);
        assert.equal(entries[keep].index, first, `append at ${first} cuts an entry in the middle`);
      }
      entries.length = keep;
      let expected = first;
      for (const entry of write.entries) {
        assert.ok(entry.count >= 1 && entry.index === expected, `entries to append are not contiguous at ${entry.index}`);
        expected += entry.count;
        entries.push(entry);
      }
      return;
    }
  }
}

function cloneImage(image: LogImage): LogImage {
  return { hardState: image.hardState, snapshot: image.snapshot, entries: image.entries.slice() };
}
