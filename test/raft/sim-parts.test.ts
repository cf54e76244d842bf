import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryType, type Entry, type Snapshot } from '../../raft/types.js';
import { EventKind, EventQueue } from './sim/event-queue.js';
import { InvariantChecker, InvariantViolation } from './sim/invariant-checker.js';
import { Prng } from './sim/prng.js';
import { SimDisk } from './sim/sim-disk.js';

const BOOT: Snapshot = { index: 1, term: 1, conf: { voters: [1, 2, 3], learners: [] }, data: new Uint8Array(0) };

function entry(index: number, count: number, term: number, byte = 0): Entry {
  return { index, count, term, type: EntryType.Normal, data: Uint8Array.of(byte) };
}

test('the PRNG is a pure function of its seed and stays in range', () => {
  const a = new Prng(7);
  const b = new Prng(7);
  const c = new Prng(8);
  const seqA = Array.from({ length: 100 }, () => a.nextUint32());
  assert.deepEqual(Array.from({ length: 100 }, () => b.nextUint32()), seqA);
  assert.notDeepEqual(Array.from({ length: 100 }, () => c.nextUint32()), seqA);
  const counts = [0, 0, 0, 0, 0];
  for (let k = 0; k < 50_000; k++) counts[a.range(1, 5) - 1]++;
  for (const n of counts) assert.ok(n > 9_000 && n < 11_000, `skewed: ${counts}`);
});

test('events come out by time, then in the order they were scheduled', () => {
  const queue = new EventQueue();
  const times = [5, 1, 5, 3, 1, 9, 0];
  times.forEach((t, k) => queue.push(t, EventKind.Tick, k, 0));
  const out: [number, number][] = [];
  for (let e = queue.pop(); e !== undefined; e = queue.pop()) {
    out.push([e.timeMs, e.node]);
    queue.release(e);
  }
  assert.deepEqual(out, [[0, 6], [1, 1], [1, 4], [3, 3], [5, 0], [5, 2], [9, 5]]);
});

test('the disk shows writes at once; a crash keeps the synced state plus at most a prefix of later writes', () => {
  const disk = new SimDisk(BOOT);
  disk.writeEntries([entry(2, 3, 2), entry(5, 1, 2)]);
  disk.writeHardState({ term: 2, vote: 1, commit: 1 });
  disk.sync();
  disk.writeEntries([entry(6, 2, 3)]);
  disk.writeHardState({ term: 3, vote: 2, commit: 5 });
  assert.equal(disk.lastIndex(), 7);
  assert.equal(disk.term(3), 2);
  assert.equal(disk.term(7), 3);
  assert.deepEqual(disk.entries(2, 8, 1).map((e) => e.index), [2]);
  assert.deepEqual(disk.entries(2, 6, 100).map((e) => e.index), [2, 5]);
  // Whatever survives a crash is the synced state plus a prefix of the later writes.
  for (let seed = 1; seed <= 40; seed++) {
    const copy = new SimDisk(BOOT);
    copy.writeEntries([entry(2, 3, 2), entry(5, 1, 2)]);
    copy.writeHardState({ term: 2, vote: 1, commit: 1 });
    copy.sync();
    copy.writeEntries([entry(6, 2, 3), entry(8, 1, 3)]);
    copy.writeHardState({ term: 3, vote: 2, commit: 5 });
    const { survivedWrites, torn } = copy.crash(new Prng(seed));
    const hs = copy.initialState().hardState;
    assert.ok([5, 7, 8].includes(copy.lastIndex()), `last ${copy.lastIndex()}`);
    if (survivedWrites === 0 && !torn) assert.equal(copy.lastIndex(), 5);
    if (torn) assert.equal(copy.lastIndex(), 7);
    assert.equal(hs.term, survivedWrites === 2 ? 3 : 2, 'the hard state survives only with the writes before it');
    assert.ok(!copy.hasUnsynced);
  }
});

test('an append truncates the conflicting suffix, never inside an entry', () => {
  const disk = new SimDisk(BOOT);
  disk.writeEntries([entry(2, 3, 2), entry(5, 2, 2)]);
  disk.writeEntries([entry(5, 1, 3)]);
  assert.equal(disk.lastIndex(), 5);
  assert.equal(disk.term(5), 3);
  assert.throws(() => disk.writeEntries([entry(3, 1, 4)]), /cuts an entry in the middle/);
  assert.throws(() => disk.writeEntries([entry(9, 1, 4)]), /gap/);
});

test('compaction replaces the applied prefix by a snapshot, and reads below it fail', () => {
  const disk = new SimDisk(BOOT);
  disk.writeEntries([entry(2, 3, 2), entry(5, 2, 2), entry(7, 1, 3)]);
  disk.sync();
  disk.compact({ index: 6, term: 2, conf: BOOT.conf, data: new Uint8Array(0) });
  assert.equal(disk.firstIndex(), 7);
  assert.equal(disk.term(6), 2);
  assert.throws(() => disk.term(5), /compacted/);
  disk.writeEntries([entry(8, 1, 3)]);
  assert.throws(() => disk.compact({ index: 7, term: 3, conf: BOOT.conf, data: new Uint8Array(0) }), /outstanding/);
  disk.sync();
  assert.throws(() => disk.compact({ index: 7, term: 2, conf: BOOT.conf, data: new Uint8Array(0) }), /term differs/);
});

test('the checker catches two leaders in one term, diverging logs, a rewriting leader, a regressing commit and an incomplete leader', () => {
  const checker = new InvariantChecker();
  checker.bootstrap(BOOT, 0);
  checker.leaderActed(1, 2);
  checker.leaderActed(1, 2);
  assert.throws(() => checker.leaderActed(2, 2), (e: unknown) => e instanceof InvariantViolation && e.invariant === 'Election Safety');

  const a = new SimDisk(BOOT);
  const b = new SimDisk(BOOT);
  checker.entriesWritten(1, 2, a, [entry(2, 1, 2, 7), entry(3, 1, 2, 8)]);
  a.writeEntries([entry(2, 1, 2, 7), entry(3, 1, 2, 8)]);
  assert.throws(
    () => checker.entriesWritten(2, 2, b, [entry(2, 1, 2, 9)]),
    (e: unknown) => e instanceof InvariantViolation && e.invariant === 'Log Matching',
  );

  checker.commitAdvanced(1, 2, 3, a);
  assert.equal(checker.committedUpTo, 3);
  assert.throws(() => checker.commitAdvanced(1, 2, 2, a), (e: unknown) => e instanceof InvariantViolation && e.invariant === 'Commit monotonicity');
  checker.restarted(1, 1);
  checker.commitAdvanced(1, 2, 2, a);
  // The leader of term 2 may append but never rewrite its log.
  checker.entriesWritten(1, 2, a, [entry(4, 1, 2, 9)]);
  assert.throws(() => checker.entriesWritten(1, 2, a, [entry(3, 1, 2, 8)]), (e: unknown) => e instanceof InvariantViolation && e.invariant === 'Leader Append-Only');
  // A leader of a later term without index 3 breaks Leader Completeness.
  const c = new SimDisk(BOOT);
  c.writeEntries([entry(2, 1, 2, 7)]);
  assert.throws(() => checker.leaderLogReady(3, 3, c), (e: unknown) => e instanceof InvariantViolation && e.invariant === 'Leader Completeness');
});
