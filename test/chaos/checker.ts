/**
 * Checks a history (see history.ts) for the anomalies a replicated log must never show. All state
 * is kept in Maps keyed by value, partition and offset, so a history of a million events checks in
 * seconds; events may be fed one at a time (HistoryChecker) or as a whole (check).
 */
import assert from 'node:assert';
import {
  HistoryFormatError,
  partitionKey,
  prefixHash,
  type AckEvent,
  type CommitEvent,
  type HistoryEvent,
  type ReadEvent,
  type ReplicaPrefixEvent,
  type SendEvent,
} from './history.js';

export type AnomalyType =
  | 'lost'
  | 'unexpected'
  | 'duplicate'
  | 'inconsistent-offset'
  | 'non-monotonic-read'
  | 'replica-divergence'
  | 'commit-regression'
  | 'real-time';

export const anomalyTypes: readonly AnomalyType[] = [
  'lost',
  'unexpected',
  'duplicate',
  'inconsistent-offset',
  'non-monotonic-read',
  'replica-divergence',
  'commit-regression',
  'real-time',
];

/** One violation, with what is needed to find it in the history: values, partition, offsets, times. */
export interface Anomaly {
  type: AnomalyType;
  message: string;
  details: Record<string, unknown>;
}

export interface CheckOptions {
  /** With idempotence on, a value stored twice is an anomaly; with it off, duplicates are only counted. */
  idempotence: boolean;
  /** At most this many anomalies are kept in the result (the counts stay exact). */
  anomaliesKeptMax?: number;
}

export const anomaliesKeptMaxDefault = 10_000;

export interface CheckCounts {
  events: number;
  /** Client operations by type: send, ack, fail, indeterminate, read, commit. */
  operations: Record<string, number>;
  faultsByKind: Record<string, number>;
  /** The end of the last fault: reads at or after it count as reads after healing. */
  healedAtMs: number | null;
  sent: number;
  acknowledged: number;
  failed: number;
  /** Sends whose outcome is unknown (including sends with no outcome recorded). */
  indeterminate: number;
  /** Indeterminate sends that were read: they did write. */
  indeterminateRead: number;
  /** Distinct values read. */
  valuesRead: number;
  lost: number;
  unexpected: number;
  /** Extra copies: a value read at three distinct offsets counts two. */
  duplicates: number;
  duplicatedValues: number;
  anomaliesByType: Record<AnomalyType, number>;
}

export interface CheckResult {
  anomalies: Anomaly[];
  counts: CheckCounts;
}

type Outcome = 'none' | 'ack' | 'fail' | 'indeterminate';

interface ValueState {
  sent: boolean;
  sendTimeMs: number;
  process: string;
  outcome: Outcome;
  ackPartition: string;
  ackOffset: number;
  ackTimeMs: number;
  readCount: number;
  firstReadTimeMs: number;
  lastReadTimeMs: number;
  /** First distinct position the value was read at, then any others. */
  readPartition: string;
  readOffset: number;
  extraPositions: Array<[string, number]> | null;
}

interface OffsetObservation {
  value: string;
  source: string;
  timeMs: number;
}

interface AckRecord {
  value: string;
  offset: number;
  timeMs: number;
}

interface LastPosition {
  offset: number;
  timeMs: number;
}

/** Feeds events one at a time, then finish() runs the checks that need the whole history. */
export class HistoryChecker {
  private readonly values = new Map<string, ValueState>();
  private readonly offsets = new Map<string, Map<number, OffsetObservation>>();
  private readonly reportedConflicts = new Set<string>();
  private readonly lastReadByConsumer = new Map<string, LastPosition>();
  private readonly lastCommitByGroup = new Map<string, LastPosition>();
  private readonly acksByPartition = new Map<string, AckRecord[]>();
  private readonly prefixesByPartition = new Map<string, ReplicaPrefixEvent[]>();
  private readonly anomalies: Anomaly[] = [];
  private readonly anomaliesKeptMax: number;
  private readonly counts: CheckCounts;
  private finished = false;

  constructor(private readonly options: CheckOptions) {
    this.anomaliesKeptMax = options.anomaliesKeptMax ?? anomaliesKeptMaxDefault;
    assert.ok(this.anomaliesKeptMax >= 1, 'anomaliesKeptMax must be positive');
    this.counts = {
      events: 0,
      operations: { send: 0, ack: 0, fail: 0, indeterminate: 0, read: 0, commit: 0 },
      faultsByKind: {},
      healedAtMs: null,
      sent: 0,
      acknowledged: 0,
      failed: 0,
      indeterminate: 0,
      indeterminateRead: 0,
      valuesRead: 0,
      lost: 0,
      unexpected: 0,
      duplicates: 0,
      duplicatedValues: 0,
      anomaliesByType: Object.fromEntries(anomalyTypes.map((type) => [type, 0])) as Record<AnomalyType, number>,
    };
  }

