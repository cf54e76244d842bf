/**
 * Restarting a node with RaftConfig.applied: entries the driver already applied are neither handed
 * out again nor read, and the configuration comes from LogStorage.confChanges when the storage
 * offers it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftNode } from '../../raft/raft-node.js';
import { EntryType, type ConfState, type Entry, type HardState, type LogStorage, type RaftConfig, type Snapshot } from '../../raft/types.js';
import type { MemoryStorage } from './memory-storage.js';
import { testRaftConfig } from './test-raft-config.js';
import { TranscriptCluster } from './transcript-cluster.js';

/** A storage that records which entries the node reads; confChanges only when asked for. */
class RecordingStorage implements LogStorage {
  readonly entryReads: { lo: number; hi: number }[] = [];
  readonly confChanges?: (lo: number, hi: number) => Entry[];

  constructor(
    private readonly inner: MemoryStorage,
    withConfChanges: boolean,
  ) {
    if (withConfChanges) {
      this.confChanges = (lo, hi) => inner.allEntries().filter((entry) => entry.type === EntryType.ConfChange && entry.index >= lo && entry.index < hi);
    }
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return this.inner.initialState();
  }
  firstIndex(): number {
    return this.inner.firstIndex();
  }
  lastIndex(): number {
    return this.inner.lastIndex();
  }
  term(i: number): number {
    return this.inner.term(i);
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.entryReads.push({ lo, hi });
    return this.inner.entries(lo, hi, maxBytes);
  }
  snapshot(): Snapshot {
    return this.inner.snapshot();
  }
}

function config(applied?: number): RaftConfig {
  return testRaftConfig(2, { heartbeatTicks: 1, random: () => 0.5, ...(applied === undefined ? {} : { applied }) });
}

/**
 * Node 2's storage after: the no-op (1), "a" (2-4), AddLearner 4 (5), "b" (6-7), all committed.
 */
function committedLog(): MemoryStorage {
  const c = new TranscriptCluster();
  for (const line of ['nodes 3', 'campaign 1', 'stabilize', 'propose 1 a 3', 'stabilize', 'add-node 4', 'propose-conf-change 1 add-learner 4', 'stabilize', 'propose 1 b 2', 'stabilize']) c.run(line);
  const storage = c.storageOf(2);
  assert.deepEqual(
    storage.allEntries().map((entry) => [entry.index, entry.count, entry.type]),
    [
      [1, 1, EntryType.NoOp],
      [2, 3, EntryType.Normal],
      [5, 1, EntryType.ConfChange],
      [6, 2, EntryType.Normal],
    ],
  );
  assert.equal(storage.initialState().hardState.commit, 7);
  return storage;
}

function committedIndices(node: RaftNode): number[] {
  const indices: number[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    for (const entry of ready.committedEntries) indices.push(entry.index);
    node.advance(ready);
  }
  return indices;
}

test('applied = commit: nothing is handed out again and, with confChanges, no entry is read', () => {
  const storage = new RecordingStorage(committedLog(), true);
  const node = new RaftNode(config(7), storage);
  assert.deepEqual(node.status().conf, { voters: [1, 2, 3], learners: [4] }, 'the learner added at 5 is known');
  assert.equal(node.status().applied, 7);
  assert.deepEqual(committedIndices(node), []);
  assert.deepEqual(storage.entryReads, [], 'the core read no entry on restart');
});

test('applied inside the log: only the entries after it are handed out, and only they are read', () => {
  const storage = new RecordingStorage(committedLog(), true);
  const node = new RaftNode(config(4), storage);
  assert.deepEqual(committedIndices(node), [5, 6]);
  assert.ok(storage.entryReads.length > 0 && storage.entryReads.every(({ lo }) => lo >= 5), JSON.stringify(storage.entryReads));
  assert.equal(node.status().applied, 7);
});

test('without applied every committed entry is handed out again (the driver skips what it applied)', () => {
  const node = new RaftNode(config(), new RecordingStorage(committedLog(), true));
  assert.equal(node.status().applied, 0);
  assert.deepEqual(committedIndices(node), [1, 2, 5, 6]);
});

test('a storage without confChanges is scanned once for the configuration, and applied still holds', () => {
  const storage = new RecordingStorage(committedLog(), false);
  const node = new RaftNode(config(7), storage);
  assert.deepEqual(node.status().conf, { voters: [1, 2, 3], learners: [4] });
  assert.ok(storage.entryReads.length > 0 && storage.entryReads[0].lo === 1, 'the configuration scan starts after the snapshot');
  const readsAfterStart = storage.entryReads.length;
  assert.deepEqual(committedIndices(node), []);
  assert.equal(storage.entryReads.length, readsAfterStart, 'nothing is read to be applied');
});

test('applied must lie between the snapshot and the commit index', () => {
  const log = committedLog();
  assert.throws(() => new RaftNode(config(8), log), /applied 8 outside 0\.\.7/);
  assert.throws(() => new RaftNode(config(-1), log), /applied -1 outside/);
  assert.throws(() => new RaftNode(config(2.5), log), /applied 2\.5 outside/);
  log.compact(4, { voters: [1, 2, 3], learners: [] });
  assert.throws(() => new RaftNode(config(3), log), /applied 3 outside 4\.\.7/);
  const node = new RaftNode(config(4), log);
  assert.deepEqual(node.status().conf, { voters: [1, 2, 3], learners: [4] });
  assert.deepEqual(committedIndices(node), [5, 6]);
});
