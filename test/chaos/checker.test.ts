import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anomalyTypes, check, type Anomaly, type AnomalyType, type CheckResult } from './checker.js';
import { HistoryFormatError, parseHistoryLine, prefixHash, type HistoryEvent } from './history.js';
import { TestRandom } from '../fixtures/test-random.js';
import { generateCleanHistory } from './clean-history-generator.js';
import { injectAnomaly } from './anomaly-injector.js';

const topic = 't';

/** Terse builders so each history reads like a transcript. */
const send = (value: string, timeMs: number, process = 'p1'): HistoryEvent => ({ type: 'send', process, topic, value, timeMs });
const ack = (value: string, partition: number, offset: number, timeMs: number, process = 'p1'): HistoryEvent => ({
  type: 'ack',
  process,
  topic,
  value,
  partition,
  offset,
  timeMs,
});
const indeterminate = (value: string, timeMs: number): HistoryEvent => ({ type: 'indeterminate', process: 'p1', value, error: 'REQUEST_TIMED_OUT', timeMs });
const fail = (value: string, timeMs: number): HistoryEvent => ({ type: 'fail', process: 'p1', value, error: 'NOT_ENOUGH_REPLICAS', timeMs });
const read = (consumer: string, partition: number, offset: number, value: string, timeMs: number): HistoryEvent => ({
  type: 'read',
  consumer,
  topic,
  partition,
  offset,
  value,
  timeMs,
});
const commit = (partition: number, offset: number, timeMs: number): HistoryEvent => ({ type: 'commit', group: 'g', topic, partition, offset, timeMs });
const nemesis = (kind: string, startMs: number, endMs: number): HistoryEvent => ({ type: 'nemesis', kind, target: 'broker-1', startMs, endMs });
const prefix = (broker: string, partition: number, records: Array<[number, string]>, endOffset = records.length): HistoryEvent => ({
  type: 'replica-prefix',
  broker,
  topic,
  partition,
  endOffset,
  records,
  timeMs: 1000,
});

/** Three values acknowledged at 0..2 of partition 0, read during and after a fault, committed, replicas agree. */
function cleanHistory(): HistoryEvent[] {
  return [
    { type: 'meta', seed: 42, startedAtMs: 0 },
    send('a', 1),
    send('b', 2, 'p2'),
    ack('a', 0, 0, 5),
    ack('b', 0, 1, 6, 'p2'),
    read('c1', 0, 0, 'a', 7),
    commit(0, 1, 8),
    send('c', 9),
    read('c1', 0, 1, 'b', 10),
    commit(0, 2, 11),
    ack('c', 0, 2, 12),
    nemesis('kill', 3, 20),
    read('final', 0, 0, 'a', 30),
    read('final', 0, 1, 'b', 31),
    read('final', 0, 2, 'c', 32),
    prefix('b1', 0, [[0, 'a'], [1, 'b'], [2, 'c']]),
    prefix('b2', 0, [[0, 'a'], [1, 'b'], [2, 'c']]),
    { type: 'replica-prefix', broker: 'b3', topic, partition: 0, endOffset: 3, hash: prefixHash([[0, 'a'], [1, 'b'], [2, 'c']]), timeMs: 1000 },
  ];
}

function only(result: CheckResult, type: AnomalyType): Anomaly[] {
  const others = result.anomalies.filter((a) => a.type !== type);
  assert.deepEqual(others, [], `only ${type} expected`);
  const found = result.anomalies.filter((a) => a.type === type);
  assert.ok(found.length > 0, `${type} not flagged`);
  return found;
}

/** The clean history with events inserted before the replica prefixes (index 15). */
function cleanWith(...extra: HistoryEvent[]): HistoryEvent[] {
  const history = cleanHistory();
  history.splice(15, 0, ...extra);
  return history;
}

test('the clean history has no anomalies and its counts add up', () => {
  const result = check(cleanHistory(), { idempotence: true });
  assert.deepEqual(result.anomalies, []);
  assert.equal(result.counts.sent, 3);
  assert.equal(result.counts.acknowledged, 3);
  assert.equal(result.counts.valuesRead, 3);
  assert.equal(result.counts.lost, 0);
  assert.equal(result.counts.duplicates, 0);
  assert.deepEqual(result.counts.faultsByKind, { kill: 1 });
  assert.equal(result.counts.healedAtMs, 20);
  assert.deepEqual(result.counts.operations, { send: 3, ack: 3, fail: 0, indeterminate: 0, read: 5, commit: 2 });
});

