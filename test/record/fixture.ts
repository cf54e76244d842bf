/** Loads annotated hex fixtures from test/record/fixtures, wherever the compiled test runs from. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json, found by walking up from this module. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/**
 * Reads an annotated hex fixture: comments after '#', whitespace ignored; the token CRC stands for
 * four bytes filled in by `crc` (kept out of the file so the hand-written part stays readable).
 */
export function readHexFixture(name: string): { bytes: Buffer; crcOffset: number } {
  const text = readFileSync(join(projectRoot(), 'test', 'record', 'fixtures', name), 'utf8');
  const tokens = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/\s+/)
    .filter((token) => token.length > 0);
  const bytes: number[] = [];
  let crcOffset = -1;
  for (const token of tokens) {
    if (token === 'CRC') {
      crcOffset = bytes.length;
      bytes.push(0, 0, 0, 0);
    } else {
      if (!/^[0-9a-fA-F]{2}$/.test(token)) throw new Error(`bad fixture token ${token}`);
      bytes.push(parseInt(token, 16));
    }
  }
  return { bytes: Buffer.from(bytes), crcOffset };
}

/** CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: slow, but independent. */
export function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
