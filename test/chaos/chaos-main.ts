/**
 * `npm run chaos -- --brokers 5 --duration 300 --seed 7`: one chaos run against real broker
 * processes of this build; prints the summary table and exits 0 when the history is clean and no
 * broker crashed, 1 otherwise, 2 on bad arguments.
 *
 *   --brokers N        3 or 5 (default 3)
 *   --duration S       seconds of faults (default 60)
 *   --seed N           replays the nemesis's choices (default: the current time)
 *   --faults a,b,...   fault kinds (default all: kill,pause,partition-halves,isolate-leader,bridge,
 *                      power-loss-one,power-loss-all,bitflip,disk-full)
 *   --partitions N     partitions of the RF=3 topic (default 4)
 *   --rate N           sends per second per producer (default 200; three producers)
 *   --group-members N  members of the consumer group that commits offsets (default 2; 0: none)
 *   --out DIR          where history.jsonl and the reports go (default <tmp>/brook-chaos-<seed>);
 *                      the cluster's data dirs go under DIR/tmp
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos } from './chaos-run.js';
import { faultKinds, parseFaultKinds } from './nemesis.js';

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        brokers: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        faults: { type: 'string' },
        partitions: { type: 'string' },
        rate: { type: 'string' },
        'group-members': { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  let options;
  try {
    const seed = parsed.seed === undefined ? Date.now() % 1_000_000_007 : Number(parsed.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${parsed.seed}`);
    const brokers = positiveInteger('brokers', parsed.brokers, 3);
    if (brokers < 3) throw new Error('--brokers must be at least 3 (the topic has three replicas)');
    options = {
      brokers,
      durationMs: positiveInteger('duration', parsed.duration, 60) * 1000,
      seed,
      kinds: parsed.faults === undefined ? faultKinds : parseFaultKinds(parsed.faults),
      partitions: positiveInteger('partitions', parsed.partitions, 4),
      sendsPerSecondPerProducer: positiveInteger('rate', parsed.rate, 200),
      groupMembers: parsed['group-members'] === '0' ? 0 : positiveInteger('group-members', parsed['group-members'], 2),
      outDir: resolve(parsed.out ?? join(tmpdir(), `brook-chaos-${seed}`)),
    };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  // The cluster's data dirs go under os.tmpdir(); a private one keeps other tools' clean-ups of
  // the shared temporary directory out of the run.
  const privateTmpDir = join(options.outDir, 'tmp');
  mkdirSync(privateTmpDir, { recursive: true });
  process.env.TMPDIR = privateTmpDir;
  const startedAtMs = Date.now();
  process.stdout.write(`chaos: seed ${options.seed}, ${options.brokers} brokers, ${options.durationMs / 1000} s, output in ${options.outDir}\n`);
  const result = await runChaos({ ...options, log: (line) => process.stdout.write(`[${((Date.now() - startedAtMs) / 1000).toFixed(1)} s] ${line}\n`) });
  process.stdout.write(`\n${result.text}`);
  process.stdout.write(`history ${result.historyPath}\nreplay: npm run chaos -- --brokers ${options.brokers} --duration ${options.durationMs / 1000} --seed ${options.seed}\n`);
  return result.passed ? 0 : 1;
}

// Exit explicitly: a client that keeps a loop or a socket going after its disconnect must not
// keep a finished run (or a scripted series of runs) waiting.
process.exit(await main());
