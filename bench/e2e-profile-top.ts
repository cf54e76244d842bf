/**
 * Prints the top frames of a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof`) by self
 * time, with the share of all samples, to find where a produce or consume path spends its time.
 *
 *   node dist/bench/e2e-profile-top.js PROFILE.cpuprofile [TOP_N=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [path, topText] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write('usage: e2e-profile-top.js PROFILE.cpuprofile [TOP_N]\n');
  process.exit(2);
}
const top = Number(topText ?? 25);
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<string, number>();
let totalUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i])!;
  const delta = profile.timeDeltas[i] ?? 0;
  const frame = node.callFrame;
  const file = frame.url.replace(/^.*\/(node_modules\/|\.tmp\/[^/]+\/|dist\/)/, '$1');
  const key = `${frame.functionName || '(anonymous)'}  ${file}:${frame.lineNumber + 1}`;
  selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
  totalUs += delta;
}
const rows = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`${(totalUs / 1e6).toFixed(2)} s sampled\n`);
for (const [key, us] of rows) process.stdout.write(`${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`);
