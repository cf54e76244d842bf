/**
 * Locates Brook's .proto files at run time. They are not copied into build output, so they are
 * found from the project root: the nearest ancestor of this module's directory that holds
 * package.json, which works from dist/ and from any other build directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of a file in proto/, e.g. protoFilePath('brook.proto'). */
export function protoFilePath(fileName: string): string {
  return join(findProjectRoot(), 'proto', fileName);
}
