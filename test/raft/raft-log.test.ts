import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftLog } from '../../raft/raft-log.js';
import { EntryType, MessageType, type Entry } from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';
import { TranscriptCluster } from './transcript-cluster.js';

function entry(index: number, count: number, term: number): Entry {
  return { index, count, term, type: EntryType.Normal, data: new Uint8Array(count) };
}

function logWith(entries: Entry[], committed: number): RaftLog {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  storage.append(entries);
  return new RaftLog(storage, committed);
}

test('every index inside a ranged entry has its term; lookups outside the log are undefined', () => {
  const log = logWith([entry(1, 1, 1), entry(2, 10, 1), entry(12, 5, 3)], 0);
  assert.equal(log.lastIndex(), 16);
  assert.equal(log.term(0), 0);
  assert.equal(log.term(7), 1);
  assert.equal(log.term(12), 3);
  assert.equal(log.term(16), 3);
  assert.equal(log.term(17), undefined);
  assert.equal(log.lastIndexWithTermBelow(1, 16, 3), 11, 'the end of the term-1 run, an entry end');
  assert.equal(log.lastIndexWithTermBelow(1, 16, 1), 0);
});

test('a follower truncates a divergent suffix whose entry boundaries differ from the leader\'s', () => {
  const log = logWith([entry(1, 4, 1), entry(5, 3, 2), entry(8, 6, 2)], 4);
  // The leader's term-3 entries replace everything after index 4.
  const appended = log.maybeAppend(4, 1, 4, [entry(5, 2, 3), entry(7, 9, 3)]);
  assert.equal(appended?.lastNew, 15);
  assert.deepEqual(appended?.written.map((e) => e.index), [5, 7]);
  assert.equal(log.lastIndex(), 15);
  assert.equal(log.term(6), 3);
  assert.deepEqual(log.unstableEntries().map((e) => [e.index, e.count, e.term]), [[5, 2, 3], [7, 9, 3]]);
});

test('entries the follower already holds are not rewritten, and a short append does not cut the log', () => {
  const log = logWith([entry(1, 4, 1), entry(5, 3, 1), entry(8, 2, 1)], 0);
  // A delayed copy of an older Append: its entries match, so nothing after them is dropped.
  assert.deepEqual(log.maybeAppend(4, 1, 0, [entry(5, 3, 1)]), { lastNew: 7, written: [] });
  assert.equal(log.lastIndex(), 9);
  assert.deepEqual(log.unstableEntries(), []);
});

test('a mismatch at the previous index is refused, and truncating a committed entry asserts', () => {
  const log = logWith([entry(1, 4, 1), entry(5, 3, 2)], 7);
  assert.equal(log.maybeAppend(7, 3, 7, [entry(8, 1, 3)]), undefined);
  assert.throws(() => log.maybeAppend(4, 1, 7, [entry(5, 3, 3)]), /commit/);
});

test('the commit index never moves back', () => {
  const log = logWith([entry(1, 4, 1), entry(5, 3, 1)], 7);
  log.commitTo(3);
  assert.equal(log.committed, 7);
  assert.equal(log.maybeAppend(4, 1, 4, [entry(5, 3, 1)])?.lastNew, 7);
  assert.equal(log.committed, 7);
});

function divergentCluster(leaderLog: string, followerLog: string): TranscriptCluster {
  const cluster = new TranscriptCluster();
  for (const line of ['nodes 3 flags=none', `preload 1 ${leaderLog} term=6`, `preload 2 ${leaderLog} term=6`, `preload 3 ${followerLog}`, 'campaign 1', 'stabilize']) cluster.run(line);
  assert.equal(cluster.statusOf(1).role, 'leader');
  return cluster;
}

function rejections(cluster: TranscriptCluster, from: number): number {
  return cluster.sent.filter((m) => m.type === MessageType.AppendResponse && m.from === from && m.reject).length;
}

function sameLog(cluster: TranscriptCluster, a: number, b: number): void {
  const shape = (id: number) => cluster.logOf(id).map((e) => [e.index, e.count, e.term]);
  assert.deepEqual(shape(b), shape(a));
}

test('fast back-off: a follower with a long divergent suffix of ranged entries is repaired in one rejection', () => {
  // Leader: 1, 2-11 (term 1), 12-16 (term 5). Follower: 1, 2-11 (term 1), then terms 2, 3, 4 with
  // other boundaries, longer than the leader's log.
  const cluster = divergentCluster('1 1x10 5x5', '1 1x10 2x3 3x3 4x3 4x7');
  sameLog(cluster, 1, 3);
  assert.equal(rejections(cluster, 3), 1);
  assert.equal(cluster.statusOf(3).commit, cluster.statusOf(1).commit);
});

test('fast back-off: a follower that is merely behind is probed at its last index', () => {
  const cluster = divergentCluster('1 1x10 5x5 5x2', '1 1x10 5x5');
  sameLog(cluster, 1, 3);
  assert.equal(rejections(cluster, 3), 1);
  // Everything the follower lacked went in one Append after the rejection.
  const repair = cluster.sent.filter((m) => m.type === MessageType.Append && m.to === 3 && m.entries.length > 0);
  assert.deepEqual(repair.at(-1)!.entries.map((e) => e.index), [17, 19]);
});

test('fast back-off: the follower\'s suffix is from a term the leader also has, with different entries', () => {
  // Leader 1 has term 3 entries 12-20; follower 3 has term 3 entries 12-14 (same) then term 4 junk.
  const cluster = divergentCluster('1 1x10 3x3 3x6', '1 1x10 3x3 4x2 4x8');
  sameLog(cluster, 1, 3);
  assert.ok(rejections(cluster, 3) <= 2);
});
