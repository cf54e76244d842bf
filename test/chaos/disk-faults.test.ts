/**
 * The disk faults of the chaos harness and the storage hooks they rest on, through a real child
 * process: with BROOK_TEST_FSYNC_JOURNAL set the node file writer journals each synced length,
 * and the power-loss cut keeps exactly that; with BROOK_TEST_FAIL_WRITES_FILE naming an existing
 * file, writes fail with ENOSPC until it is removed; a bit flip changes one bit inside a batch's
 * records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeBatch, iterateBatches } from '../../record/record-batch.js';
import { TestRandom } from '../fixtures/test-random.js';
import { cutToSyncedLengths, flipCommittedBit, readFsyncJournal } from './disk-faults.js';

const FILE_WRITER_URL = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'broker', 'storage', 'file-writer.js')).href;

/** Runs `body` (an async function body using `nodeFileWriter`) in a fresh node process with `env`; returns what it prints. */
function runWithWriter(body: string, env: NodeJS.ProcessEnv): string {
  const script = `import { nodeFileWriter } from ${JSON.stringify(FILE_WRITER_URL)};\n${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

test('the fsync journal records synced lengths, and a power loss cuts segment files back to them', () => {
  const root = mkdtempSync(join(tmpdir(), 'brook-disk-faults-'));
  try {
    const replicaDir = join(root, 'data', 'replicas', 'chaos-0-1');
    mkdirSync(replicaDir, { recursive: true });
    const segment = join(replicaDir, '00000000000000000000.log');
    const neverSynced = join(replicaDir, '00000000000000000000.timeindex');
    const raftState = join(replicaDir, 'raft-state');
    writeFileSync(raftState, 'term 3\n');
    const journal = join(root, 'journal.txt');
    runWithWriter(
      `const file = await nodeFileWriter.open(${JSON.stringify(segment)});
       await file.writeAll([Buffer.alloc(100, 1)], 0);
       await file.datasync();
       await file.writeAll([Buffer.alloc(50, 2)], 100);
       await file.datasync();
       await file.writeAll([Buffer.alloc(30, 3)], 150);
       const other = await nodeFileWriter.open(${JSON.stringify(neverSynced)});
       await other.writeAll([Buffer.alloc(24, 4)], 0);`,
      { BROOK_TEST_FSYNC_JOURNAL: journal },
    );
    assert.equal(readFileSync(journal, 'utf8'), `${segment} 100\n${segment} 150\n`);
    assert.equal(statSync(segment).size, 180);
    const result = cutToSyncedLengths(join(root, 'data'), journal);
    assert.deepEqual(result, { filesCut: 2, bytesCut: 30 + 24 });
    assert.equal(statSync(segment).size, 150);
    assert.equal(statSync(neverSynced).size, 0);
    assert.equal(readFileSync(raftState, 'utf8'), 'term 3\n', 'raft-state is written atomically and left alone');
    assert.deepEqual(readFsyncJournal(journal), new Map([[segment, 150]]));
    assert.equal(readFileSync(journal, 'utf8'), `${segment} 150\n`, 'the journal is compacted to one line per file');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('without the journal variable nothing is journaled', () => {
  const root = mkdtempSync(join(tmpdir(), 'brook-disk-faults-'));
  try {
    const path = join(root, 'a.log');
    const out = runWithWriter(
      `const file = await nodeFileWriter.open(${JSON.stringify(path)});
       await file.writeAll([Buffer.alloc(10)], 0);
       await file.datasync();
       console.log('ok');`,
      { BROOK_TEST_FSYNC_JOURNAL: '' },
    );
    assert.equal(out.trim(), 'ok');
    assert.equal(readFsyncJournal(join(root, 'journal.txt')).size, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('writes fail with ENOSPC while the disk-full file exists, and succeed again once it is gone', () => {
  const root = mkdtempSync(join(tmpdir(), 'brook-disk-faults-'));
  try {
    const flag = join(root, 'disk-full');
    const path = join(root, 'a.log');
    const out = runWithWriter(
      `import { writeFileSync, rmSync } from 'node:fs';
       const file = await nodeFileWriter.open(${JSON.stringify(path)});
       await file.writeAll([Buffer.from('before')], 0);
       writeFileSync(${JSON.stringify(flag)}, 'full');
       let code = 'none';
       try { await file.writeAll([Buffer.from('during')], 6); } catch (error) { code = error.code; }
       rmSync(${JSON.stringify(flag)});
       await file.writeAll([Buffer.from('after')], 6);
       console.log(code);`,
      { BROOK_TEST_FAIL_WRITES_FILE: flag },
    );
    assert.equal(out.trim(), 'ENOSPC');
    assert.equal(readFileSync(path, 'utf8'), 'beforeafter');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a bit flip changes exactly one bit, inside the records of a batch of the replica', () => {
  const root = mkdtempSync(join(tmpdir(), 'brook-disk-faults-'));
  try {
    const replicaDir = join(root, 'replicas', 'chaos-2-7');
    mkdirSync(replicaDir, { recursive: true });
    const batches: Buffer[] = [];
    let offset = 1;
    for (let i = 0; i < 20; i++) {
      const batch = encodeBatch([{ key: null, value: Buffer.from(`value-${i}-`.repeat(5)) }], { nowMs: 1_000 });
      batch.writeBigInt64BE(BigInt(offset), 0);
      offset++;
      batches.push(batch);
    }
    const segment = join(replicaDir, '00000000000000000001.log');
    const original = Buffer.concat(batches);
    writeFileSync(segment, original);
    const flip = flipCommittedBit(root, 'chaos', new TestRandom(5));
    assert.ok(flip !== undefined);
    const flipped = readFileSync(segment);
    let differentBits = 0;
    for (let i = 0; i < original.length; i++) {
      const xor = original[i] ^ flipped[i];
      for (let bit = 0; bit < 8; bit++) if ((xor >> bit) & 1) differentBits++;
      if (xor !== 0) assert.equal(i, flip.positionBytes);
    }
    assert.equal(differentBits, 1);
    const batch = [...iterateBatches(original)].find((candidate) => candidate.info.baseOffset === flip.batchBaseOffset)!;
    assert.ok(flip.positionBytes >= batch.pos + 61 && flip.positionBytes < batch.pos + batch.size, 'inside the CRC-covered records');
    assert.ok(flip.batchBaseOffset <= 16, 'among the first 80% of the batches');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
