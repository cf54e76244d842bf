/**
 * Records a cluster test run in the chaos history format (test/chaos/history.ts) and checks it
 * with the chaos checker: every send with a unique value, its outcome (ack with partition and
 * offset, or indeterminate), the faults, a final read of every partition by a real Consumer, and
 * what each replica holds on disk below the high watermark. `assertClean()` fails the test with
 * the first anomalies and keeps the history file for replay.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '../../client/admin.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { Consumer } from '../../consumer/consumer.js';
import type { Producer } from '../../producer/producer.js';
import { check, type CheckResult } from '../chaos/checker.js';
import { HistoryWriter, type HistoryEvent } from '../chaos/history.js';
import { waitUntil, type ClusterHarness } from '../fixtures/cluster-harness.js';
import { readReplica, replicaDirOf } from './replica-files.js';

/** A value's send: which record it is in the run (its sequence number) and its key. */
export interface SentRecord {
  readonly sequence: number;
  readonly key: string;
  readonly value: string;
}

export interface ReplicaComparison {
  /** High watermark per partition (the leader's, at the end). */
  readonly endOffsets: number[];
  /** Offset of the last data record below the high watermark per partition (-1: none); control batches may follow it. */
  readonly lastRecordOffsets: number[];
  /** Brokers whose files were compared, per partition. */
  readonly replicas: number[][];
}

export class ClusterHistory {
  readonly events: HistoryEvent[] = [];
  readonly startedAtMs = Date.now();
  private acknowledged = 0;
  private indeterminate = 0;

  constructor(seed: number, description: string) {
    this.events.push({ type: 'meta', seed, startedAtMs: this.startedAtMs, description });
  }

  get acknowledgedCount(): number {
    return this.acknowledged;
  }

  get indeterminateCount(): number {
    return this.indeterminate;
  }

