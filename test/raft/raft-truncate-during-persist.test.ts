import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftNode } from '../../raft/raft-node.js';
import { EntryType, MessageType, type Entry, type Message } from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';
import { testRaftConfig } from './test-raft-config.js';

function entry(index: number, count: number, term: number): Entry {
  return { index, count, term, type: EntryType.Normal, data: new Uint8Array(count) };
}

function append(from: number, term: number, index: number, logTerm: number, entries: Entry[], commit: number): Message {
  return { type: MessageType.Append, from, to: 2, term, logTerm, index, entries, commit, reject: false, rejectHint: 0, rejectHintTerm: 0 };
}

function follower(storage: MemoryStorage): RaftNode {
  const config = testRaftConfig(2, { heartbeatTicks: 1 });
  return new RaftNode(config, storage);
}

const shape = (entries: Entry[]) => entries.map((e) => [e.index, e.count, e.term]);

test('entries written by a Ready and kept through a truncation before advance() are not handed out again', () => {
  const conf = { voters: [1, 2, 3], learners: [] };
  const storage = new MemoryStorage(conf);
  const node = follower(storage);
  // Leader 1 (term 2) sends 1, 2-4, 5-6, 7 and says 1..4 are committed.
  node.step(append(1, 2, 0, 0, [entry(1, 1, 2), entry(2, 3, 2), entry(5, 2, 2), entry(7, 1, 2)], 4));
  const first = node.ready();
  assert.deepEqual(shape(first.entries), [[1, 1, 2], [2, 3, 2], [5, 2, 2], [7, 1, 2]]);
  assert.deepEqual(shape(first.committedEntries), [[1, 1, 2], [2, 3, 2]]);
  // The driver writes the Ready and starts its fsync ...
  storage.append(first.entries);
  storage.setHardState(first.hardState!);
  // ... and steps a message meanwhile: leader 3 of term 3 holds 1..4 and its own no-op at 5, so
  // the follower cuts 5-6 and 7 and appends the no-op.
  node.step(append(3, 3, 4, 2, [entry(5, 1, 3)], 4));
  // The fsync completes; the driver applies 1..4, advances, then compacts through what it applied
  // (allowed between Readys).
  node.advance(first);
  storage.compact(4, conf);
  assert.ok(node.hasReady());
  const second = node.ready();
  // 1 and 2-4 are on disk: only the new leader's entry is left to write, and the driver truncates
  // its stale 5-6 and 7 from there.
  assert.deepEqual(shape(second.entries), [[5, 1, 3]]);
  assert.equal(second.mustSync, true);
  assert.deepEqual(second.committedEntries, []);
  storage.append(second.entries);
  storage.setHardState(second.hardState!);
  node.advance(second);
  assert.deepEqual(shape(storage.allEntries()), [[5, 1, 3]]);
  assert.equal(node.lastIndex(), 5);
  assert.equal(node.hasReady(), false, 'nothing is left unstable once the new entry is durable');
  // The new leader's commit of its no-op reaches the driver as one entry, applied once.
  node.step(append(3, 3, 5, 3, [], 5));
  const third = node.ready();
  assert.deepEqual(third.entries, []);
  assert.deepEqual(shape(third.committedEntries), [[5, 1, 3]]);
});

test('when the truncation cuts below every written entry, the next Ready hands out only the replacement', () => {
  const conf = { voters: [1, 2, 3], learners: [] };
  const storage = new MemoryStorage(conf);
  const node = follower(storage);
  node.step(append(1, 2, 0, 0, [entry(1, 4, 2)], 4));
  const first = node.ready();
  storage.append(first.entries);
  node.advance(first);
  // 5-6 and 7 of term 2 are written, then replaced from 5 by term 3 before advance().
  node.step(append(1, 2, 4, 2, [entry(5, 2, 2), entry(7, 1, 2)], 4));
  const second = node.ready();
  assert.deepEqual(shape(second.entries), [[5, 2, 2], [7, 1, 2]]);
  storage.append(second.entries);
  node.step(append(3, 3, 4, 2, [entry(5, 1, 3), entry(6, 3, 3)], 4));
  node.advance(second);
  const third = node.ready();
  assert.deepEqual(shape(third.entries), [[5, 1, 3], [6, 3, 3]]);
  storage.append(third.entries);
  node.advance(third);
  assert.deepEqual(shape(storage.allEntries()), [[1, 4, 2], [5, 1, 3], [6, 3, 3]]);
  assert.equal(node.hasReady(), false);
});
