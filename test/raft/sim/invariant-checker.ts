import type { Entry, Snapshot } from '../../../raft/types.js';
import type { SimDisk } from './sim-disk.js';

/** A broken safety property: the run stops and reports the seed. */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** Terms stay far below this; (index, term) pairs pack into one safe integer as index * TERM_SPAN + term. */
const TERM_SPAN = 2 ** 20;

interface LoggedEntry {
  count: number;
  fingerprint: number;
  prevTerm: number;
}

/**
 * Checks Raft's safety properties incrementally as the simulated nodes act, so each check costs
 * O(1) or O(entries written) instead of comparing whole logs after every step:
 *
 * - Election Safety: at most one node acts as leader (sends Append/Heartbeat/Snapshot, or reports
 *   the leader role) per term.
 * - Leader Append-Only: a node never truncates or replaces its log while it is the leader of its
 *   current term.
 * - Log Matching: every entry ever written anywhere is recorded by (index, term) with its content and
 *   the term of the entry before it; a second write of the same (index, term) must agree on both, so
 *   by induction two logs that share an entry share the whole prefix before it.
 * - Leader Completeness: a new leader of term T holds every entry known committed in a term < T.
 *   An index's commit term is the term of the first node that reported it committed, which is never
 *   lower than the term it was really committed in, so the check is sound.
 * - State Machine Safety: every index is committed, and applied, with one entry only; applied
 *   entries must be known committed; a snapshot must carry the same state as applying the log.
 * - Commit indices never regress on a node (a restart resets the baseline to the durable value).
 * - Every acknowledged proposal is the committed entry at its index.
 */
