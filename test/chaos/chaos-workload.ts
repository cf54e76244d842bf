/**
 * The load of a chaos run: several producers sending unique values with acks=all (each value its
 * own send(), so each has its own recorded outcome; the producer still batches them), and
 * consumers that read every partition by assign from the earliest offset, recording each read.
 * A consumer whose client fails is replaced by a new client that resumes after the last offset
 * it read, under the same name, so the non-monotonic-read check spans the replacement.
 *
 * A consumer group (`chaos-group`, a few members subscribed to the topic from the beginning)
 * reads too and commits, after each batch, the offset after its last message; every successful
 * commit is a commit event (the commit-regression check). A member's reads are recorded under its
 * name and an incarnation number that grows with every assignment, since a partition handed back
 * to a member restarts at the committed offset, which may lie below what it read before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer } from '../../consumer/consumer.js';
import { Producer } from '../../producer/producer.js';
import type { ChaosRecorder } from './chaos-recorder.js';

export interface ChaosWorkloadOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly producers: number;
  readonly consumers: number;
  /** Sends outstanding per producer at once. */
  readonly inFlightPerProducerMax: number;
  /** Sends started per producer per second at most. */
  readonly sendsPerSecondPerProducer: number;
  /** Members of the consumer group (0: no group). */
  readonly groupMembers: number;
}

export const CHAOS_GROUP = 'chaos-group';
/** A member that has not stopped this long after disconnect() was asked is left behind. */
const GROUP_MEMBER_STOP_TIMEOUT_MS = 15_000;