  /** Adds the next event; eventNumber (1-based) names it in format errors. */
  add(event: HistoryEvent, eventNumber: number = this.counts.events + 1): void {
    assert.ok(!this.finished, 'add after finish');
    this.counts.events++;
    if (event.type in this.counts.operations) this.counts.operations[event.type]++;
    switch (event.type) {
      case 'meta':
        return;
      case 'send':
        return this.addSend(event, eventNumber);
      case 'ack':
        return this.addAck(event, eventNumber);
      case 'fail':
      case 'indeterminate':
        this.addOutcome(event.value, event.type, eventNumber);
        return;
      case 'read':
        return this.addRead(event);
      case 'commit':
        return this.addCommit(event);
      case 'nemesis':
        this.counts.faultsByKind[event.kind] = (this.counts.faultsByKind[event.kind] ?? 0) + 1;
        this.counts.healedAtMs = Math.max(this.counts.healedAtMs ?? -Infinity, event.endMs);
        return;
      case 'replica-prefix':
        return this.addReplicaPrefix(event);
    }
  }

  private flag(type: AnomalyType, message: string, details: Record<string, unknown>): void {
    this.counts.anomaliesByType[type]++;
    if (this.anomalies.length < this.anomaliesKeptMax) this.anomalies.push({ type, message, details });
  }

  private stateOf(value: string): ValueState {
    let state = this.values.get(value);
    if (state === undefined) {
      state = {
        sent: false,
        sendTimeMs: NaN,
        process: '',
        outcome: 'none',
        ackPartition: '',
        ackOffset: -1,
        ackTimeMs: NaN,
        readCount: 0,
        firstReadTimeMs: NaN,
        lastReadTimeMs: -Infinity,
        readPartition: '',
        readOffset: -1,
        extraPositions: null,
      };
      this.values.set(value, state);
    }
    return state;
  }

  private addSend(event: SendEvent, eventNumber: number): void {
    const state = this.stateOf(event.value);
    if (state.sent) throw new HistoryFormatError(`value ${JSON.stringify(event.value)} sent twice; values must be unique`, eventNumber);
    state.sent = true;
    state.sendTimeMs = event.timeMs;
    state.process = event.process;
  }

  private addOutcome(value: string, outcome: Outcome, eventNumber: number): ValueState {
    const state = this.values.get(value);
    if (state === undefined || !state.sent) {
      throw new HistoryFormatError(`${outcome} of ${JSON.stringify(value)}, which was never sent`, eventNumber);
    }
    if (state.outcome !== 'none') {
      throw new HistoryFormatError(`${outcome} of ${JSON.stringify(value)}, which already had outcome ${state.outcome}`, eventNumber);
    }
    state.outcome = outcome;
    return state;
  }

  private addAck(event: AckEvent, eventNumber: number): void {
    const state = this.addOutcome(event.value, 'ack', eventNumber);
    const key = partitionKey(event.topic, event.partition);
    state.ackPartition = key;
    state.ackOffset = event.offset;
    state.ackTimeMs = event.timeMs;
    this.observeOffset(key, event.offset, event.value, `ack by ${event.process}`, event.timeMs);
    let acks = this.acksByPartition.get(key);
    if (acks === undefined) this.acksByPartition.set(key, (acks = []));
    acks.push({ value: event.value, offset: event.offset, timeMs: event.timeMs });
  }

  private addRead(event: ReadEvent): void {
    const key = partitionKey(event.topic, event.partition);
    const state = this.stateOf(event.value);
    if (state.readCount === 0) {
      state.firstReadTimeMs = event.timeMs;
      state.readPartition = key;
      state.readOffset = event.offset;
    } else if (state.readPartition !== key || state.readOffset !== event.offset) {
      const extras = (state.extraPositions ??= []);
      if (!extras.some(([p, o]) => p === key && o === event.offset)) extras.push([key, event.offset]);
    }
    state.readCount++;
    state.lastReadTimeMs = Math.max(state.lastReadTimeMs, event.timeMs);
    this.observeOffset(key, event.offset, event.value, `read by ${event.consumer}`, event.timeMs);

    const consumerKey = `${event.consumer}\u0000${key}`;
    const last = this.lastReadByConsumer.get(consumerKey);
    if (last !== undefined && event.offset <= last.offset) {
      this.flag('non-monotonic-read', `${event.consumer} read ${key} offset ${event.offset} after offset ${last.offset}`, {
        consumer: event.consumer,
        partition: key,
        offset: event.offset,
        previousOffset: last.offset,
        value: event.value,
        timeMs: event.timeMs,
        previousTimeMs: last.timeMs,
      });
    }
    this.lastReadByConsumer.set(consumerKey, { offset: event.offset, timeMs: event.timeMs });
  }

