import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readBatchesSync } from '../../broker/partition/replica-cold-reader.js';
import { ColdReadError, ReplicaClosedError, ReplicaStateError } from '../../broker/partition/replica-errors.js';
import { ReplicaState } from '../../broker/partition/replica-state.js';
import { Replica } from '../../broker/partition/replica.js';
import { nodeFileWriter, type FileWriter, type WritableFile } from '../../broker/storage/file-writer.js';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { resolveLogConfig } from '../../broker/storage/log-config.js';
import { PartitionLog } from '../../broker/storage/partition-log.js';
import { baseOffsetNumberAt, batchSizeAt, lastOffsetDeltaAt } from '../../record/batch-header.js';
import { ConfChangeType, EntryType } from '../../raft/types.js';
import { ReplicaCluster, makeBatch, raftSettings } from './replica-cluster.js';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'brook-replica-storage-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('cold reads from the segment files return the whole batches the log itself reads', async () => {
  await withDir(async (dir) => {
    const files = new FileHandleCache(16);
    const config = resolveLogConfig({ segmentBytes: 8192, maxBatchBytes: 4096, indexIntervalBytes: 300, tailCacheBytes: 0 });
    const log = await PartitionLog.open(dir, config, { clock: { nowMs: () => 0 }, files });
    try {
      const starts: number[] = [];
      for (let i = 0; i < 60; i++) {
        const result = await log.append(makeBatch(`c${i}`, 1 + (i % 5), (i * 37) % 700), 1);
        starts.push(result.baseOffset);
      }
      assert.ok(log.segmentCount > 3, 'the test needs several segments');
      const end = log.logEndOffset;
      for (let offset = 0; offset < end; offset += 3) {
        for (const maxBytes of [1, 700, 5000]) {
          const cold = readBatchesSync(dir, offset, maxBytes, end);
          const expected = await log.read(offset, maxBytes, end);
          assert.ok(cold.length > 0, `nothing read at ${offset}`);
          // One segment at most, so a prefix of what the log returns; whole batches from the one holding offset.
          assert.ok(expected.subarray(0, cold.length).equals(cold), `offset ${offset}, maxBytes ${maxBytes}`);
          assert.ok(baseOffsetNumberAt(cold, 0) <= offset && offset <= baseOffsetNumberAt(cold, 0) + lastOffsetDeltaAt(cold, 0));
          if (maxBytes === 1) assert.equal(cold.length, batchSizeAt(cold, 0));
        }
      }
      // A damaged index (as if read while being rewritten) costs a longer walk, not a wrong answer.
      const sealed = (await readdir(dir)).filter((name) => name.endsWith('.index')).sort()[1];
      const expected = await Promise.all(starts.map((offset) => log.read(offset, 1, end)));
      const damaged = Buffer.alloc(64);
      for (let entry = 0; entry < 8; entry++) damaged.writeInt32BE(7 + entry, entry * 8 + 4);
      await writeFile(join(dir, sealed), damaged);
      for (let k = 0; k < starts.length; k++) assert.ok(readBatchesSync(dir, starts[k], 1, end).equals(expected[k]), `offset ${starts[k]} with a damaged index`);
      // The limit leaves out a batch that reaches it.
      const limited = readBatchesSync(dir, starts[0], 1 << 20, starts[2]);
      assert.equal(baseOffsetNumberAt(limited, 0), starts[0]);
      assert.ok(limited.length === batchSizeAt(limited, 0) + batchSizeAt(limited, batchSizeAt(limited, 0)));
    } finally {
      await log.close();
    }
  });
});

test('replica state: round trip, configuration at an index, truncation, and a damaged file refused', async () => {
  await withDir(async (dir) => {
    const state = ReplicaState.bootstrap({ voters: [1, 2, 3], learners: [] });
    state.term = 7;
    state.vote = 2;
    state.commit = 40;
    state.recordEntries([
      { index: 10, count: 1, term: 5, type: EntryType.NoOp, data: new Uint8Array(0) },
      { index: 11, count: 1, term: 5, type: EntryType.ConfChange, data: Uint8Array.of(ConfChangeType.AddLearner, 0, 0, 0, 4) },
      { index: 30, count: 1, term: 7, type: EntryType.ConfChange, data: Uint8Array.of(ConfChangeType.AddVoter, 0, 0, 0, 4) },
    ]);
    await state.save(nodeFileWriter, dir);
    const loaded = await ReplicaState.load(dir);
    assert.ok(loaded !== undefined);
    assert.equal(loaded.term, 7);
    assert.equal(loaded.vote, 2);
    assert.equal(loaded.commit, 40);
    assert.deepEqual(loaded.confAt(20), { voters: [1, 2, 3], learners: [4] });
    assert.deepEqual(loaded.confAt(30), { voters: [1, 2, 3, 4], learners: [] });
    assert.equal(loaded.termAt(9), 0);
    assert.equal(loaded.termAt(10), 5);
    assert.equal(loaded.termAt(35), 7);
    assert.ok(loaded.truncateFrom(30));
    assert.equal(loaded.termAt(35), 5);
    assert.deepEqual(loaded.confAt(35), { voters: [1, 2, 3], learners: [4] });
    // Folding what lies before a log start keeps the answers after it.
    loaded.prune(25);
    assert.deepEqual(loaded.confAt(30), { voters: [1, 2, 3], learners: [4] });
    assert.equal(loaded.termAt(24), 5);

    await writeFile(ReplicaState.path(dir), 'brook-replica-state v1\nterm x\n');
    await assert.rejects(ReplicaState.load(dir), ReplicaStateError);
    await writeFile(ReplicaState.path(dir), 'something else\n');
    await assert.rejects(ReplicaState.load(dir), ReplicaStateError);
  });
});

