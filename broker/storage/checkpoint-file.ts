/**
 * Small state files (the leader-epoch cache, the log start offset, the clean-shutdown marker)
 * written atomically: to a temporary file, fdatasynced, renamed over the old one, then the
 * directory synced, so a crash leaves either the old or the new content, never a mix.
 *
 * Content is text: a header line naming the kind and version, then the payload lines.
 */
import { readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileWriter } from './file-writer.js';
import { hasErrorCode, toStorageError } from './storage-errors.js';

export async function writeCheckpointFile(writer: FileWriter, path: string, header: string, lines: readonly string[]): Promise<void> {
  const temporaryPath = `${path}.tmp`;
  const content = Buffer.from([header, ...lines, ''].join('\n'));
  try {
    const file = await writer.open(temporaryPath);
    try {
      await file.writeAll([content], 0);
      await file.truncate(content.length);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(temporaryPath, path);
    await writer.syncDirectory(dirname(path));
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
