/**
 * Small state files (the leader-epoch cache, the log start offset) written atomically: to a
 * temporary file, fdatasynced, renamed over the old one, then the directory synced, so a crash
 * leaves either the old or the new content, never a mix.
 *
 * Content is text: a header line naming the kind and version, then the payload lines.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hasErrorCode, toStorageError } from './storage-errors.js';

export async function writeCheckpointFile(path: string, header: string, lines: readonly string[]): Promise<void> {
  const temporaryPath = `${path}.tmp`;
  try {
    const handle = await open(temporaryPath, 'w');
    try {
      await handle.writeFile([header, ...lines, ''].join('\n'));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporaryPath, path);
    await syncDirectory(dirname(path));
  } catch (error) {
    await unlink(temporaryPath).catch(() => undefined);
    throw toStorageError(error, path);
  }
}

/** The payload lines, or undefined when the file is missing or its header does not match. */
export async function readCheckpointFile(path: string, header: string): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  const lines = text.split('\n');
  if (lines[0] !== header || lines[lines.length - 1] !== '') return undefined;
  return lines.slice(1, -1);
}

/** fsync on a directory makes created, renamed and deleted names in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
