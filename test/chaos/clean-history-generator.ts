/**
 * Generates histories of a correct system from a seed: producers send unique values, the log of
 * each partition assigns offsets in append order (with gaps where control batches would sit),
 * acknowledgements follow appends, consumers read prefixes in offset order (sometimes before the
 * acknowledgement arrives), a group commits rising offsets, faults come and go, and after healing a
 * final reader reads everything and every replica reports the same committed prefix. The checker
 * must find nothing in these; mutations (anomaly-injector.ts) then break one rule at a time.
 */
import { TestRandom } from '../fixtures/test-random.js';
import { prefixHash, type HistoryEvent } from './history.js';

export interface CleanHistoryOptions {
  seed: number;
  sends: number;
  /** With idempotence off, some retries store a value twice. */
  idempotence: boolean;
  partitions?: number;
  producers?: number;
  liveConsumers?: number;
  brokers?: number;
}

interface Append {
  value: string;
  partition: number;
  timeMs: number;
  offset: number;
}

const topic = 'chaos';
const faultKinds = ['kill', 'pause', 'network-partition', 'clock-skew'];

/** A clean history, events in the order a recorder would have written them (by time). */
export function generateCleanHistory(options: CleanHistoryOptions): HistoryEvent[] {
  const random = new TestRandom(options.seed);
  const partitions = options.partitions ?? 1 + random.below(4);
  const producers = options.producers ?? 1 + random.below(3);
  const brokers = options.brokers ?? 3;
  const events: Array<{ sortMs: number; event: HistoryEvent }> = [];
  const emit = (sortMs: number, event: HistoryEvent) => events.push({ sortMs, event });
  emit(-Infinity, { type: 'meta', seed: options.seed, startedAtMs: 0, description: 'generated clean history' });

  // Sends, their outcomes, and the appends that the log will order.
  const appends: Append[] = [];
  const acked: Array<{ value: string; process: string; lastAppend: Append }> = [];
  let clockMs = 0;
  for (let i = 0; i < options.sends; i++) {
    clockMs += random.below(3);
    const process = `producer-${random.below(producers)}`;
    const value = `v${i}`;
    const partition = random.below(partitions);
    emit(clockMs, { type: 'send', process, topic, partition: random.chance(0.5) ? partition : undefined, value, timeMs: clockMs });
    const roll = random.below(100);
    if (roll < 5) {
      const timeMs = clockMs + 1 + random.below(5);
      emit(timeMs, { type: 'fail', process, value, error: 'NOT_ENOUGH_REPLICAS', timeMs });
      continue;
    }
    const first: Append = { value, partition, timeMs: clockMs + 1 + random.below(5), offset: -1 };
    const writes = roll < 15 ? (random.chance(0.5) ? [first] : []) : [first];
    if (writes.length > 0) appends.push(first);
    let lastAppend = first;
    if (!options.idempotence && roll >= 15 && random.chance(0.05)) {
      // A retry after a lost response stores the value again; the acknowledgement names the retry.
      lastAppend = { value, partition, timeMs: first.timeMs + 1 + random.below(10), offset: -1 };
      appends.push(lastAppend);
    }
    if (roll < 15) {
      const timeMs = Math.max(clockMs + 30, first.timeMs + 1);
      emit(timeMs, { type: 'indeterminate', process, value, error: 'REQUEST_TIMED_OUT', timeMs });
    } else {
      acked.push({ value, process, lastAppend });
    }
  }

  // The log orders appends by time; a control batch now and then leaves a gap in offsets.
  appends.sort((a, b) => a.timeMs - b.timeMs);
  const logs: Append[][] = Array.from({ length: partitions }, () => []);
  const nextOffset = new Array<number>(partitions).fill(0);
  for (const append of appends) {
    if (random.chance(0.03)) nextOffset[append.partition]++;
    append.offset = nextOffset[append.partition]++;
    logs[append.partition].push(append);
  }
  for (const { value, process, lastAppend } of acked) {
    const timeMs = lastAppend.timeMs + 1 + random.below(8);
    emit(timeMs, { type: 'ack', process, topic, value, partition: lastAppend.partition, offset: lastAppend.offset, timeMs });
  }
  const endMs = Math.max(clockMs, appends.length > 0 ? appends[appends.length - 1].timeMs : 0) + 20;

  const faults = random.below(4);
  let healedAtMs = 0;
  for (let i = 0; i < faults; i++) {
    const startMs = random.below(endMs);
    const faultEndMs = startMs + 1 + random.below(200);
    healedAtMs = Math.max(healedAtMs, faultEndMs);
    emit(faultEndMs, { type: 'nemesis', kind: random.pick(faultKinds), target: `broker-${random.below(brokers)}`, startMs, endMs: faultEndMs });
  }

  emitLiveReadsAndCommits(random, logs, options.liveConsumers ?? 2, emit);

  // After healing, one reader takes every partition by assign from the start.
  const finalStartMs = Math.max(endMs, healedAtMs) + 100;
  for (let p = 0; p < partitions; p++) {
    logs[p].forEach((append, i) => {
      const timeMs = finalStartMs + p * 0.5 + i * 1e-6;
      emit(timeMs, { type: 'read', consumer: 'final-reader', topic, partition: p, offset: append.offset, value: append.value, timeMs });
    });
    const records = logs[p].map((a): [number, string] => [a.offset, a.value]);
    const prefixEndOffset = nextOffset[p];
    for (let b = 0; b < brokers; b++) {
      const timeMs = finalStartMs + partitions + 1;
      const byHash = b === brokers - 1;
      emit(timeMs, {
        type: 'replica-prefix',
        broker: `broker-${b}`,
        topic,
        partition: p,
        endOffset: prefixEndOffset,
        ...(byHash ? { hash: prefixHash(records) } : { records }),
        timeMs,
      });
    }
  }
  // Stable sort: ties keep generation order, which is each process's own order.
  events.sort((a, b) => a.sortMs - b.sortMs);
  return events.map((e) => e.event);
}

/** Consumers reading partition prefixes in offset order as records commit, and a group committing. */
function emitLiveReadsAndCommits(
  random: TestRandom,
  logs: Append[][],
  liveConsumers: number,
  emit: (sortMs: number, event: HistoryEvent) => void,
): void {
  for (let c = 0; c < liveConsumers; c++) {
    const consumer = `consumer-${c}`;
    for (let p = 0; p < logs.length; p++) {
      if (!random.chance(0.7)) continue;
      const start = random.below(Math.max(1, logs[p].length));
      const stop = start + random.below(logs[p].length - start + 1);
      let timeMs = 0;
      for (let i = start; i < stop; i++) {
        // A read sees a record once it is committed, which may be before its acknowledgement arrives.
        timeMs = Math.max(timeMs + 0.001, logs[p][i].timeMs + random.below(3) + 0.5);
        emit(timeMs, { type: 'read', consumer, topic, partition: p, offset: logs[p][i].offset, value: logs[p][i].value, timeMs });
      }
    }
  }
  for (let p = 0; p < logs.length; p++) {
    let committed = 0;
    for (const append of logs[p]) {
      if (!random.chance(0.2)) continue;
      committed = Math.max(committed, append.offset + 1);
      const timeMs = append.timeMs + 2;
      emit(timeMs, { type: 'commit', group: 'group-0', topic, partition: p, offset: committed, timeMs });
    }
  }
}
