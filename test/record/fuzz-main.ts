/**
 * The long fuzz run: `npm run fuzz -- --cases 2000000 --seed 7`, or replay one case with
 * `--seed S --case N`. Exits 1 if any case let through an error other than CorruptRecordError or
 * InvalidRecordError, printing seed and case of each.
 */
import { parseArgs } from 'node:util';
import { type FuzzReport, describeFailure, runFuzz } from './record-fuzzer.js';

const PROGRESS_CASES = 100_000;

function main(): number {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000_007) },
      case: { type: 'string' },
    },
  });
  const seed = Number(values.seed);
  const cases = values.case === undefined ? Number(values.cases) : 1;
  const firstCase = values.case === undefined ? 0 : Number(values.case);
  if (!Number.isInteger(seed) || !Number.isInteger(cases) || cases < 1 || !Number.isInteger(firstCase)) {
    console.error('usage: fuzz-main [--cases N] [--seed S] [--case N]');
    return 2;
  }
  console.log(`fuzzing the record format: seed=${seed} cases=${cases} from case ${firstCase}`);
  const started = performance.now();
  const total: FuzzReport = { cases: 0, typedErrors: 0, decoded: 0, failures: [], reasons: new Map() };
  for (let done = 0; done < cases; ) {
    const step = Math.min(PROGRESS_CASES, cases - done);
    const report = runFuzz(seed, step, firstCase + done);
    total.cases += report.cases;
    total.typedErrors += report.typedErrors;
    total.decoded += report.decoded;
    for (const [reason, count] of report.reasons) total.reasons.set(reason, (total.reasons.get(reason) ?? 0) + count);
    for (const failure of report.failures) {
      total.failures.push(failure);
      console.log('FAIL ' + describeFailure(failure));
    }
    done += step;
    const seconds = (performance.now() - started) / 1000;
    console.log(`${done} cases, ${total.decoded} decoded, ${total.typedErrors} typed errors, ${total.failures.length} failures, ${seconds.toFixed(1)} s`);
  }
  const reasons = [...total.reasons].sort((a, b) => b[1] - a[1]).map(([reason, count]) => `${reason}=${count}`);
  console.log(`typed errors by reason: ${reasons.join(' ')}`);
  return total.failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
