import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TranscriptCluster } from './transcript-cluster.js';

/**
 * Transcript tests: each file in test/raft/transcripts/ is a script of commands (lines starting
 * with "$ ") each followed by exactly what the cluster printed. Lines starting with "#" are
 * comments; blank lines separate steps. REWRITE=1 regenerates the expected output in place; only
 * do that when you understand why the output changed.
 */

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, 'package.json not found above the test');
    dir = parent;
  }
  return dir;
}

function runTranscript(text: string): string {
  const cluster = new TranscriptCluster();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('$ ')) {
      out.push(line);
      try {
        out.push(...cluster.run(line.slice(2)));
      } catch (error) {
        throw new Error(`transcript command "${line}" failed: ${(error as Error).stack}`);
      }
    } else if (line.startsWith('#') || line.trim() === '') {
      out.push(line);
    }
  }
  return out.join('\n');
}

const directory = join(projectRoot(), 'test', 'raft', 'transcripts');
for (const name of readdirSync(directory).filter((n) => n.endsWith('.txt')).sort()) {
  test(`transcript ${name}`, () => {
    const path = join(directory, name);
    const expected = readFileSync(path, 'utf8');
    const actual = runTranscript(expected);
    if (process.env.REWRITE === '1') {
      writeFileSync(path, actual);
      return;
    }
    assert.equal(actual, expected);
  });
}