test('lost: acknowledged and never read', () => {
  const history = cleanWith(send('d', 13), ack('d', 0, 3, 14));
  const [lost] = only(check(history, { idempotence: true }), 'lost');
  assert.deepEqual(lost.details, {
    value: 'd',
    partition: 't/0',
    offset: 3,
    process: 'p1',
    sendTimeMs: 13,
    ackTimeMs: 14,
    lastReadTimeMs: null,
    healedAtMs: 20,
  });
  assert.equal(check(history, { idempotence: true }).counts.lost, 1);
});

test('lost: read during the fault but not after healing', () => {
  const history = cleanWith(send('d', 13), ack('d', 0, 3, 14), read('c1', 0, 3, 'd', 15));
  const [lost] = only(check(history, { idempotence: true }), 'lost');
  assert.equal(lost.details.value, 'd');
  assert.equal(lost.details.lastReadTimeMs, 15);
  assert.match(lost.message, /after healing/);
});

test('unexpected: a value read that was never sent, and one whose send failed', () => {
  const history = cleanWith(read('final', 0, 3, 'ghost', 33), send('e', 13), fail('e', 14), read('final', 0, 4, 'e', 34));
  const found = only(check(history, { idempotence: true }), 'unexpected');
  assert.deepEqual(
    found.map((a) => [a.details.value, a.details.offset, a.details.outcome]),
    [
      ['ghost', 3, 'none'],
      ['e', 4, 'fail'],
    ],
  );
  assert.equal(check(history, { idempotence: true }).counts.unexpected, 2);
});

test('duplicate: a value stored at two offsets is an anomaly with idempotence on, only counted with it off', () => {
  const history = cleanWith(read('final', 0, 3, 'b', 33));
  const [duplicate] = only(check(history, { idempotence: true }), 'duplicate');
  assert.deepEqual(duplicate.details.positions, [
    ['t/0', 1],
    ['t/0', 3],
  ]);
  const withoutIdempotence = check(history, { idempotence: false });
  assert.deepEqual(withoutIdempotence.anomalies, []);
  assert.equal(withoutIdempotence.counts.duplicates, 1);
  assert.equal(withoutIdempotence.counts.duplicatedValues, 1);
});

test('inconsistent offset: two values read at one offset', () => {
  const history = cleanWith(send('x', 13), indeterminate('x', 40), read('c2', 0, 1, 'x', 41));
  const [inconsistent] = only(check(history, { idempotence: false }), 'inconsistent-offset');
  assert.deepEqual(inconsistent.details, {
    partition: 't/0',
    offset: 1,
    value: 'b',
    source: 'ack by p2',
    timeMs: 6,
    otherValue: 'x',
    otherSource: 'read by c2',
    otherTimeMs: 41,
  });
});

test('inconsistent offset: acknowledged at one offset, read only at another', () => {
  const history = cleanWith(send('d', 13), ack('d', 0, 4, 14), read('final', 0, 3, 'd', 33));
  const [inconsistent] = only(check(history, { idempotence: true }), 'inconsistent-offset');
  assert.equal(inconsistent.details.value, 'd');
  assert.equal(inconsistent.details.offset, 4);
  assert.deepEqual(inconsistent.details.readAt, [['t/0', 3]]);
});

test('inconsistent offset: a replica prefix disagrees with what was read', () => {
  const history = cleanHistory().map((e) => (e.type === 'replica-prefix' && e.records !== undefined ? { ...e, records: [...e.records] } : e));
  history.push(prefix('b4', 0, [[0, 'a'], [1, 'z'], [2, 'c']]));
  const result = check(history, { idempotence: true });
  assert.deepEqual(result.counts.anomaliesByType['inconsistent-offset'], 1);
  assert.equal(result.anomalies.find((a) => a.type === 'inconsistent-offset')!.details.otherSource, 'replica b4');
});

test('non-monotonic read: a consumer goes back in one partition', () => {
  const history = cleanWith(read('c1', 0, 0, 'a', 15));
  const [anomaly] = only(check(history, { idempotence: true }), 'non-monotonic-read');
  assert.deepEqual(anomaly.details, { consumer: 'c1', partition: 't/0', offset: 0, previousOffset: 1, value: 'a', timeMs: 15, previousTimeMs: 10 });
});

test('non-monotonic read: reading the same offset twice is a redelivery', () => {
  const [anomaly] = only(check(cleanWith(read('c1', 0, 1, 'b', 15)), { idempotence: true }), 'non-monotonic-read');
  assert.equal(anomaly.details.offset, 1);
  assert.equal(anomaly.details.previousOffset, 1);
});

