/**
 * What a replica must remember beside its log: Raft's hard state (term, vote, and lazily the commit
 * index), the point the log was last restarted from (a snapshot: index, term, configuration), the
 * configuration changes the log holds after it, and the terms that started inside the log.
 *
 * Why the term history: Raft asks for the term of the entry just before the log's first index.
 * Retention deletes old segments at any time and the storage's epoch cache then forgets whether
 * an epoch began exactly at the new log start, so the replica keeps its own record of where every
 * term began. It is written (synced) before the first entry of a new term reaches the log, so it
 * is never missing a term the log holds; entries it lists beyond the log's end are dropped on open.
 *
 * File: `raft-state` in the partition's directory, text, written atomically (temporary file,
 * fdatasync, rename, directory sync) through the storage's checkpoint writer:
 *
 *   brook-replica-state v1
 *   term <n>                          current term
 *   vote <id>                         vote in that term (0: none)
 *   commit <index>                    commit index, written lazily (a lower bound)
 *   snapshot <index> <term>           the log was restarted after <index>, whose term is <term>
 *   base <index> <voters> <learners>  the configuration in force at <index> (ids comma-separated, - when none)
 *   change <index> <term> <type> <id> a configuration change entry in the log (0..n lines)
 *   epoch <term> <startIndex>         where a term's entries begin (1..n lines, increasing)
 *   repair <through> <term> <cutFrom> the log lost entries it had made durable (0..1 line; see
 *                                     RepairState; cutFrom is - once the log was cut)
 */
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfChangeType, EntryType, type ConfChange, type ConfState, type Entry, type NodeId, type Snapshot } from '../../raft/types.js';
import { decodeConfChange } from '../../raft/conf-change-codec.js';
import { readCheckpointFile, writeCheckpointFile } from '../storage/checkpoint-file.js';
import type { FileWriter } from '../storage/file-writer.js';
import { ReplicaStateError } from './replica-errors.js';

export const REPLICA_STATE_FILE = 'raft-state';
const HEADER = 'brook-replica-state v1';

export interface RecordedConfChange {
  readonly index: number;
  readonly term: number;
  readonly change: ConfChange;
}

export interface TermStart {
  readonly term: number;
  readonly start: number;
}

/**
 * The log lost entries it had made durable: stored bytes went bad (broker/partition/README.md,
 * "Damaged storage"). Entries through `through` may have been acknowledged, in terms up to
 * `term`; until the replica holds them again it neither votes nor campaigns. `cutFrom`: the log
 * must still be cut at this offset (a batch boundary) before it opens; undefined once done.
 */
export interface RepairState {
  through: number;
  term: number;
  cutFrom: number | undefined;
}

export class ReplicaState {
  term = 0;
  vote: NodeId = 0;
  commit = 0;
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** The configuration in force at baseIndex; later changes are in `changes`. */
  baseIndex = 0;
  baseConf: ConfState;
  changes: RecordedConfChange[] = [];
  terms: TermStart[];
  repair: RepairState | undefined = undefined;

  private constructor(conf: ConfState) {
    this.baseConf = copyConf(conf);
    this.terms = [{ term: 0, start: 0 }];
  }

  /** A new replica: term 0, an empty log restarted at index 0 with the group's first configuration. */
  static bootstrap(conf: ConfState): ReplicaState {
    assert.ok(conf.voters.length > 0, 'a group needs at least one voter');
    return new ReplicaState(conf);
  }

  static path(dir: string): string {
    return join(dir, REPLICA_STATE_FILE);
  }

  /** The saved state, or undefined when the file does not exist. Throws ReplicaStateError when unreadable. */
  static async load(dir: string): Promise<ReplicaState | undefined> {
    const path = ReplicaState.path(dir);
    const lines = await readCheckpointFile(path, HEADER);
    if (lines === undefined) {
      // readCheckpointFile answers undefined for a missing file and for a wrong header alike.
      const exists = await access(path).then(
        () => true,
        () => false,
      );
      if (exists) throw new ReplicaStateError(path, 'unknown header or torn file');
      return undefined;
    }
    return parseState(path, lines);
  }