test('a snapshot install interrupted between the state write and the log truncation is finished on open', async () => {
  await withDir(async (dir) => {
    const options = {
      dir,
      groupId: 'topic-0',
      nodeId: 1,
      initialConf: { voters: [1], learners: [] },
      logConfig: resolveLogConfig(),
      raftConfig: raftSettings(1),
      clock: { nowMs: () => Date.now() },
      files: new FileHandleCache(16),
      send: () => undefined,
    };
    let replica = await Replica.open(options);
    // A single voter elects itself.
    for (let tick = 0; tick < 40 && !replica.isLeader; tick++) {
      replica.tick();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.ok(replica.isLeader);
    await replica.append(makeBatch('solo'), 'all');
    await replica.close();

    const state = await ReplicaState.load(dir);
    assert.ok(state !== undefined);
    state.installSnapshot({ index: 50, term: 9, conf: { voters: [1, 2, 3], learners: [] }, data: new Uint8Array(0) });
    await state.save(nodeFileWriter, dir);
    replica = await Replica.open(options);
    try {
      assert.equal(replica.logStartOffset, 51);
      assert.equal(replica.logEndOffset, 51);
      assert.equal(replica.highWatermark, 51);
      assert.deepEqual(replica.status().conf, { voters: [1, 2, 3], learners: [] });
      assert.equal(replica.status().commit, 50);
    } finally {
      await replica.close();
    }
  });
});

test('an fdatasync failure stops the replica: nothing more is acknowledged and every request is refused', async () => {
  await withDir(async (dir) => {
    let failSyncs = false;
    const writer: FileWriter = {
      async open(path: string): Promise<WritableFile> {
        const file = await nodeFileWriter.open(path);
        return {
          path: file.path,
          writeAll: (buffers, position) => file.writeAll(buffers, position),
          datasync: async () => {
            if (failSyncs && path.endsWith('.log')) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
            await file.datasync();
          },
          truncate: (length) => file.truncate(length),
          sizeBytes: () => file.sizeBytes(),
          close: () => file.close(),
        };
      },
      syncDirectory: (path) => nodeFileWriter.syncDirectory(path),
    };
    const replica = await Replica.open({
      dir,
      groupId: 'topic-0',
      nodeId: 1,
      initialConf: { voters: [1], learners: [] },
      logConfig: resolveLogConfig(),
      raftConfig: raftSettings(3),
      clock: { nowMs: () => Date.now() },
      files: new FileHandleCache(16),
      writer,
      send: () => undefined,
    });
    try {
      for (let tick = 0; tick < 40 && !replica.isLeader; tick++) {
        replica.tick();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await replica.append(makeBatch('ok'), 'all');
      failSyncs = true;
      await assert.rejects(replica.append(makeBatch('doomed'), 'all'), ReplicaClosedError);
      assert.ok(replica.failed !== undefined);
      await assert.rejects(replica.append(makeBatch('after'), 'leader'), ReplicaClosedError);
    } finally {
      await replica.close();
    }
  });
});

test('a cold read that fails (a segment file gone behind the log) stops the leader instead of crashing the broker', async () => {
  const cluster = await ReplicaCluster.start([1, 2, 3], { segmentBytes: 4096, maxBatchBytes: 2048, tailCacheBytes: 1024 });
  try {
    const leader = await cluster.waitForLeader();
    const lagging = [1, 2, 3].find((id) => id !== leader.nodeId) as number;
    cluster.isolate(lagging);
    for (let i = 0; i < 20; i++) await leader.append(makeBatch(`s${i}`, 2, 300), 'all');
    const logs = (await readdir(cluster.dir(leader.nodeId))).filter((name) => name.endsWith('.log')).sort();
    assert.ok(logs.length > 2);
    await unlink(join(cluster.dir(leader.nodeId), logs[0]));
    cluster.heal();
    await cluster.waitFor('the leader to fail', () => leader.failed !== undefined);
    assert.ok(leader.failed instanceof ColdReadError, String(leader.failed));
    await assert.rejects(leader.append(makeBatch('x'), 'all'), ReplicaClosedError);
  } finally {
    await cluster.close();
  }
});

test('a restarted replica starts with its recorded commit applied and reads no committed entry back', async () => {
  const cluster = await ReplicaCluster.start([1, 2, 3], { tailCacheBytes: 0 });
  try {
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 12; i++) await leader.append(makeBatch(`r${i}`, 4, 200), 'all');
    const end = await cluster.waitForConvergence();
    const followerId = [1, 2, 3].find((id) => id !== leader.nodeId)!;
    await cluster.stop(followerId);
    const reopened = await cluster.open(followerId);
    // Every read misses the (disabled) tail cache, so any entry Raft read back would count.
    const status = reopened.status();
    assert.equal(status.commit, end - 1, 'the clean stop recorded the commit');
    assert.equal(status.applied, status.commit, 'the node starts with the recorded commit applied');
    assert.equal(reopened.highWatermark, end);
    assert.deepEqual(status.conf, leader.status().conf);
    await new Promise((resolve) => setTimeout(resolve, 20 * 10));
    assert.equal(reopened.coldReads, 0, 'no committed entry was read back after the restart');
    // It goes on replicating (new entries reach it and commit through the usual path).
    await leader.append(makeBatch('after', 2), 'all');
    assert.equal(await cluster.waitForConvergence(), end + 2);
    assert.equal(reopened.highWatermark, end + 2);
  } finally {
    await cluster.close();
  }
});
