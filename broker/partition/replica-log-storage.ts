/**
 * Raft's LogStorage (raft/types.ts) over a PartitionLog and the replica's state file: the view
 * Raft reads; every write goes through the replica's Ready handling.
 *
 * - Indices are offsets. The log's first index is its log start offset; the entry before it is
 *   the "snapshot" point, whose term the replica's term history knows.
 * - term(i) inside the log comes from the log's epoch cache (memory); before it, from the history.
 * - entries() answers from the log's tail cache when it can, else by a bounded synchronous read of
 *   the segment files (replica-cold-reader.ts explains why).
 * - confChanges() lists the configuration entries the state file records, so opening never scans
 *   the log.
 */
import assert from 'node:assert/strict';
import { encodeConfChange } from '../../raft/conf-change-codec.js';
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from '../../raft/types.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { readBatchesSync } from './replica-cold-reader.js';
import { entriesFromBatches } from './replica-entries.js';
import type { ReplicaState } from './replica-state.js';

export class ReplicaLogStorage implements LogStorage {
  /** Cold reads served from the segment files (tail cache misses), for metrics and tests. */
  coldReads = 0;

  constructor(
    private readonly log: PartitionLog,
    private readonly state: ReplicaState,
  ) {}

  initialState(): { hardState: HardState; conf: ConfState } {
    const hardState: HardState = { term: this.state.term, vote: this.state.vote, commit: this.committedIndex() };
    return { hardState, conf: this.state.confAt(this.firstIndex() - 1) };
  }

  firstIndex(): number {
    return this.log.logStartOffset;
  }

  lastIndex(): number {
    return this.log.logEndOffset - 1;
  }

  term(i: number): number {
    if (i === 0) return 0;
    const log = this.log;
    if (i >= log.logStartOffset && i < log.logEndOffset) {
      const epoch = log.epochAt(i);
      assert.ok(epoch !== undefined, `no epoch for offset ${i} inside the log`);
      return epoch;
    }
    assert.ok(i === log.logStartOffset - 1, `term(${i}) outside ${log.logStartOffset - 1}..${log.logEndOffset - 1}`);
    const term = this.state.termAt(i);
    assert.ok(term !== undefined, `no recorded term for offset ${i} before the log start`);
    return term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const limit = Math.min(hi, this.log.logEndOffset);
    assert.ok(lo >= this.log.logStartOffset && lo < limit, `entries(${lo}, ${hi}) outside the log`);
    const cached = this.log.readCached(lo, maxBytes, limit);
    let bytes = cached;
    if (bytes === undefined || bytes.length === 0) {
      this.coldReads += 1;
      bytes = readBatchesSync(this.log.dir, lo, maxBytes, limit);
    }
    const entries = entriesFromBatches(bytes);
    assert.ok(entries.length > 0 && entries[0].index === lo, `read at ${lo} did not start at a batch boundary`);
    return entries;
  }

  snapshot(): Snapshot {
    const index = this.firstIndex() - 1;
    return { index, term: this.term(index), conf: this.state.confAt(index), data: new Uint8Array(0) };
  }

  confChanges(lo: number, hi: number): Entry[] {
    return this.state.confChangeEntries(lo, hi, encodeConfChange);
  }

  /** The recorded commit index, within what the log holds (a power loss may have cut the log). */
  committedIndex(): number {
    return Math.min(Math.max(this.state.commit, this.log.logStartOffset - 1), this.lastIndex());
  }
}
