/**
 * Breaks one rule in a clean history (see clean-history-generator.ts), the way a faulty broker or
 * client would, so a test can assert that the checker flags it. The input is not modified.
 */
import assert from 'node:assert';
import type { AnomalyType } from './checker.js';
import { type AckEvent, type CommitEvent, type HistoryEvent, type ReadEvent, type ReplicaPrefixEvent, type SendEvent } from './history.js';
import type { TestRandom } from '../fixtures/test-random.js';

export interface Injection {
  history: HistoryEvent[];
  /** What was broken, for the assertion message. */
  description: string;
}

const offsetFarAhead = 1_000_000_000;

function lastTimeMs(history: HistoryEvent[]): number {
  let max = 0;
  for (const e of history) max = Math.max(max, e.type === 'nemesis' ? e.endMs : e.type === 'meta' ? 0 : e.timeMs);
  return max;
}

function healedAtMs(history: HistoryEvent[]): number {
  let max = -Infinity;
  for (const e of history) if (e.type === 'nemesis') max = Math.max(max, e.endMs);
  return max;
}

function ofType<T extends HistoryEvent['type']>(history: HistoryEvent[], type: T): Array<Extract<HistoryEvent, { type: T }>> {
  return history.filter((e): e is Extract<HistoryEvent, { type: T }> => e.type === type);
}

/** Returns a copy of history with one anomaly of the given type, or null if this history offers no place for one. */
export function injectAnomaly(source: readonly HistoryEvent[], type: AnomalyType, random: TestRandom): Injection | null {
  const history = structuredClone(source) as HistoryEvent[];
  const afterAllMs = lastTimeMs(history) + 1;
  const acks = ofType(history, 'ack');
  const reads = ofType(history, 'read');
  switch (type) {
    case 'lost': {
      if (acks.length === 0) return null;
      const victim = random.pick(acks);
      const healed = healedAtMs(history);
      const kept = history.filter((e) => !(e.type === 'read' && e.value === victim.value && e.timeMs >= healed));
      return { history: kept, description: `reads of ${victim.value} after healing removed` };
    }
    case 'unexpected': {
      const read: ReadEvent = { type: 'read', consumer: 'intruder', topic: 'chaos', partition: 0, offset: offsetFarAhead, value: 'never-sent', timeMs: afterAllMs };
      history.push(read);
      return { history, description: 'read of a value never sent' };
    }
    case 'duplicate': {
      if (acks.length === 0) return null;
      const copied = random.pick(acks);
      history.push({ type: 'read', consumer: 'intruder', topic: copied.topic, partition: copied.partition, offset: offsetFarAhead, value: copied.value, timeMs: afterAllMs });
      return { history, description: `${copied.value} read again at a second offset` };
    }
    case 'inconsistent-offset': {
      if (reads.length === 0) return null;
      const target = random.pick(reads);
      const value = reads.find((r) => r.value !== target.value)?.value;
      if (value === undefined) return null;
      history.push({ ...target, consumer: 'intruder', value, timeMs: afterAllMs });
      return { history, description: `${target.topic}/${target.partition} offset ${target.offset} read with a second value ${value}` };
    }
    case 'non-monotonic-read': {
      if (reads.length < 2) return null;
      const earlier = random.pick(reads);
      history.push({ ...earlier, timeMs: afterAllMs });
      return { history, description: `${earlier.consumer} read offset ${earlier.offset} again` };
    }
    case 'replica-divergence':
      return divergeReplica(history, random);
    case 'commit-regression': {
      const commits = ofType(history, 'commit').filter((c) => c.offset > 0);
      if (commits.length === 0) return null;
      const last = commits[commits.length - 1];
      const regressed: CommitEvent = { ...last, offset: last.offset - 1, timeMs: afterAllMs };
      history.push(regressed);
      return { history, description: `group ${last.group} committed ${last.offset - 1} after ${last.offset}` };
    }
    case 'real-time':
      return reorderAck(history, acks);
  }
}

/** One replica lags: its prefix ends a record early. */
function divergeReplica(history: HistoryEvent[], random: TestRandom): Injection | null {
  const candidates = ofType(history, 'replica-prefix').filter((p) => p.records !== undefined && p.records.length > 0);
  if (candidates.length === 0) return null;
  const prefix: ReplicaPrefixEvent = random.pick(candidates);
  const records = prefix.records!;
  prefix.endOffset = records[records.length - 1][0];
  records.pop();
  return { history, description: `${prefix.broker} ${prefix.topic}/${prefix.partition} prefix ends at ${prefix.endOffset}` };
}

/**
 * A record whose send begins after a higher offset of its partition was acknowledged, yet it is
 * acknowledged at the lower offset: as if the broker had handed out an offset it had already passed.
 */
function reorderAck(history: HistoryEvent[], acks: AckEvent[]): Injection | null {
  const byPartition = new Map<string, AckEvent[]>();
  for (const ack of acks) {
    const key = `${ack.topic}/${ack.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), ack]);
  }
  for (const partitionAcks of byPartition.values()) {
    if (partitionAcks.length < 2) continue;
    const lower = partitionAcks.reduce((a, b) => (b.offset < a.offset ? b : a));
    const higher = partitionAcks.reduce((a, b) => (b.offset > a.offset ? b : a));
    assert.ok(lower !== higher);
    const send = history.find((e): e is SendEvent => e.type === 'send' && e.value === lower.value)!;
    send.timeMs = higher.timeMs + 1;
    lower.timeMs = Math.max(lower.timeMs, send.timeMs + 1);
    // Keep the file in time order, as a recorder writes it, so the send still precedes its ack.
    history.sort((a, b) => sortTimeMs(a) - sortTimeMs(b));
    return { history, description: `${lower.value} (offset ${lower.offset}) sent after offset ${higher.offset} was acknowledged` };
  }
  return null;
}

function sortTimeMs(event: HistoryEvent): number {
  if (event.type === 'meta') return -Infinity;
  if (event.type === 'nemesis') return event.endMs;
  return event.timeMs;
}