test('replica divergence: same records, different committed end (a control batch past the last record)', () => {
  const history = cleanHistory();
  history.push(prefix('b4', 0, [[0, 'a'], [1, 'b'], [2, 'c']], 4));
  const [anomaly] = only(check(history, { idempotence: true }), 'replica-divergence');
  assert.equal(anomaly.details.otherEndOffset, 4);
  assert.equal(anomaly.details.firstDifferentOffset, null);
});

test('replica divergence: one replica lags, another holds a different hash', () => {
  const lagging = cleanHistory();
  lagging.push(prefix('b4', 0, [[0, 'a'], [1, 'b']]));
  const [lag] = only(check(lagging, { idempotence: true }), 'replica-divergence');
  assert.equal(lag.details.otherBroker, 'b4');
  assert.equal(lag.details.otherEndOffset, 2);
  assert.equal(lag.details.firstDifferentOffset, 2);

  const otherHash = cleanHistory();
  otherHash.push({ type: 'replica-prefix', broker: 'b5', topic, partition: 0, endOffset: 3, hash: 'feed', timeMs: 1000 });
  const [differs] = only(check(otherHash, { idempotence: true }), 'replica-divergence');
  assert.equal(differs.details.otherHash, 'feed');
  assert.equal(differs.details.firstDifferentOffset, null);
});

test('commit regression: a group commits a lower offset than before', () => {
  const history = cleanWith(commit(0, 1, 40));
  const [regression] = only(check(history, { idempotence: true }), 'commit-regression');
  assert.deepEqual(regression.details, { group: 'g', partition: 't/0', offset: 1, previousOffset: 2, timeMs: 40, previousTimeMs: 11 });
});

test('real time: a record sent after a higher offset was acknowledged cannot get the lower offset', () => {
  // In partition 1, offsets 0 and 5 are acknowledged by 15; 'late' is sent at 16 and gets offset 3,
  // which the log had already passed when 5 was acknowledged.
  const history = cleanWith(
    send('p', 13),
    ack('p', 1, 0, 14),
    send('q', 13),
    ack('q', 1, 5, 15),
    send('late', 16),
    ack('late', 1, 3, 17),
    read('final', 1, 0, 'p', 40),
    read('final', 1, 3, 'late', 41),
    read('final', 1, 5, 'q', 42),
  );
  const [anomaly] = only(check(history, { idempotence: true }), 'real-time');
  assert.deepEqual(anomaly.details, {
    value: 'late',
    partition: 't/1',
    offset: 3,
    sendTimeMs: 16,
    ackTimeMs: 17,
    earlierValue: 'q',
    earlierOffset: 5,
    earlierAckTimeMs: 15,
  });
});

test('real time: an offset handed out again after its acknowledgement is flagged (and inconsistent)', () => {
  const history = cleanWith(send('again', 13), ack('again', 0, 2, 14), read('c3', 0, 2, 'again', 33));
  const result = check(history, { idempotence: false });
  const realTime = result.anomalies.filter((a) => a.type === 'real-time');
  assert.equal(realTime.length, 1);
  assert.equal(realTime[0].details.earlierValue, 'c');
  assert.equal(result.counts.anomaliesByType['inconsistent-offset'], 1);
  assert.equal(result.anomalies.length, 2);
});

test('not anomalies: indeterminate never read, indeterminate read, read before its ack, concurrent sends acknowledged out of order', () => {
  const history = cleanWith(
    send('never', 13),
    indeterminate('never', 50),
    send('maybe', 13),
    indeterminate('maybe', 50),
    // Read before the acknowledgement came back.
    send('early', 14),
    read('c1', 0, 3, 'early', 15),
    ack('early', 0, 3, 16),
    // Concurrent sends: offset 5's ack finished before offset 4's, but after 4's send began.
    send('s4', 17),
    send('s5', 17),
    ack('s5', 0, 5, 19),
    ack('s4', 0, 4, 20),
    // A send that began exactly when a higher offset's ack finished is not "after" it.
    send('s7', 17),
    ack('s7', 0, 7, 20),
    send('s6', 20),
    ack('s6', 0, 6, 21),
    read('final', 0, 3, 'early', 33),
    read('final', 0, 4, 's4', 34),
    read('final', 0, 5, 's5', 35),
    read('final', 0, 6, 's6', 36),
    read('final', 0, 7, 's7', 37),
    read('final', 0, 8, 'maybe', 38),
    // A second consumer reading the same offsets, and a commit repeating the last offset.
    read('c2', 0, 0, 'a', 38),
    commit(0, 2, 39),
  );
  const result = check(history, { idempotence: true });
  assert.deepEqual(result.anomalies, []);
  assert.equal(result.counts.indeterminate, 2);
  assert.equal(result.counts.indeterminateRead, 1);
  assert.equal(result.counts.lost, 0);
});