  async save(writer: FileWriter, dir: string): Promise<void> {
    await writeCheckpointFile(writer, ReplicaState.path(dir), HEADER, this.toLines());
  }

  /** The term of index i from the history, or undefined before the first recorded term start. */
  termAt(index: number): number | undefined {
    for (let k = this.terms.length - 1; k >= 0; k--) if (this.terms[k].start <= index) return this.terms[k].term;
    return undefined;
  }

  /** The configuration in force at `index` (at or after baseIndex). */
  confAt(index: number): ConfState {
    assert.ok(index >= this.baseIndex, `configuration at ${index} is older than the base at ${this.baseIndex}`);
    const voters = new Set(this.baseConf.voters);
    const learners = new Set(this.baseConf.learners);
    for (const { index: at, change } of this.changes) {
      if (at > index) break;
      applyChange(voters, learners, change);
    }
    return { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) };
  }

  /** Configuration change entries that start in [lo, hi), as Raft entries. */
  confChangeEntries(lo: number, hi: number, encode: (change: ConfChange) => Uint8Array): Entry[] {
    const out: Entry[] = [];
    for (const { index, term, change } of this.changes) {
      if (index >= lo && index < hi) out.push({ index, count: 1, term, type: EntryType.ConfChange, data: encode(change) });
    }
    return out;
  }

  /**
   * Forgets term starts and configuration changes at or after `index` (a divergent suffix is being
   * replaced). Returns whether anything was dropped.
   */
  truncateFrom(index: number): boolean {
    const termsBefore = this.terms.length;
    const changesBefore = this.changes.length;
    // The first history entry describes the restart point and always stays.
    while (this.terms.length > 1 && this.terms[this.terms.length - 1].start >= index) this.terms.pop();
    this.changes = this.changes.filter((recorded) => recorded.index < index);
    return this.terms.length !== termsBefore || this.changes.length !== changesBefore;
  }

  /** Records the new terms and configuration changes of entries about to be written; returns whether anything changed. */
  recordEntries(entries: readonly Entry[]): boolean {
    let changed = false;
    for (const entry of entries) {
      const latest = this.terms[this.terms.length - 1];
      assert.ok(entry.term >= latest.term, `entry term ${entry.term} below the history's ${latest.term}`);
      if (entry.term > latest.term) {
        this.terms.push({ term: entry.term, start: entry.index });
        changed = true;
      }
      if (entry.type === EntryType.ConfChange) {
        this.changes.push({ index: entry.index, term: entry.term, change: decodeConfChange(entry.data) });
        changed = true;
      }
    }
    return changed;
  }

  /** Notes damage found at `cutFrom` (merged with a repair already under way). */
  markDamaged(cutFrom: number | undefined, through: number, term: number): void {
    const earlier = this.repair;
    const cuts = [cutFrom, earlier?.cutFrom].filter((at): at is number => at !== undefined);
    this.repair = {
      through: Math.max(through, earlier?.through ?? 0),
      term: Math.max(term, earlier?.term ?? 0),
      cutFrom: cuts.length === 0 ? undefined : Math.min(...cuts),
    };
  }

  /** The log restarts after the snapshot: everything before it is forgotten. */
  installSnapshot(snapshot: Snapshot): void {
    this.snapshotIndex = snapshot.index;
    this.snapshotTerm = snapshot.term;
    this.baseIndex = snapshot.index;
    this.baseConf = copyConf(snapshot.conf);
    this.changes = [];
    this.terms = [{ term: snapshot.term, start: snapshot.index }];
    this.commit = Math.max(this.commit, snapshot.index);
  }

  /**
   * Folds what lies before the log start into the base: configuration changes before it, and term
   * starts wholly before the entry just before it (whose term Raft may still ask for).
   */
  prune(logStartOffset: number): void {
    const keepFrom = logStartOffset - 1;
    if (keepFrom > this.baseIndex) {
      const conf = this.confAt(keepFrom);
      this.changes = this.changes.filter((recorded) => recorded.index > keepFrom);
      this.baseIndex = keepFrom;
      this.baseConf = conf;
    }
    while (this.terms.length > 1 && this.terms[1].start <= keepFrom) this.terms.shift();
  }

  private toLines(): string[] {
    const lines = [
      `term ${this.term}`,
      `vote ${this.vote}`,
      `commit ${this.commit}`,
      `snapshot ${this.snapshotIndex} ${this.snapshotTerm}`,
      `base ${this.baseIndex} ${idList(this.baseConf.voters)} ${idList(this.baseConf.learners)}`,
    ];
    for (const { index, term, change } of this.changes) lines.push(`change ${index} ${term} ${change.type} ${change.nodeId}`);
    for (const { term, start } of this.terms) lines.push(`epoch ${term} ${start}`);
    if (this.repair !== undefined) lines.push(`repair ${this.repair.through} ${this.repair.term} ${this.repair.cutFrom ?? '-'}`);
    return lines;
  }
}

