/**
 * The outcome of a checked run for people (a text table) and for tools (JSON): faults by kind,
 * operations, acknowledged, lost, duplicates, anomalies by type, and the seed that replays it.
 */
import { anomalyTypes, type Anomaly, type CheckResult } from './checker.js';

/** Anomalies listed in full in the text report; the JSON report keeps all the checker kept. */
export const reportAnomaliesListedMax = 20;

export interface ChaosReport {
  seed: number | null;
  historyPath: string | null;
  idempotence: boolean;
  passed: boolean;
  faultsByKind: Record<string, number>;
  operations: Record<string, number>;
  acknowledged: number;
  lost: number;
  duplicates: number;
  indeterminate: number;
  indeterminateRead: number;
  unexpected: number;
  anomaliesByType: Record<string, number>;
  anomalies: Anomaly[];
}

export function buildReport(
  result: CheckResult,
  run: { seed: number | null; historyPath: string | null; idempotence: boolean },
): ChaosReport {
  const counts = result.counts;
  const anomalyCount = Object.values(counts.anomaliesByType).reduce((sum, n) => sum + n, 0);
  return {
    seed: run.seed,
    historyPath: run.historyPath,
    idempotence: run.idempotence,
    passed: anomalyCount === 0,
    faultsByKind: counts.faultsByKind,
    operations: counts.operations,
    acknowledged: counts.acknowledged,
    lost: counts.lost,
    duplicates: counts.duplicates,
    indeterminate: counts.indeterminate,
    indeterminateRead: counts.indeterminateRead,
    unexpected: counts.unexpected,
    anomaliesByType: counts.anomaliesByType,
    anomalies: result.anomalies,
  };
}

function table(title: string, rows: Array<[string, string | number]>): string {
  const width = Math.max(title.length, ...rows.map(([name]) => name.length));
  const lines = [title];
  for (const [name, value] of rows) lines.push(`  ${name.padEnd(width)}  ${String(value).padStart(9)}`);
  return lines.join('\n');
}

/** The summary as a plain text table. */
export function formatReportText(report: ChaosReport): string {
  const faults = Object.entries(report.faultsByKind).sort(([a], [b]) => a.localeCompare(b));
  const sections = [
    `chaos run: ${report.passed ? 'PASS' : 'FAIL'}   seed ${report.seed ?? '-'}   idempotence ${report.idempotence ? 'on' : 'off'}` +
      (report.historyPath === null ? '' : `   history ${report.historyPath}`),
    table('faults by kind', faults.length === 0 ? [['(none)', 0]] : faults),
    table('operations', Object.entries(report.operations)),
    table('outcomes', [
      ['acknowledged', report.acknowledged],
      ['lost', report.lost],
      ['duplicates', report.duplicates],
      ['indeterminate', report.indeterminate],
      ['indeterminate, read', report.indeterminateRead],
      ['unexpected', report.unexpected],
    ]),
    table(
      'anomalies by type',
      anomalyTypes.map((type) => [type, report.anomaliesByType[type] ?? 0]),
    ),
  ];
  if (report.anomalies.length > 0) {
    const listed = report.anomalies.slice(0, reportAnomaliesListedMax).map((a) => `  [${a.type}] ${a.message}`);
    const more = report.anomalies.length - listed.length;
    if (more > 0) listed.push(`  ... and ${more} more (see the JSON report)`);
    sections.push(['first anomalies', ...listed].join('\n'));
  }
  return sections.join('\n\n') + '\n';
}

/** The summary as JSON, anomalies with their details included. */
export function formatReportJson(report: ChaosReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** The process exit code for a run: non-zero on any anomaly. */
export function reportExitCode(report: ChaosReport): number {
  return report.passed ? 0 : 1;
}
