import { MessageType } from '../../../raft/types.js';

/** What a trace record describes; the numeric fields a, b, c mean what the formatter says. */
export enum TraceKind {
  Send = 0,
  Deliver = 1,
  Drop = 2,
  Role = 3,
  Persist = 4,
  Apply = 5,
  Crash = 6,
  Restart = 7,
  Propose = 8,
  Ack = 9,
  Fault = 10,
  ConfChange = 11,
  Transfer = 12,
  Compact = 13,
  Snapshot = 14,
  Note = 15,
}

const FIELDS = 7;

/**
 * The last `capacity` simulator events, kept as numbers in one typed array so that tracing costs no
 * allocation per event. Rare events may carry a text note. Printed only when a run fails.
 */
export class TraceRing {
  private readonly values: Float64Array;
  private readonly notes: (string | null)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity * FIELDS);
    this.notes = new Array<string | null>(capacity).fill(null);
  }

  add(timeMs: number, kind: TraceKind, node: number, a = 0, b = 0, c = 0, d = 0, note: string | null = null): void {
    const base = this.next * FIELDS;
    const v = this.values;
    v[base] = timeMs;
    v[base + 1] = kind;
    v[base + 2] = node;
    v[base + 3] = a;
    v[base + 4] = b;
    v[base + 5] = c;
    v[base + 6] = d;
    this.notes[this.next] = note;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The kept records, oldest first, one line each. */
  format(lastCount = this.capacity): string[] {
    const lines: string[] = [];
    const shown = Math.min(lastCount, this.count);
    for (let k = shown; k > 0; k--) {
      const slot = (this.next - k + this.capacity) % this.capacity;
      lines.push(formatRecord(this.values.subarray(slot * FIELDS, slot * FIELDS + FIELDS), this.notes[slot]));
    }
    return lines;
  }
}

/** Message kinds are traced as type + REJECT_FLAG when the message is a rejection. */
export const REJECT_FLAG = 100;

function messageName(code: number): string {
  return code >= REJECT_FLAG ? `${MessageType[code - REJECT_FLAG]}(reject)` : MessageType[code];
}

function formatRecord(v: Float64Array, note: string | null): string {
  const time = `t=${v[0]}`.padEnd(9);
  const node = `n${v[2]}`;
  const [a, b, c, d] = [v[3], v[4], v[5], v[6]];
  const tail = note === null ? '' : ` ${note}`;
  switch (v[1] as TraceKind) {
    case TraceKind.Send:
      return `${time} ${node} send ${messageName(a)} ->n${b} term=${c} index=${d}${tail}`;
    case TraceKind.Deliver:
      return `${time} ${node} recv ${messageName(a)} <-n${b} term=${c} index=${d}${tail}`;
    case TraceKind.Drop:
      return `${time} ${node} drop ${messageName(a)} ->n${b} term=${c}${tail}`;
    case TraceKind.Role:
      return `${time} ${node} role ${tail.trim()} term=${a} leader=n${b}`;
    case TraceKind.Persist:
      return `${time} ${node} write term=${a}${b < 0 ? '' : ` vote=n${b} commit=${c}`} last=${d}${tail}`;
    case TraceKind.Apply:
      return `${time} ${node} apply index=${a} count=${b} term=${c} value=${d}${tail}`;
    case TraceKind.Crash:
      return `${time} ${node} CRASH${tail}`;
    case TraceKind.Restart:
      return `${time} ${node} restart term=${a} vote=n${b} commit=${c} last=${d}${tail}`;
    case TraceKind.Propose:
      return `${time} ${node} propose value=${a} count=${b} -> index=${c} term=${d}${tail}`;
    case TraceKind.Ack:
      return `${time} ${node} ack value=${a} index=${b} term=${c}${tail}`;
    case TraceKind.Fault:
      return `${time} net ${tail.trim()}`;
    case TraceKind.ConfChange:
      return `${time} ${node} conf change${tail}`;
    case TraceKind.Transfer:
      return `${time} ${node} transfer leadership -> n${a}${tail}`;
    case TraceKind.Compact:
      return `${time} ${node} compact to index=${a} term=${b}${tail}`;
    case TraceKind.Snapshot:
      return `${time} ${node} install snapshot index=${a} term=${b}${tail}`;
    case TraceKind.Note:
      return `${time} ${node}${tail}`;
  }
}
