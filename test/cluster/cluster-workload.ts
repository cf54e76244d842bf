/**
 * The load the cluster tests put on a cluster: keyed records with unique values sent one send()
 * each (so every record has its own recorded outcome; the producer still batches them), a bounded
 * number outstanding, and a raw Produce straight to one broker that bypasses the client's routing
 * and retries (to see exactly what a given broker answers).
 */
import { BrokerConnection } from '../../client/broker-connection.js';
import { loadBrookService, type WireProduceResult } from '../../client/service.js';
import type { Producer } from '../../producer/producer.js';
import { encodeBatch } from '../../record/record-batch.js';
import type { ClusterHistory, SentRecord } from './cluster-history.js';

/** Keys cycle over this many values, so every partition gets records of many keys. */
export const WORKLOAD_KEYS = 1000;

export function recordOf(sequence: number): SentRecord {
  return { sequence, key: `key-${sequence % WORKLOAD_KEYS}`, value: `value-${sequence}` };
}

export function sequenceOf(value: string): number {
  return Number(value.slice('value-'.length));
}

export interface ProduceOptions {
  readonly history: ClusterHistory;
  readonly producer: Producer;
  readonly process: string;
  readonly topic: string;
  /** Sequence numbers first..first+count-1. */
  readonly first: number;
  readonly count: number;
  /** Sends outstanding at once. */
  readonly inFlightMax: number;
  /** Checked before each send with its sequence number: true ends the run early. */
  readonly stop?: (sequence: number) => boolean;
}

/** Sends the records, at most inFlightMax outstanding; resolves when every send has an outcome. */
export async function produceRecords(options: ProduceOptions): Promise<void> {
  const outstanding = new Set<Promise<void>>();
  for (let sequence = options.first; sequence < options.first + options.count; sequence++) {
    if (options.stop?.(sequence) === true) break;
    while (outstanding.size >= options.inFlightMax) await Promise.race(outstanding);
    const sent: Promise<void> = options.history.send(options.producer, options.process, options.topic, recordOf(sequence)).then(() => {
      outstanding.delete(sent);
    });
    outstanding.add(sent);
  }
  await Promise.all(outstanding);
}

/**
 * One Produce request (acks=all) of `values` to `partition`, sent to the broker at `address` and
 * nowhere else. Resolves with the broker's answer, or with the transport error's message.
 */
export async function produceDirect(address: string, topic: string, partition: number, values: readonly string[], timeoutMs: number): Promise<WireProduceResult | { error: string }> {
  const service = loadBrookService();
  const connection = new BrokerConnection(address, service.client);
  try {
    const batch = encodeBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), { nowMs: Date.now() });
    const [result] = await service.produce(connection, 'ACKS_ALL', timeoutMs, new Map([[topic, [{ partition, recordBatches: [batch] }]]]));
    return result;
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  } finally {
    connection.close();
  }
}