  /** Every source that names an offset's value (acks, reads, replica prefixes) must agree on it. */
  private observeOffset(key: string, offset: number, value: string, source: string, timeMs: number): void {
    let byOffset = this.offsets.get(key);
    if (byOffset === undefined) this.offsets.set(key, (byOffset = new Map()));
    const seen = byOffset.get(offset);
    if (seen === undefined) {
      byOffset.set(offset, { value, source, timeMs });
      return;
    }
    if (seen.value === value) return;
    const conflictKey = `${key}\u0000${offset}\u0000${value}`;
    if (this.reportedConflicts.has(conflictKey)) return;
    this.reportedConflicts.add(conflictKey);
    this.flag('inconsistent-offset', `${key} offset ${offset} holds ${JSON.stringify(seen.value)} and ${JSON.stringify(value)}`, {
      partition: key,
      offset,
      value: seen.value,
      source: seen.source,
      timeMs: seen.timeMs,
      otherValue: value,
      otherSource: source,
      otherTimeMs: timeMs,
    });
  }

  private addCommit(event: CommitEvent): void {
    const key = partitionKey(event.topic, event.partition);
    const groupKey = `${event.group}\u0000${key}`;
    const last = this.lastCommitByGroup.get(groupKey);
    if (last !== undefined && event.offset < last.offset) {
      this.flag('commit-regression', `group ${event.group} committed ${key} offset ${event.offset} after ${last.offset}`, {
        group: event.group,
        partition: key,
        offset: event.offset,
        previousOffset: last.offset,
        timeMs: event.timeMs,
        previousTimeMs: last.timeMs,
      });
    }
    this.lastCommitByGroup.set(groupKey, { offset: event.offset, timeMs: event.timeMs });
  }

  private addReplicaPrefix(event: ReplicaPrefixEvent): void {
    const key = partitionKey(event.topic, event.partition);
    let prefixes = this.prefixesByPartition.get(key);
    if (prefixes === undefined) this.prefixesByPartition.set(key, (prefixes = []));
    prefixes.push(event);
    if (event.records !== undefined) {
      for (const [offset, value] of event.records) this.observeOffset(key, offset, value, `replica ${event.broker}`, event.timeMs);
    }
  }

  /** Runs the whole-history checks and returns every anomaly found. */
  finish(): CheckResult {
    assert.ok(!this.finished, 'finish called twice');
    this.finished = true;
    const healedAtMs = this.counts.healedAtMs ?? -Infinity;
    for (const [value, state] of this.values) this.checkValue(value, state, healedAtMs);
    for (const [key, acks] of this.acksByPartition) this.checkRealTime(key, acks);
    for (const [key, prefixes] of this.prefixesByPartition) this.checkReplicaPrefixes(key, prefixes);
    return { anomalies: this.anomalies, counts: this.counts };
  }

  private checkValue(value: string, state: ValueState, healedAtMs: number): void {
    const counts = this.counts;
    if (state.sent) counts.sent++;
    if (state.readCount > 0) counts.valuesRead++;
    if (state.outcome === 'ack') counts.acknowledged++;
    if (state.outcome === 'fail') counts.failed++;
    if (state.outcome === 'indeterminate' || (state.sent && state.outcome === 'none')) {
      counts.indeterminate++;
      if (state.readCount > 0) counts.indeterminateRead++;
    }
    if (state.readCount > 0 && (!state.sent || state.outcome === 'fail')) {
      counts.unexpected++;
      const why = state.sent ? 'whose send failed' : 'that was never sent';
      this.flag('unexpected', `read ${JSON.stringify(value)}, ${why}, at ${state.readPartition} offset ${state.readOffset}`, {
        value,
        partition: state.readPartition,
        offset: state.readOffset,
        firstReadTimeMs: state.firstReadTimeMs,
        sendTimeMs: state.sent ? state.sendTimeMs : null,
        outcome: state.outcome,
      });
    }
    if (state.outcome === 'ack') this.checkAcknowledged(value, state, healedAtMs);
    if (state.extraPositions !== null) {
      counts.duplicates += state.extraPositions.length;
      counts.duplicatedValues++;
      if (this.options.idempotence) {
        const positions = [[state.readPartition, state.readOffset], ...state.extraPositions];
        this.flag('duplicate', `${JSON.stringify(value)} stored ${positions.length} times with idempotence on`, {
          value,
          positions,
          sendTimeMs: state.sendTimeMs,
          process: state.process,
        });
      }
    }
  }

