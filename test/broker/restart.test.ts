/**
 * Durability and shutdown through real processes: after SIGKILL every record acknowledged with
 * acks=all is still there at its offset; SIGTERM answers waiting calls, finishes in-flight ones,
 * flushes, marks every log cleanly shut down and exits 0.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { iterateRecords, encodeBatch } from '../../record/record-batch.js';
import { CLEAN_SHUTDOWN_FILE } from '../../broker/storage/partition-log.js';
import { makeDataDir, RawClient, removeDir, startBrokerProcess } from './broker-process.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function batchOf(values: string[]): Buffer {
  return encodeBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), { nowMs: Date.now() });
}

/** Every record of a partition, read from offset 0 to the high watermark. */
async function readAll(client: RawClient, topic: string, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = 0;
  for (;;) {
    const response = await client.call('Fetch', { maxBytes: 4 * 1024 * 1024, topics: [{ name: topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1024 * 1024 }] }] });
    const answer = response.topics[0].partitions[0];
    assert.equal(answer.errorCode, 'NONE', answer.errorMessage);
    for (const record of iterateRecords(answer.recordBatches, { allowPartialTail: false })) out.set(record.offset, record.value!.toString());
    if (answer.nextFetchOffset >= answer.highWatermark) return out;
    offset = answer.nextFetchOffset;
  }
}

describe('restart', { timeout: 90_000 }, () => {
  it('keeps every acks=all record after SIGKILL', async () => {
    const dataDir = makeDataDir();
    dirs.push(dataDir);
    const broker = await startBrokerProcess(dataDir);
    const client = new RawClient(broker.address);
    const acked = new Map<string, string>();
    let stop = false;
    let sent = 0;
    // Four concurrent producers, each appending 3-record batches to its own partition until the kill.
    const producers = [0, 1, 2, 0].map(async (partition, worker) => {
      while (!stop) {
        const values = [0, 1, 2].map((i) => `w${worker}-${sent}-${i}`);
        sent++;
        try {
          const response = await client.call('Produce', { acks: 'ACKS_ALL', topics: [{ name: 'durable', partitions: [{ partition, recordBatch: batchOf(values) }] }] });
          const result = response.topics[0].partitions[0];
          if (result.errorCode === 'NONE') values.forEach((value, i) => acked.set(`${partition}:${result.baseOffset + i}`, value));
        } catch {
          return; // the broker died mid-call: not acknowledged
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(await broker.stop('SIGKILL'), 'SIGKILL');
    stop = true;
    await Promise.all(producers);
    client.close();
    assert.ok(acked.size > 100, `only ${acked.size} records were acknowledged before the kill`);

    const restarted = await startBrokerProcess(dataDir);
    const again = new RawClient(restarted.address);
    try {
      const stored = new Map<string, string>();
      for (const partition of [0, 1, 2]) {
        for (const [offset, value] of await readAll(again, 'durable', partition)) stored.set(`${partition}:${offset}`, value);
      }
      for (const [where, value] of acked) assert.equal(stored.get(where), value, `acknowledged record at ${where}`);
      const next = await again.call('Produce', { topics: [{ name: 'durable', partitions: [{ partition: 1, recordBatch: batchOf(['after restart']) }] }] });
      assert.equal(next.topics[0].partitions[0].errorCode, 'NONE', 'the restarted broker appends');
    } finally {
      again.close();
      assert.equal(await restarted.stop('SIGTERM'), 0);
    }
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const dataDir = makeDataDir();
    dirs.push(dataDir);
    const broker = await startBrokerProcess(dataDir);
    const client = new RawClient(broker.address);
    await client.call('CreateTopics', { topics: [{ name: 'graceful', numPartitions: 2 }] });
    await client.call('Produce', { topics: [{ name: 'graceful', partitions: [{ partition: 0, recordBatch: batchOf(['one']) }] }] });

    const longPoll = client.call('Fetch', { maxWaitMs: 20_000, topics: [{ name: 'graceful', partitions: [{ partition: 0, fetchOffset: 1 }] }] });
    const stream = client.subscribe({ topics: [{ name: 'graceful', partitions: [{ partition: 1, fetchOffset: 0 }] }] });
    const streamEnded = new Promise<string>((resolve) => {
      stream.on('data', () => undefined);
      stream.on('end', () => resolve('end'));
      stream.on('error', (error: { code: number }) => resolve(`error ${error.code}`));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      client.call('Produce', { topics: [{ name: 'graceful', partitions: [{ partition: 0, recordBatch: batchOf([`late-${i}`]) }] }] }).then(
        (response) => response.topics[0].partitions[0] as { errorCode: string; baseOffset: number },
        () => undefined,
      ),
    );
    const stopStart = Date.now();
    const exit = broker.stop('SIGTERM');
    const answered = await longPoll;
    assert.equal(answered.topics[0].partitions[0].errorCode, 'NONE', 'the long poll is answered, not cut');
    assert.ok(['end', 'error 1', 'error 14'].includes(await streamEnded), 'the subscription ends');
    assert.equal(await exit, 0, 'exit code 0');
    assert.ok(Date.now() - stopStart < 10_000, 'shutdown does not wait for the long poll to expire');
    const outcomes = await Promise.all(inFlight);
    client.close();

    for (const dir of readdirSync(join(dataDir, 'topics'))) {
      assert.ok(existsSync(join(dataDir, 'topics', dir, CLEAN_SHUTDOWN_FILE)), `${dir} was closed cleanly`);
    }
    assert.ok(!existsSync(join(dataDir, 'broker.lock')), 'the data dir lock is released');
    assert.match(broker.output(), /"msg":"broker stopped"/);

    const restarted = await startBrokerProcess(dataDir);
    const again = new RawClient(restarted.address);
    try {
      const stored = await readAll(again, 'graceful', 0);
      assert.equal(stored.get(0), 'one');
      for (const outcome of outcomes) {
        if (outcome?.errorCode === 'NONE') assert.match(stored.get(outcome.baseOffset) ?? '', /^late-/, 'an acknowledged in-flight produce survived');
      }
    } finally {
      again.close();
      assert.equal(await restarted.stop('SIGTERM'), 0);
    }
  });
});