/** How long one send may take before it is indeterminate (the producer gives up). */
const DELIVERY_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 5_000;
/** Sends of one producer between two checks of the send rate. */
const RATE_STEP_SENDS = 10;

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class ChaosWorkload {
  private stopProducing = false;
  private stopConsuming = false;
  private readonly producing: Promise<void>[] = [];
  private readonly consuming: Promise<void>[] = [];
  private readonly liveConsumers = new Set<Consumer>();
  private sentTotal = 0;
  private readsTotal = 0;
  private consumerRestartsTotal = 0;
  private commitsTotal = 0;

  constructor(
    private readonly options: ChaosWorkloadOptions,
    private readonly recorder: ChaosRecorder,
  ) {}

  get sent(): number {
    return this.sentTotal;
  }

  get reads(): number {
    return this.readsTotal;
  }

  get consumerRestarts(): number {
    return this.consumerRestartsTotal;
  }

  get commits(): number {
    return this.commitsTotal;
  }

  start(): void {
    for (let index = 1; index <= this.options.producers; index++) this.producing.push(this.produce(`producer-${index}`));
    for (let index = 1; index <= this.options.consumers; index++) this.consuming.push(this.consume(`consumer-${index}`));
    for (let index = 1; index <= this.options.groupMembers; index++) this.consuming.push(this.groupMember(`group-member-${index}`));
  }

  /** Stops starting sends and waits until every send has an outcome (bounded by the delivery timeout). */
  async stopProducers(): Promise<void> {
    this.stopProducing = true;
    await Promise.all(this.producing);
  }

  async stopConsumers(): Promise<void> {
    this.stopConsuming = true;
    const stopped = Promise.all([...this.liveConsumers].map((consumer) => consumer.disconnect().catch(() => undefined))).then(() => Promise.all(this.consuming));
    await Promise.race([stopped, sleep(GROUP_MEMBER_STOP_TIMEOUT_MS)]);
  }

  private async produce(name: string): Promise<void> {
    const producer = new Producer({
      brokers: [...this.options.brokers],
      clientId: name,
      acks: 'all',
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      deliveryTimeoutMs: DELIVERY_TIMEOUT_MS,
      retry: { retries: 1_000, initialRetryMs: 50, maxRetryMs: 1_000, maxRetryTimeMs: DELIVERY_TIMEOUT_MS },
    });
    while (!this.stopProducing) {
      try {
        await producer.connect();
        break;
      } catch {
        await sleep(500);
      }
    }
    const outstanding = new Set<Promise<void>>();
    const startedAtMs = Date.now();
    let sequence = 0;
    while (!this.stopProducing) {
      while (outstanding.size >= this.options.inFlightPerProducerMax) await Promise.race(outstanding);
      if (sequence % RATE_STEP_SENDS === 0) {
        const dueAtMs = startedAtMs + (sequence * 1000) / this.options.sendsPerSecondPerProducer;
        if (dueAtMs > Date.now()) await sleep(dueAtMs - Date.now());
        if (this.stopProducing) break;
      }
      const value = `${name}-${sequence}`;
      const key = `key-${sequence % 997}`;
      sequence++;
      this.sentTotal++;
      const sent: Promise<void> = this.sendOne(producer, name, key, value).then(() => {
        outstanding.delete(sent);
      });
      outstanding.add(sent);
    }
    await Promise.all(outstanding);
    await producer.disconnect().catch(() => undefined);
  }

  private async sendOne(producer: Producer, process: string, key: string, value: string): Promise<void> {
    const topic = this.options.topic;
    this.recorder.record({ type: 'send', process, topic, value, timeMs: Date.now() });
    try {
      const [result] = await producer.send({ topic, messages: [{ key, value }], acks: 'all' });
      this.recorder.record({ type: 'ack', process, topic, value, partition: result.partition, offset: result.offset, timeMs: Date.now() });
    } catch (error) {
      // Without idempotence no client error proves the record absent: a timeout, a lost
      // connection or a deposed leader may all follow a write that a majority holds.
      this.recorder.record({ type: 'indeterminate', process, value, error: errorText(error), timeMs: Date.now() });
    }
  }

  private async consume(name: string): Promise<void> {
    const nextOffsets = new Map<number, number>();
    while (!this.stopConsuming) {
      const consumer = new Consumer({ brokers: [...this.options.brokers], clientId: name, maxWaitMs: 200, requestTimeoutMs: REQUEST_TIMEOUT_MS, retry: { initialRetryMs: 50, maxRetryMs: 1_000 } });
      this.liveConsumers.add(consumer);
      try {
        await consumer.connect();
        await consumer.assign(
          Array.from({ length: this.options.partitions }, (_, partition) => ({ topic: this.options.topic, partition, offset: nextOffsets.get(partition) ?? ('earliest' as const) })),
        );
        for await (const message of consumer) {
          this.recorder.record({ type: 'read', consumer: name, topic: message.topic, partition: message.partition, offset: message.offset, value: message.value === null ? '' : message.value.toString(), timeMs: Date.now() });
          this.readsTotal++;
          nextOffsets.set(message.partition, message.offset + 1);
          if (this.stopConsuming) break;
        }
      } catch {
        // The client gave up (every broker unreachable for longer than its retries): start afresh below.
      } finally {
        this.liveConsumers.delete(consumer);
        await consumer.disconnect().catch(() => undefined);
      }
      if (!this.stopConsuming) {
        this.consumerRestartsTotal++;
        await sleep(500);
      }
    }
  }

  private async groupMember(name: string): Promise<void> {
    const topic = this.options.topic;
    let incarnation = 0;
    while (!this.stopConsuming) {
      incarnation++;
      const consumer = new Consumer({
        brokers: [...this.options.brokers],
        clientId: name,
        groupId: CHAOS_GROUP,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
        maxWaitMs: 200,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        retry: { initialRetryMs: 50, maxRetryMs: 1_000 },
        rebalanceListener: {
          onPartitionsAssigned: () => {
            incarnation++;
          },
        },
      });
      this.liveConsumers.add(consumer);
      try {
        await consumer.connect();
        consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch, isStale }) => {
            const reader = `${name}#${incarnation}`;
            for (const message of batch.messages) {
              if (isStale()) return;
              this.recorder.record({ type: 'read', consumer: reader, topic, partition: batch.partition, offset: message.offset, value: message.value === null ? '' : message.value.toString(), timeMs: Date.now() });
              this.readsTotal++;
            }
            if (batch.messages.length === 0 || isStale()) return;
            const offset = batch.messages[batch.messages.length - 1].offset + 1;
            try {
              await consumer.commitOffsets([{ topic, partition: batch.partition, offset }]);
              this.recorder.record({ type: 'commit', group: CHAOS_GROUP, topic, partition: batch.partition, offset, timeMs: Date.now() });
              this.commitsTotal++;
            } catch {
              // Refused (a rebalance this member missed) or not answered: not known committed.
            }
          },
        });
      } catch {
        // The member failed (coordinator unreachable for longer than its retries): a new one joins below.
      } finally {
        this.liveConsumers.delete(consumer);
        await consumer.disconnect().catch(() => undefined);
      }
      if (!this.stopConsuming) {
        this.consumerRestartsTotal++;
        await sleep(500);
      }
    }
  }
}