  private checkAcknowledged(value: string, state: ValueState, healedAtMs: number): void {
    if (state.readCount === 0 || state.lastReadTimeMs < healedAtMs) {
      this.counts.lost++;
      const readBefore = state.readCount > 0;
      this.flag('lost', `${JSON.stringify(value)} acknowledged at ${state.ackPartition} offset ${state.ackOffset} but never read${readBefore ? ' after healing' : ''}`, {
        value,
        partition: state.ackPartition,
        offset: state.ackOffset,
        process: state.process,
        sendTimeMs: state.sendTimeMs,
        ackTimeMs: state.ackTimeMs,
        lastReadTimeMs: readBefore ? state.lastReadTimeMs : null,
        healedAtMs: Number.isFinite(healedAtMs) ? healedAtMs : null,
      });
      return;
    }
    // Read, but never where the acknowledgement said: the acknowledged offset was wrong.
    const readAtAck =
      (state.readPartition === state.ackPartition && state.readOffset === state.ackOffset) ||
      (state.extraPositions?.some(([p, o]) => p === state.ackPartition && o === state.ackOffset) ?? false);
    if (!readAtAck) {
      this.flag('inconsistent-offset', `${JSON.stringify(value)} acknowledged at ${state.ackPartition} offset ${state.ackOffset} but read only elsewhere`, {
        value,
        partition: state.ackPartition,
        offset: state.ackOffset,
        readAt: [[state.readPartition, state.readOffset], ...(state.extraPositions ?? [])],
        ackTimeMs: state.ackTimeMs,
      });
    }
  }

  /**
   * A record acknowledged at offset o must not have been sent after an acknowledgement of an
   * offset >= o in the same partition had already returned: that offset was assigned after o's, so
   * o's append happened before its own send began. Sorting acks by completion time and keeping a
   * running maximum answers "highest offset acknowledged before time t" with a binary search.
   */
  private checkRealTime(key: string, acks: AckRecord[]): void {
    const byTime = acks.slice().sort((a, b) => a.timeMs - b.timeMs);
    const maxIndexUpTo = new Int32Array(byTime.length);
    for (let i = 0; i < byTime.length; i++) {
      maxIndexUpTo[i] = i > 0 && byTime[maxIndexUpTo[i - 1]].offset >= byTime[i].offset ? maxIndexUpTo[i - 1] : i;
    }
    for (const ack of acks) {
      const sendTimeMs = this.values.get(ack.value)!.sendTimeMs;
      // Count of acks that finished strictly before the send began.
      let low = 0;
      let high = byTime.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (byTime[middle].timeMs < sendTimeMs) low = middle + 1;
        else high = middle;
      }
      if (low === 0) continue;
      const earlier = byTime[maxIndexUpTo[low - 1]];
      if (earlier.offset < ack.offset || earlier.value === ack.value) continue;
      this.flag('real-time', `${JSON.stringify(ack.value)} acknowledged at ${key} offset ${ack.offset}, sent after offset ${earlier.offset} was acknowledged`, {
        value: ack.value,
        partition: key,
        offset: ack.offset,
        sendTimeMs,
        ackTimeMs: ack.timeMs,
        earlierValue: earlier.value,
        earlierOffset: earlier.offset,
        earlierAckTimeMs: earlier.timeMs,
      });
    }
  }

  private checkReplicaPrefixes(key: string, prefixes: ReplicaPrefixEvent[]): void {
    const hashes = prefixes.map((prefix) => prefix.hash ?? prefixHash(prefix.records!));
    const reference = prefixes[0];
    for (let i = 1; i < prefixes.length; i++) {
      const prefix = prefixes[i];
      if (prefix.endOffset === reference.endOffset && hashes[i] === hashes[0]) continue;
      this.flag('replica-divergence', `${key}: ${prefix.broker} and ${reference.broker} hold different committed prefixes`, {
        partition: key,
        broker: reference.broker,
        endOffset: reference.endOffset,
        hash: hashes[0],
        otherBroker: prefix.broker,
        otherEndOffset: prefix.endOffset,
        otherHash: hashes[i],
        firstDifferentOffset: firstDifferentOffset(reference.records, prefix.records),
      });
    }
  }
}

/** Where two record lists first differ, when both are known (null otherwise). */
function firstDifferentOffset(a?: Array<[number, string]>, b?: Array<[number, string]>): number | null {
  if (a === undefined || b === undefined) return null;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) return Math.min(a[i][0], b[i][0]);
  }
  if (a.length !== b.length) return (a.length > b.length ? a : b)[length][0];
  return null;
}

/** Checks a whole history. Throws HistoryFormatError when the history itself is malformed. */
export function check(history: Iterable<HistoryEvent>, options: CheckOptions): CheckResult {
  const checker = new HistoryChecker(options);
  let eventNumber = 0;
  for (const event of history) checker.add(event, ++eventNumber);
  return checker.finish();
}