test('a malformed history is a HistoryFormatError naming the event', () => {
  assert.throws(() => check([send('a', 1), send('a', 2)], { idempotence: true }), (error: unknown) => {
    assert.ok(error instanceof HistoryFormatError);
    assert.equal(error.lineNumber, 2);
    return true;
  });
  assert.throws(() => check([ack('a', 0, 0, 1)], { idempotence: true }), HistoryFormatError);
  assert.throws(() => check([send('a', 1), ack('a', 0, 0, 2), indeterminate('a', 3)], { idempotence: true }), HistoryFormatError);
});

test('anomalies kept are bounded, their counts stay exact', () => {
  const history: HistoryEvent[] = [];
  for (let i = 0; i < 50; i++) history.push(read('c', 0, i, `ghost-${i}`, i));
  const result = check(history, { idempotence: true, anomaliesKeptMax: 10 });
  assert.equal(result.anomalies.length, 10);
  assert.equal(result.counts.anomaliesByType.unexpected, 50);
});

const randomizedSeeds = 60;

test(`randomized: ${randomizedSeeds} seeded clean histories check clean, and every injected anomaly is caught`, () => {
  const caught = new Map<AnomalyType, number>(anomalyTypes.map((type) => [type, 0]));
  for (let seed = 1; seed <= randomizedSeeds; seed++) {
    const idempotence = seed % 2 === 0;
    const history = generateCleanHistory({ seed, sends: 150, idempotence });
    const clean = check(history, { idempotence });
    assert.deepEqual(clean.anomalies, [], `seed ${seed}: clean history flagged`);
    assert.ok(clean.counts.acknowledged > 0 && clean.counts.valuesRead > 0, `seed ${seed}: history too thin`);
    if (!idempotence) assert.equal(clean.counts.anomaliesByType.duplicate, 0);

    const random = new TestRandom(seed * 7919);
    for (const injectedType of anomalyTypes) {
      const injection = injectAnomaly(history, injectedType, random);
      assert.ok(injection !== null, `seed ${seed}: no place to inject ${injectedType}`);
      // Duplicates are anomalies only with idempotence on, so the injected copy is checked with it on.
      const result = check(injection.history, { idempotence: injectedType === 'duplicate' ? true : idempotence });
      assert.ok(
        result.anomalies.some((a) => a.type === injectedType),
        `seed ${seed}: ${injectedType} not caught (${injection.description})`,
      );
      caught.set(injectedType, caught.get(injectedType)! + 1);
    }
  }
  for (const type of anomalyTypes) assert.ok(caught.get(type)! >= randomizedSeeds, `${type} injected too rarely`);
});

test('randomized: a duplicate stored by a retry is clean with idempotence off and an anomaly with it on', () => {
  let seedsWithDuplicates = 0;
  for (let seed = 100; seed < 110; seed++) {
    const history = generateCleanHistory({ seed, sends: 300, idempotence: false });
    const off = check(history, { idempotence: false });
    assert.deepEqual(off.anomalies, []);
    const on = check(history, { idempotence: true });
    assert.equal(on.counts.anomaliesByType.duplicate, off.counts.duplicatedValues);
    if (off.counts.duplicates > 0) seedsWithDuplicates++;
  }
  assert.ok(seedsWithDuplicates >= 5);
});

test('the worked example in README.md gives the anomalies the README describes', () => {
  // Compiled tests run from an output directory: find the project root, then the source README.
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const readme = readFileSync(join(root, 'test', 'chaos', 'README.md'), 'utf8');
  const block = /```jsonl\n([\s\S]*?)```/.exec(readme);
  assert.ok(block !== null, 'README has no jsonl example');
  const history = block[1].trim().split('\n').map((line, i) => parseHistoryLine(line, i + 1));
  const result = check(history, { idempotence: false });
  assert.deepEqual(result.anomalies.map((a) => a.type).sort(), ['commit-regression', 'inconsistent-offset', 'lost', 'real-time', 'replica-divergence']);
  const lost = result.anomalies.find((a) => a.type === 'lost')!;
  assert.equal(lost.details.value, 'b');
  assert.equal(lost.details.lastReadTimeMs, 6);
  assert.equal(result.anomalies.find((a) => a.type === 'replica-divergence')!.details.firstDifferentOffset, 1);
});
