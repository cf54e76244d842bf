/**
 * Where a chaos run writes what happened: every event goes to the history file (JSON lines,
 * bounded buffer) and to the incremental checker at once, so the run never holds the history in
 * memory and the verdict is ready the moment the run ends. Times come from one clock (Date.now()
 * of the harness process), so events of different producers and consumers compare.
 */
import { HistoryChecker, type CheckResult } from './checker.js';
import { HistoryWriter, type HistoryEvent } from './history.js';

export class ChaosRecorder {
  readonly historyPath: string;
  private readonly writer: HistoryWriter;
  private readonly checker: HistoryChecker;
  private eventNumber = 0;
  private acknowledgedTotal = 0;
  private lastAckMs = 0;

  constructor(historyPath: string, seed: number, description: string) {
    this.historyPath = historyPath;
    this.writer = new HistoryWriter(historyPath);
    // The producers retry without idempotence, so a value may be stored twice: counted, not an anomaly.
    this.checker = new HistoryChecker({ idempotence: false });
    this.record({ type: 'meta', seed, startedAtMs: Date.now(), description });
  }

  record(event: HistoryEvent): void {
    this.writer.append(event);
    this.checker.add(event, ++this.eventNumber);
    if (event.type === 'ack') {
      this.acknowledgedTotal++;
      this.lastAckMs = event.timeMs;
    }
  }

  get acknowledged(): number {
    return this.acknowledgedTotal;
  }

  /** When the latest acknowledgement arrived (0 before the first). */
  get lastAcknowledgedAtMs(): number {
    return this.lastAckMs;
  }

  /** Closes the file and runs the checks that need the whole history. */
  finish(): CheckResult {
    this.writer.close();
    return this.checker.finish();
  }
}
