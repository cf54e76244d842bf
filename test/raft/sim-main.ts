/**
 * `npm run sim`: runs the Raft cluster simulator over many seeds, or replays one.
 *
 *   npm run sim                            # seeds 1..1000, 3 and 5 nodes alternating
 *   npm run sim -- --seeds 100000          # a long run
 *   SEED=42 npm run sim                    # replay one seed (also: --seed 42)
 *   npm run sim -- --nodes 5 --steps 20000 # fixed cluster size, longer fault phase
 *   npm run sim -- --bug forget-vote       # show that a known bug is caught
 *   npm run sim -- --bug forget-vote --keep-going --seeds 1000  # how often each invariant catches it
 */
import { DEFAULT_STEPS } from './sim-defaults.js';
import { nodesForSeed, replayCommand, runSimulation, type SimOptions, type SimResult } from './sim/cluster-sim.js';
import { BUG_NAMES, bugOptions, type BugName } from './sim/known-bugs.js';

const DEFAULT_SEEDS = 1000;
const DEFAULT_TRACE_LINES = 60;
/** Without a terminal (long runs into a log file), a progress line every this many seeds. */
const PROGRESS_EVERY_SEEDS = 5000;

interface Arguments {
  seeds: number;
  firstSeed: number;
  seed: number | undefined;
  nodes: number | undefined;
  steps: number;
  bug: BugName | undefined;
  traceLines: number;
  stepDuringSync: boolean | undefined;
  quiesce: boolean;
  keepGoing: boolean;
}

