import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileHandleCache } from '../../broker/storage/file-handle-cache.js';
import { withTempDir } from './storage-fixtures.js';

test('FileHandleCache keeps at most maxOpenFiles handles, least recently used out first', async () => {
  await withTempDir(async (dir) => {
    const paths = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const path = join(dir, `file-${i}`);
        await writeFile(path, Buffer.from(`content of file ${i}`));
        return path;
      }),
    );
    const cache = new FileHandleCache(3);
    for (const path of paths.slice(0, 3)) await cache.readBytes(path, 0, 4);
    assert.deepEqual([cache.openFiles, cache.opens], [3, 3]);
    await cache.readBytes(paths[0], 0, 4);
    assert.equal(cache.opens, 3, 'a cached handle is reused');
    await cache.readBytes(paths[3], 0, 4);
    assert.deepEqual([cache.openFiles, cache.opens], [3, 4]);
    await cache.readBytes(paths[0], 0, 4);
    assert.equal(cache.opens, 4, 'file 0 was recently used, so file 1 was evicted instead');
    await cache.readBytes(paths[1], 0, 4);
    assert.equal(cache.opens, 5);
    // Many concurrent reads over more files than the bound all succeed with the right bytes.
    const contents = await Promise.all(Array.from({ length: 60 }, (_, i) => cache.readBytes(paths[i % 6], 11, 6)));
    assert.deepEqual(
      contents.map((bytes) => bytes.toString()),
      Array.from({ length: 60 }, (_, i) => `file ${i % 6}`),
    );
    assert.ok(cache.openFiles <= 3);
    // Reading past the end returns what exists; evicted files are reopened on demand.
    assert.equal((await cache.readBytes(paths[2], 10, 100)).toString(), ' file 2');
    cache.evict(paths[2]);
    assert.equal((await cache.readBytes(paths[2], 0, 7)).toString(), 'content');
    await assert.rejects(cache.readBytes(join(dir, 'missing'), 0, 1), { code: 'ENOENT' });
    await cache.close();
    assert.equal(cache.openFiles, 0);
  });
});
