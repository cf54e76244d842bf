/**
 * Checks a history file and prints the summary; exits 1 on any anomaly, 2 on a malformed history.
 *
 *   node dist/test/chaos/check-main.js <history.jsonl> [--idempotence] [--json <report.json>]
 */
import { writeFileSync } from 'node:fs';
import { HistoryChecker } from './checker.js';
import { HistoryFormatError, readHistory } from './history.js';
import { buildReport, formatReportJson, formatReportText, reportExitCode } from './report.js';

async function main(argv: string[]): Promise<number> {
  const historyPath = argv.find((arg, i) => !arg.startsWith('--') && argv[i - 1] !== '--json');
  if (historyPath === undefined) {
    process.stderr.write('usage: check-main <history.jsonl> [--idempotence] [--json <report.json>]\n');
    return 2;
  }
  const idempotence = argv.includes('--idempotence');
  const jsonIndex = argv.indexOf('--json');
  const jsonPath = jsonIndex >= 0 ? argv[jsonIndex + 1] : undefined;
  const checker = new HistoryChecker({ idempotence });
  let seed: number | null = null;
  let eventNumber = 0;
  try {
    // Streamed: the checker holds per-value state, never the whole file.
    for await (const event of readHistory(historyPath)) {
      if (event.type === 'meta') seed = event.seed;
      checker.add(event, ++eventNumber);
    }
  } catch (error) {
    if (!(error instanceof HistoryFormatError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const report = buildReport(checker.finish(), { seed, historyPath, idempotence });
  process.stdout.write(formatReportText(report));
  if (jsonPath !== undefined) writeFileSync(jsonPath, formatReportJson(report));
  return reportExitCode(report);
}

process.exitCode = await main(process.argv.slice(2));
