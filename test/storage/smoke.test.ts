import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildBatch } from './batch-fixture.js';
import { testLogContext, withTempDir } from './storage-fixtures.js';

test('smoke', async () => {
  await withTempDir(async (dir) => {
    const context = testLogContext(dir);
    const log = await context.open();
    const a = await log.append(buildBatch({ recordCount: 3 }), 1);
    const b = await log.append(buildBatch({ recordCount: 2 }), 1);
    assert.deepEqual([a.baseOffset, a.lastOffset, b.baseOffset, b.lastOffset], [0, 2, 3, 4]);
    const all = await log.read(0, 1 << 20);
    assert.equal(all.length, 2 * (61 + 16));
    await log.close();
    const reopened = await context.open();
    assert.equal(reopened.logEndOffset, 5);
    const again = await reopened.read(3, 1);
    assert.equal(again.readBigInt64BE(0), 3n);
    await reopened.close();
  });
});