export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly logged = new Map<number, LoggedEntry>();
  /** canonTerm[i]: the committed term at index i, for i in 1..committedUpTo. */
  private readonly canonTerm: number[] = [0];
  /** The term of the node that first reported index i committed (an upper bound on its commit term). */
  private readonly canonCommitTerm: number[] = [0];
  /** For each commit term t, the highest index first reported committed in term t. */
  private readonly highestIndexByCommitTerm: number[] = [];
  /** Fingerprint of the entry applied at each entry start index. */
  private readonly appliedFingerprint = new Map<number, number>();
  /** State machine digest after applying through an entry's last index. */
  private readonly digestAtIndex = new Map<number, number>();
  private readonly completenessChecked = new Set<number>();
  private readonly nodeCommit = new Map<number, number>();
  committedUpTo = 0;

  /**
   * @param checkAppliedIsCommitted whether an entry applied before any node reported it committed is
   *   a violation on its own (switched off to show that the deeper checks catch such a bug too).
   */
  constructor(private readonly checkAppliedIsCommitted = true) {}

  /** Seeds the committed prefix that every node starts with (the bootstrap snapshot). */
  bootstrap(snapshot: Snapshot, digest: number): void {
    for (let i = 1; i <= snapshot.index; i++) {
      this.canonTerm[i] = snapshot.term;
      this.canonCommitTerm[i] = 0;
    }
    this.committedUpTo = snapshot.index;
    this.digestAtIndex.set(snapshot.index, digest);
  }

  /** A node sent a message only a leader sends, in `term`. */
  leaderActed(node: number, term: number): void {
    const leader = this.leaderOfTerm.get(term);
    if (leader === undefined) this.leaderOfTerm.set(term, node);
    else if (leader !== node) throw new InvariantViolation('Election Safety', `n${leader} and n${node} are both leaders of term ${term}`);
  }

  isLeaderOf(node: number, term: number): boolean {
    return this.leaderOfTerm.get(term) === node;
  }

  /** Called before a node's disk takes an append starting at entries[0].index. */
  entriesWritten(node: number, term: number, disk: SimDisk, entries: Entry[]): void {
    const first = entries[0].index;
    if (first <= disk.lastIndex() && this.isLeaderOf(node, term)) {
      throw new InvariantViolation('Leader Append-Only', `n${node}, leader of term ${term}, overwrites its log from index ${first} (last ${disk.lastIndex()})`);
    }
    let prevTerm = disk.term(first - 1);
    for (const entry of entries) {
      const key = entry.index * TERM_SPAN + entry.term;
      const fingerprint = entryFingerprint(entry);
      const seen = this.logged.get(key);
      if (seen === undefined) {
        this.logged.set(key, { count: entry.count, fingerprint, prevTerm });
      } else if (seen.count !== entry.count || seen.fingerprint !== fingerprint || seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'Log Matching',
          `n${node} writes index ${entry.index} term ${entry.term} (count ${entry.count}, prev term ${prevTerm}) unlike an earlier entry with the same index and term (count ${seen.count}, prev term ${seen.prevTerm}${seen.fingerprint !== fingerprint ? ', other content' : ''})`,
        );
      }
      prevTerm = entry.term;
    }
  }

  /** Called before a node's disk takes a snapshot from its leader. */
  snapshotWritten(node: number, term: number, snapshot: Snapshot): void {
    if (this.isLeaderOf(node, term)) throw new InvariantViolation('Leader Append-Only', `n${node}, leader of term ${term}, replaces its log by a snapshot`);
    this.checkCommittedPoint(node, snapshot.index, snapshot.term, 'snapshot');
  }

  /** A node's commit index became `commit` (hard state written); its disk holds the entries. */
  commitAdvanced(node: number, nodeTerm: number, commit: number, disk: SimDisk): void {
    const previous = this.nodeCommit.get(node) ?? 0;
    if (commit < previous) throw new InvariantViolation('Commit monotonicity', `n${node}'s commit index went from ${previous} back to ${commit}`);
    this.nodeCommit.set(node, commit);
    if (commit <= previous) return;
    if (commit > disk.lastIndex()) throw new InvariantViolation('Commit bound', `n${node} commits ${commit} beyond its last index ${disk.lastIndex()}`);
    const from = Math.max(previous + 1, disk.firstIndex());
    for (let i = from; i <= commit; i++) {
      const term = disk.term(i);
      if (i <= this.committedUpTo) {
        if (this.canonTerm[i] !== term) throw new InvariantViolation('State Machine Safety', `n${node} commits index ${i} with term ${term}, but term ${this.canonTerm[i]} was committed there`);
      } else {
        if (i !== this.committedUpTo + 1) throw new InvariantViolation('Commit contiguity', `n${node} commits ${i} while only ${this.committedUpTo} is known committed`);
        this.canonTerm[i] = term;
        this.canonCommitTerm[i] = nodeTerm;
        this.committedUpTo = i;
        const best = this.highestIndexByCommitTerm[nodeTerm] ?? 0;
        if (i > best) this.highestIndexByCommitTerm[nodeTerm] = i;
      }
    }
  }

  /** A node restarted: its commit index may legally fall back to the durable value. */
  restarted(node: number, durableCommit: number): void {
    this.nodeCommit.set(node, durableCommit);
  }

  /** A node's log once it leads `term`: it must hold every entry committed in an earlier term. */
  leaderLogReady(node: number, term: number, disk: SimDisk): void {
    if (this.completenessChecked.has(term)) return;
    this.completenessChecked.add(term);
    let required = 0;
    for (let t = 0; t < term && t < this.highestIndexByCommitTerm.length; t++) {
      const index = this.highestIndexByCommitTerm[t] ?? 0;
      if (index > required) required = index;
    }
    if (required === 0 || required < disk.firstIndex() - 1) return;
    if (disk.lastIndex() < required || disk.term(required) !== this.canonTerm[required]) {
      const held = disk.lastIndex() < required ? `its log ends at ${disk.lastIndex()}` : `it has term ${disk.term(required)} there`;
      throw new InvariantViolation('Leader Completeness', `n${node} leads term ${term} without index ${required} (term ${this.canonTerm[required]}, committed by term ${this.canonCommitTerm[required]}): ${held}`);
    }
  }

  /** A node applied an entry; `digest` is its state machine digest afterwards. */
  applied(node: number, entry: Entry, digest: number): void {
    const last = entry.index + entry.count - 1;
    const known = last <= this.committedUpTo;
    if ((this.checkAppliedIsCommitted || known) && (!known || this.canonTerm[entry.index] !== entry.term)) {
      throw new InvariantViolation('State Machine Safety', `n${node} applies index ${entry.index} term ${entry.term}, which is not the committed entry there (known committed up to ${this.committedUpTo}${entry.index <= this.committedUpTo ? `, term ${this.canonTerm[entry.index]}` : ''})`);
    }
    const fingerprint = entryFingerprint(entry);
    const seen = this.appliedFingerprint.get(entry.index);
    if (seen === undefined) this.appliedFingerprint.set(entry.index, fingerprint);
    else if (seen !== fingerprint) throw new InvariantViolation('State Machine Safety', `n${node} applies a different entry at index ${entry.index} than another node did`);
    const digestSeen = this.digestAtIndex.get(last);
    if (digestSeen === undefined) this.digestAtIndex.set(last, digest);
    else if (digestSeen !== digest) throw new InvariantViolation('State Machine Safety', `n${node}'s state after index ${last} differs from another node's`);
  }

  /** A node loaded a snapshot into its state machine. */
  snapshotApplied(node: number, snapshot: Snapshot, digest: number): void {
    this.checkCommittedPoint(node, snapshot.index, snapshot.term, 'installed snapshot');
    const digestSeen = this.digestAtIndex.get(snapshot.index);
    if (digestSeen !== undefined && digestSeen !== digest) throw new InvariantViolation('State Machine Safety', `n${node} installs a snapshot at ${snapshot.index} whose state differs from the applied log's`);
  }

  /** A client was told its proposal committed at (index, term). */
  acknowledged(value: number, index: number, term: number): void {
    if (index > this.committedUpTo || this.canonTerm[index] !== term) throw new InvariantViolation('Acknowledged write durability', `value ${value} acknowledged at index ${index} term ${term}, which is not committed there`);
  }

  private checkCommittedPoint(node: number, index: number, term: number, what: string): void {
    if (index > this.committedUpTo || this.canonTerm[index] !== term) {
      throw new InvariantViolation('State Machine Safety', `n${node}'s ${what} at index ${index} term ${term} is not of the committed log (known committed up to ${this.committedUpTo})`);
    }
  }
}

/** FNV-1a over an entry's term, count, type and data. */
export function entryFingerprint(entry: Entry): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ entry.term, 0x01000193);
  h = Math.imul(h ^ entry.count, 0x01000193);
  h = Math.imul(h ^ entry.type, 0x01000193);
  const data = entry.data;
  for (let k = 0; k < data.length; k++) h = Math.imul(h ^ data[k], 0x01000193);
  return h >>> 0;
}