  /**
   * Sends one record through `producer` (acks=all), recording the send and its outcome. Never
   * rejects: an error is an indeterminate outcome (the record may or may not have been written).
   * Resolves with where it was acknowledged, or undefined.
   */
  async send(producer: Producer, process: string, topic: string, record: SentRecord): Promise<{ partition: number; offset: number } | undefined> {
    this.events.push({ type: 'send', process, topic, value: record.value, timeMs: Date.now() });
    try {
      const [result] = await producer.send({ topic, messages: [{ key: record.key, value: record.value }], acks: 'all' });
      this.events.push({ type: 'ack', process, topic, value: record.value, partition: result.partition, offset: result.offset, timeMs: Date.now() });
      this.acknowledged++;
      return { partition: result.partition, offset: result.offset };
    } catch (error) {
      this.events.push({ type: 'indeterminate', process, value: record.value, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), timeMs: Date.now() });
      this.indeterminate++;
      return undefined;
    }
  }

  nemesis(kind: string, target: string, startMs: number, endMs: number): void {
    this.events.push({ type: 'nemesis', kind, target, startMs, endMs });
  }

  /** Acknowledged records as [partition, offset, value], in acknowledgement order. */
  acks(): Array<{ partition: number; offset: number; value: string }> {
    return this.events.flatMap((event) => (event.type === 'ack' ? [{ partition: event.partition, offset: event.offset, value: event.value }] : []));
  }

  /**
   * Waits until every replica of every partition holds the leader's high watermark on disk, then
   * records each replica's content as a replica-prefix event (unless recordInHistory is false: the
   * checker expects one prefix per replica, at the end) and asserts the stored bytes below the
   * high watermark are identical across replicas.
   */
  async compareReplicas(cluster: ClusterHarness, topic: string, partitions: number, options: { recordInHistory?: boolean; timeoutMs?: number } = {}): Promise<ReplicaComparison> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const admin = new Admin({ brokers: cluster.bootstrap, retry: { ...DEFAULT_RETRY, retries: 30, maxRetryTimeMs: 30_000 } });
    await admin.connect();
    let endOffsets: number[];
    try {
      endOffsets = (await admin.listOffsets(topic, 'latest')).sort((a, b) => a.partition - b.partition).map((entry) => entry.offset);
    } finally {
      await admin.disconnect();
    }
    assert.equal(endOffsets.length, partitions);
    const replicas: number[][] = [];
    const lastRecordOffsets: number[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      const holders = cluster.runningIds().filter((id) => replicaDirOf(cluster.broker(id).dataDir, topic, partition) !== undefined);
      replicas.push(holders);
      const contents = await waitUntil(`every replica of ${topic}/${partition} (brokers ${holders.join(',')}) on disk up to ${endOffsets[partition]}`, timeoutMs, () => {
        const read = holders.map((id) => ({ id, content: readReplica(replicaDirOf(cluster.broker(id).dataDir, topic, partition)!, endOffsets[partition]) }));
        return read.every((entry) => entry.content.logEndOffset >= endOffsets[partition]) ? read : undefined;
      });
      for (const { id, content } of contents) {
        // The checker takes one prefix per replica, after healing: a comparison mid-run only asserts.
        if (options.recordInHistory === false) break;
        this.events.push({ type: 'replica-prefix', broker: `broker-${id}`, topic, partition, endOffset: endOffsets[partition], records: content.records, timeMs: Date.now() });
      }
      const [first, ...rest] = contents;
      lastRecordOffsets.push(first.content.records.at(-1)?.[0] ?? -1);
      for (const other of rest) {
        assert.ok(
          first.content.bytes.equals(other.content.bytes),
          `${topic}/${partition}: broker ${first.id} and broker ${other.id} hold different bytes below ${endOffsets[partition]} (${first.content.bytes.length} and ${other.content.bytes.length} bytes)`,
        );
      }
    }
    return { endOffsets, lastRecordOffsets, replicas };
  }

  /**
   * Reads every partition from the earliest offset with a real Consumer until it has read the
   * last record below the high watermark (from compareReplicas), and records the reads. The
   * checker calls an acknowledged value lost when this read misses it. Fails if the end is not
   * reached in timeoutMs.
   */
  async readAll(brokers: readonly string[], topic: string, comparison: ReplicaComparison, consumerName = 'final-reader', timeoutMs = 60_000): Promise<number> {
    const { endOffsets, lastRecordOffsets } = comparison;
    const consumer = new Consumer({ brokers: [...brokers], maxWaitMs: 100, retry: { initialRetryMs: 50, maxRetryMs: 500 } });
    await consumer.connect();
    const partitionsLeft = new Set(lastRecordOffsets.flatMap((last, partition) => (last >= 0 ? [partition] : [])));
    let read = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void consumer.disconnect();
    }, timeoutMs);
    try {
      await consumer.assign(endOffsets.map((_, partition) => ({ topic, partition, offset: 'earliest' as const })));
      if (partitionsLeft.size > 0) {
        for await (const message of consumer) {
          if (message.offset < endOffsets[message.partition]) {
            this.events.push({ type: 'read', consumer: consumerName, topic, partition: message.partition, offset: message.offset, value: message.value === null ? '' : message.value.toString(), timeMs: Date.now() });
            read++;
          }
          if (message.offset >= lastRecordOffsets[message.partition]) partitionsLeft.delete(message.partition);
          if (partitionsLeft.size === 0) break;
        }
      }
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    assert.ok(!timedOut && partitionsLeft.size === 0, `the final read reached the end of partitions other than ${[...partitionsLeft].join(', ')} within ${timeoutMs} ms`);
    return read;
  }

  /** Runs the chaos checker over the history (idempotence off: a retried record may be stored twice). */
  check(): CheckResult {
    return check(this.events, { idempotence: false });
  }

  /** Fails with the first anomalies (and the path of the history file, kept for replay) when the checker finds any. */
  assertClean(): CheckResult {
    const result = this.check();
    if (result.anomalies.length === 0) return result;
    const dir = mkdtempSync(join(tmpdir(), 'brook-cluster-history-'));
    const path = join(dir, 'history.jsonl');
    const writer = new HistoryWriter(path);
    for (const event of this.events) writer.append(event);
    writer.close();
    const first = result.anomalies
      .slice(0, 10)
      .map((anomaly) => `  ${anomaly.type}: ${anomaly.message}`)
      .join('\n');
    assert.fail(`${result.anomalies.length} anomalies (${JSON.stringify(result.counts.anomaliesByType)}); history kept at ${path}\n${first}`);
  }
}

/**
 * Checks that, per partition, the acknowledged records sit in the log in the order they were
 * sent (one producer, one request in flight per partition): sorted by offset, their sequence
 * numbers only grow.
 */
export function assertAcknowledgedInSendOrder(acks: ReadonlyArray<{ partition: number; offset: number; value: string }>, sequenceOf: (value: string) => number): void {
  const byPartition = new Map<number, Array<{ offset: number; sequence: number }>>();
  for (const ack of acks) {
    let list = byPartition.get(ack.partition);
    if (list === undefined) byPartition.set(ack.partition, (list = []));
    list.push({ offset: ack.offset, sequence: sequenceOf(ack.value) });
  }
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i].offset > list[i - 1].offset, `partition ${partition}: two acknowledgements name offset ${list[i].offset}`);
      assert.ok(list[i].sequence > list[i - 1].sequence, `partition ${partition}: record ${list[i].sequence} at offset ${list[i].offset} follows record ${list[i - 1].sequence} at ${list[i - 1].offset}`);
    }
  }
}
