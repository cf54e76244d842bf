/**
 * A live progress bar on stderr (cli-progress): records done of the run's total and the current
 * rate (records/s and MB/s over the last second). Without a terminal it prints a line every few
 * seconds instead of redrawing, so logs of a long run still show it moving.
 */
import cliProgress from 'cli-progress';

const NOT_TTY_LINE_INTERVAL_MS = 3_000;

export class LiveProgress {
  private readonly bar: cliProgress.SingleBar;
  private stopped = false;

  constructor(label: string, totalRecords: number) {
    this.bar = new cliProgress.SingleBar({
      format: `${label.padEnd(36)} [{bar}] {percentage}% | {value}/{total} | {rate} rec/s | {megabytesPerSecond} MB/s`,
      barsize: 24,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: NOT_TTY_LINE_INTERVAL_MS,
      stream: process.stderr,
      formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? Math.round(value).toLocaleString('en') : String(value)),
    }, cliProgress.Presets.shades_classic);
    this.bar.start(totalRecords, 0, { rate: '0', megabytesPerSecond: '0.0' });
  }

  update(done: number, recordsPerSecond: number, megabytesPerSecond: number): void {
    if (this.stopped) return;
    this.bar.update(done, { rate: Math.round(recordsPerSecond).toLocaleString('en'), megabytesPerSecond: megabytesPerSecond.toFixed(1) });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar.stop();
  }
}