function parseState(path: string, lines: readonly string[]): ReplicaState {
  const fail = (detail: string): never => {
    throw new ReplicaStateError(path, detail);
  };
  const fields = new Map<string, string[][]>();
  for (const line of lines) {
    const parts = line.split(' ');
    const list = fields.get(parts[0]) ?? [];
    list.push(parts.slice(1));
    fields.set(parts[0], list);
  }
  const single = (name: string, arity: number): string[] => {
    const list = fields.get(name);
    if (list === undefined || list.length !== 1 || list[0].length !== arity) fail(`expected one "${name}" line with ${arity} fields`);
    return (list as string[][])[0];
  };
  const integer = (text: string): number => {
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`"${text}" is not a non-negative integer`);
    return Number(text);
  };
  const ids = (text: string): NodeId[] => (text === '-' ? [] : text.split(',').map(integer));
  const base = single('base', 3);
  const state = ReplicaState.bootstrap({ voters: ids(base[1]), learners: ids(base[2]) });
  state.baseIndex = integer(base[0]);
  state.term = integer(single('term', 1)[0]);
  state.vote = integer(single('vote', 1)[0]);
  state.commit = integer(single('commit', 1)[0]);
  const snapshot = single('snapshot', 2);
  state.snapshotIndex = integer(snapshot[0]);
  state.snapshotTerm = integer(snapshot[1]);
  state.changes = (fields.get('change') ?? []).map((parts) => {
    if (parts.length !== 4) fail('a "change" line needs 4 fields');
    const type = integer(parts[2]);
    if (type !== ConfChangeType.AddLearner && type !== ConfChangeType.AddVoter && type !== ConfChangeType.RemoveNode) fail(`unknown change type ${type}`);
    return { index: integer(parts[0]), term: integer(parts[1]), change: { type: type as ConfChangeType, nodeId: integer(parts[3]) } };
  });
  state.terms = (fields.get('epoch') ?? []).map((parts) => {
    if (parts.length !== 2) fail('an "epoch" line needs 2 fields');
    return { term: integer(parts[0]), start: integer(parts[1]) };
  });
  if (state.terms.length === 0) fail('no "epoch" line');
  const repair = fields.get('repair');
  if (repair !== undefined) {
    if (repair.length !== 1 || repair[0].length !== 3) fail('expected at most one "repair" line with 3 fields');
    const [through, term, cutFrom] = (repair as string[][])[0];
    state.repair = { through: integer(through), term: integer(term), cutFrom: cutFrom === '-' ? undefined : integer(cutFrom) };
  }
  for (let k = 1; k < state.terms.length; k++) {
    if (state.terms[k].term <= state.terms[k - 1].term || state.terms[k].start < state.terms[k - 1].start) fail('epochs out of order');
  }
  return state;
}

/** Each change sets one node's membership absolutely, as raft/membership.ts does. */
function applyChange(voters: Set<NodeId>, learners: Set<NodeId>, change: ConfChange): void {
  voters.delete(change.nodeId);
  learners.delete(change.nodeId);
  if (change.type === ConfChangeType.AddVoter) voters.add(change.nodeId);
  else if (change.type === ConfChangeType.AddLearner) learners.add(change.nodeId);
}

function copyConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

function idList(ids: readonly NodeId[]): string {
  return ids.length === 0 ? '-' : ids.join(',');
}