function parseArguments(argv: string[]): Arguments {
  const args: Arguments = { seeds: DEFAULT_SEEDS, firstSeed: 1, seed: undefined, nodes: undefined, steps: DEFAULT_STEPS, bug: undefined, traceLines: DEFAULT_TRACE_LINES, stepDuringSync: undefined, quiesce: false, keepGoing: false };
  if (process.env.SEED !== undefined && process.env.SEED !== '') args.seed = integer('SEED', process.env.SEED);
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = (): string => {
      const next = argv[++k];
      if (next === undefined) usage(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--seeds':
        args.seeds = integer(flag, value());
        break;
      case '--first-seed':
        args.firstSeed = integer(flag, value());
        break;
      case '--seed':
        args.seed = integer(flag, value());
        break;
      case '--nodes': {
        const nodes = integer(flag, value());
        if (nodes !== 3 && nodes !== 5) usage('--nodes must be 3 or 5');
        args.nodes = nodes;
        break;
      }
      case '--steps':
        args.steps = integer(flag, value());
        break;
      case '--bug': {
        const bug = value();
        if (!(BUG_NAMES as readonly string[]).includes(bug)) usage(`--bug must be one of ${BUG_NAMES.join(', ')}`);
        args.bug = bug as BugName;
        break;
      }
      case '--keep-going':
        args.keepGoing = true;
        break;
      case '--hold-during-sync':
        args.stepDuringSync = false;
        break;
      case '--step-during-sync':
        args.stepDuringSync = true;
        break;
      case '--quiesce':
        args.quiesce = true;
        break;
      case '--trace':
        args.traceLines = integer(flag, value());
        break;
      case '--help':
      case '-h':
        usage();
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  return args;
}

function integer(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) usage(`${name} must be a non-negative integer, got ${text}`);
  return n;
}

function usage(problem?: string): never {
  if (problem !== undefined) console.error(problem);
  console.error('usage: npm run sim -- [--seeds N] [--first-seed N] [--seed N] [--nodes 3|5] [--steps N] [--bug NAME] [--hold-during-sync | --step-during-sync] [--quiesce] [--keep-going] [--trace LINES]');
  process.exit(2);
}

function optionsFor(args: Arguments, seed: number): SimOptions {
  return { seed, nodes: args.nodes ?? nodesForSeed(seed), steps: args.steps, ...(args.bug === undefined ? {} : bugOptions(args.bug)), traceCapacity: Math.max(args.traceLines, 1), ...(args.stepDuringSync === undefined ? {} : { stepDuringSync: args.stepDuringSync }), ...(args.quiesce === true ? { quiesce: true } : {}) };
}

function printFailure(result: SimResult, traceLines: number): void {
  const failure = result.failure!;
  console.log(`\nFAILED seed ${result.options.seed} (${result.options.nodes} nodes) at step ${failure.step}, t=${failure.atMs} ms`);
  console.log(failure.message);
  console.log(`seed settings: ${failure.settings}`);
  console.log(`\nlast ${Math.min(traceLines, failure.trace.length)} events:`);
  for (const line of failure.trace.slice(-traceLines)) console.log(`  ${line}`);
  console.log(`\nreplay: ${replayCommand(result.options, { steps: DEFAULT_STEPS })}`);
}

function main(): void {
  const args = parseArguments(process.argv.slice(2));
  if (args.seed !== undefined) {
    const result = runSimulation(optionsFor(args, args.seed));
    if (!result.ok) {
      printFailure(result, args.traceLines);
      process.exit(1);
    }
    console.log(`seed ${args.seed} (${result.options.nodes} nodes) ok: ${JSON.stringify(result.stats)}`);
    return;
  }
  const started = performance.now();
  const failuresByInvariant = new Map<string, number>();
  let firstFailure: SimResult | undefined;
  const totals = { proposed: 0, committed: 0, failed: 0, unknown: 0, crashes: 0, partitions: 0, snapshots: 0, learnersAdded: 0, promotions: 0, removals: 0, leaderRemovals: 0, transfers: 0, reads: 0, readsAnswered: 0, steps: 0, maxHealLeaderMs: 0, maxHealAnsweredMs: 0, maxHealConvergeMs: 0 };
  for (let seed = args.firstSeed; seed < args.firstSeed + args.seeds; seed++) {
    const result = runSimulation(optionsFor(args, seed));
    if (!result.ok) {
      if (!args.keepGoing) {
        printFailure(result, args.traceLines);
        console.log(`(${seed - args.firstSeed} seeds passed before this one)`);
        process.exit(1);
      }
      firstFailure ??= result;
      const invariant = result.failure!.invariant;
      failuresByInvariant.set(invariant, (failuresByInvariant.get(invariant) ?? 0) + 1);
      continue;
    }
    const s = result.stats;
    totals.proposed += s.proposed;
    totals.committed += s.committed;
    totals.crashes += s.crashes;
    totals.snapshots += s.snapshotsInstalled;
    totals.failed += s.failed;
    totals.unknown += s.unknown;
    totals.partitions += s.partitions;
    totals.learnersAdded += s.learnersAdded;
    totals.promotions += s.promotions;
    totals.removals += s.removals;
    totals.leaderRemovals += s.leaderRemovals;
    totals.transfers += s.transfers;
    totals.reads += s.reads;
    totals.readsAnswered += s.readsAnswered;
    totals.steps += s.steps;
    totals.maxHealLeaderMs = Math.max(totals.maxHealLeaderMs, s.healLeaderMs);
    totals.maxHealConvergeMs = Math.max(totals.maxHealConvergeMs, s.healConvergeMs);
    totals.maxHealAnsweredMs = Math.max(totals.maxHealAnsweredMs, s.healAnsweredMs);
    const done = seed - args.firstSeed + 1;
    if (done % 100 === 0 && process.stdout.isTTY) process.stdout.write(`\r${done}/${args.seeds} seeds done`);
    else if (done % PROGRESS_EVERY_SEEDS === 0 && !process.stdout.isTTY) console.log(`${done}/${args.seeds} seeds done, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const seconds = (performance.now() - started) / 1000;
  if (process.stdout.isTTY) process.stdout.write('\r');
  if (firstFailure !== undefined) {
    const failed = [...failuresByInvariant.values()].reduce((a, b) => a + b, 0);
    console.log(`${failed} of ${args.seeds} seeds failed (seeds ${args.firstSeed}..${args.firstSeed + args.seeds - 1}) in ${seconds.toFixed(1)} s; by invariant: ${JSON.stringify(Object.fromEntries(failuresByInvariant))}`);
    console.log(`first failure: seed ${firstFailure.options.seed}: ${firstFailure.failure!.message.split('\n')[0]}`);
    console.log(`replay: ${replayCommand(firstFailure.options, { steps: DEFAULT_STEPS })}`);
    process.exit(1);
  }
  console.log(`${args.seeds} seeds ok (seeds ${args.firstSeed}..${args.firstSeed + args.seeds - 1}) in ${seconds.toFixed(1)} s: ${JSON.stringify(totals)}`);
}

main();
