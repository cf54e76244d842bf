/**
 * The Prometheus endpoint of a real broker process: counters move by exactly what was produced
 * and fetched, the topic label cap holds, gauges are read at scrape time, and metrics never stop
 * a broker from starting (port taken, or turned off).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { encodeBatch } from '../../record/record-batch.js';
import { brokerPerFile, makeDataDir, removeDir, startBrokerProcess } from './broker-process.js';

let metricsUrl: string;
const running = brokerPerFile(['--metrics-listen', '127.0.0.1:0', '--metrics-topic-labels-max', '2'], ({ broker }) => {
  const match = /"metricsAddress":"([^"]+)"/.exec(broker.output());
  assert.ok(match !== null, `the broker logs its metrics address:\n${broker.output()}`);
  metricsUrl = `http://${match[1]}/metrics`;
});

/** Every sample of a text exposition, keyed by `name{labels}` exactly as printed. */
async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(metricsUrl);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

function sample(samples: Map<string, number>, key: string): number {
  return samples.get(key) ?? 0;
}

/** How much each of `keys` moved between two scrapes. */
function moved(before: Map<string, number>, after: Map<string, number>, keys: readonly string[]): Record<string, number> {
  return Object.fromEntries(keys.map((key) => [key, sample(after, key) - sample(before, key)]));
}

function batchOf(count: number): Buffer {
  return encodeBatch(Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`value-${i}`) })), { nowMs: Date.now() });
}

async function produce(topic: string, partition: number, data: object, acks = 'ACKS_ALL') {
  const response = await running.client.call('Produce', { acks, topics: [{ name: topic, partitions: [{ partition, ...data }] }] });
  return response.topics[0].partitions[0];
}

describe('metrics endpoint', { timeout: 60_000 }, () => {
  it('counts produce requests, batches, bytes, latency and errors by the right amounts', async () => {
    const start = await scrape();
    const threeBatches = Buffer.concat([batchOf(3), batchOf(2), batchOf(1)]);
    assert.equal((await produce('metrics-a', 0, { recordBatch: threeBatches })).errorCode, 'NONE');
    const plain = await produce('metrics-a', 0, { records: [{ value: Buffer.from('x') }, { value: Buffer.from('y') }] }, 'ACKS_LEADER');
    assert.equal(plain.errorCode, 'NONE');
    const single = batchOf(1);
    assert.equal((await produce('metrics-b', 0, { recordBatch: single })).errorCode, 'NONE');
    assert.equal((await produce('metrics-a', 99, { recordBatch: batchOf(1) })).errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    const end = await scrape();

    const change = moved(start, end, [
      'brook_produce_requests_total{topic="metrics-a"}',
      'brook_produce_requests_total{topic="metrics-b"}',
      'brook_produce_batches_total{topic="metrics-a"}',
      'brook_produce_batches_total{topic="metrics-b"}',
      'brook_produce_bytes_total{topic="metrics-b"}',
      'brook_produce_latency_seconds_count{acks="ACKS_ALL"}',
      'brook_produce_latency_seconds_count{acks="ACKS_LEADER"}',
      'brook_errors_total{api="produce",code="UNKNOWN_TOPIC_OR_PARTITION"}',
    ]);
    assert.deepEqual(change, {
      'brook_produce_requests_total{topic="metrics-a"}': 3,
      'brook_produce_requests_total{topic="metrics-b"}': 1,
      'brook_produce_batches_total{topic="metrics-a"}': 4,
      'brook_produce_batches_total{topic="metrics-b"}': 1,
      'brook_produce_bytes_total{topic="metrics-b"}': single.length,
      'brook_produce_latency_seconds_count{acks="ACKS_ALL"}': 3,
      'brook_produce_latency_seconds_count{acks="ACKS_LEADER"}': 1,
      'brook_errors_total{api="produce",code="UNKNOWN_TOPIC_OR_PARTITION"}': 1,
    });
    const bytesA = sample(end, 'brook_produce_bytes_total{topic="metrics-a"}') - sample(start, 'brook_produce_bytes_total{topic="metrics-a"}');
    assert.ok(bytesA > threeBatches.length, `plain records add an encoded batch: ${bytesA} > ${threeBatches.length}`);

    assert.equal(sample(end, 'brook_partition_log_end_offset{topic="metrics-a",partition="0"}'), 8, '6 + 2 records');
    assert.equal(sample(end, 'brook_partition_high_watermark{topic="metrics-a",partition="0"}'), 8);
    assert.equal(sample(end, 'brook_partition_log_start_offset{topic="metrics-a",partition="0"}'), 0);
    assert.equal(sample(end, 'brook_partition_size_bytes{topic="metrics-a",partition="0"}'), bytesA, 'the log holds exactly the produced batches');
    assert.equal(sample(end, 'brook_partition_log_end_offset{topic="metrics-a",partition="1"}'), 0, 'every partition is reported');
    assert.ok(end.has('process_cpu_user_seconds_total'), 'default process metrics are served');
  });

  it('puts topics past metrics.topic.labels.max under topic="other"', async () => {
    const start = await scrape();
    for (const topic of ['metrics-c', 'metrics-d']) assert.equal((await produce(topic, 0, { recordBatch: batchOf(1) })).errorCode, 'NONE');
    const end = await scrape();
    assert.equal(sample(end, 'brook_produce_requests_total{topic="other"}') - sample(start, 'brook_produce_requests_total{topic="other"}'), 2);
    assert.equal(sample(end, 'brook_produce_batches_total{topic="other"}') - sample(start, 'brook_produce_batches_total{topic="other"}'), 2);
    assert.ok(!end.has('brook_produce_requests_total{topic="metrics-c"}'));
    assert.ok(!end.has('brook_produce_requests_total{topic="metrics-d"}'));
  });

  it('counts fetches, fetched bytes and long-poll waits', async () => {
    await produce('metrics-f', 0, { recordBatch: batchOf(4) });
    const start = await scrape();
    const immediate = await running.client.call('Fetch', { maxWaitMs: 0, topics: [{ name: 'metrics-f', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    const returnedBytes = immediate.topics[0].partitions[0].recordBatches.length;
    assert.ok(returnedBytes > 0);
    const waitMs = 300;
    const polled = await running.client.call('Fetch', { maxWaitMs: waitMs, minBytes: 1, topics: [{ name: 'metrics-f', partitions: [{ partition: 0, fetchOffset: 4 }] }] });
    assert.equal(polled.topics[0].partitions[0].recordBatches.length, 0);
    const missing = await running.client.call('Fetch', { maxWaitMs: 0, topics: [{ name: 'metrics-none', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    assert.equal(missing.topics[0].partitions[0].errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    const end = await scrape();
    const change = moved(start, end, [
      'brook_fetch_requests_total',
      'brook_fetch_bytes_total',
      'brook_fetch_wait_seconds_count',
      'brook_errors_total{api="fetch",code="UNKNOWN_TOPIC_OR_PARTITION"}',
    ]);
    assert.deepEqual(change, {
      brook_fetch_requests_total: 3,
      brook_fetch_bytes_total: returnedBytes,
      brook_fetch_wait_seconds_count: 3,
      'brook_errors_total{api="fetch",code="UNKNOWN_TOPIC_OR_PARTITION"}': 1,
    });
    const waited = sample(end, 'brook_fetch_wait_seconds_sum') - sample(start, 'brook_fetch_wait_seconds_sum');
    assert.ok(waited >= (waitMs - 50) / 1000 && waited < 5, `the long poll waited about ${waitMs} ms, got ${waited} s`);
  });

  it('gauges open subscribe streams', async () => {
    const stream = running.client.subscribe({ topics: [{ name: 'metrics-a', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
    stream.on('error', () => undefined);
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    assert.equal(sample(await scrape(), 'brook_subscribe_streams_open'), 1);
    stream.cancel();
    const deadline = Date.now() + 5_000;
    while (sample(await scrape(), 'brook_subscribe_streams_open') !== 0) {
      assert.ok(Date.now() < deadline, 'the gauge returns to 0 after cancel');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('serves only GET /metrics', async () => {
    assert.equal((await fetch(metricsUrl.replace('/metrics', '/other'))).status, 404);
    assert.equal((await fetch(metricsUrl, { method: 'POST' })).status, 405);
  });
});

describe('metrics never stop a broker', { timeout: 60_000 }, () => {
  it('starts with a warning when the metrics port is taken', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    const dir = makeDataDir();
    try {
      const other = await startBrokerProcess(dir, ['--metrics-listen', `127.0.0.1:${port}`]);
      const output = other.output();
      assert.equal(await other.stop('SIGTERM'), 0);
      assert.match(output, /metrics endpoint not started/);
      assert.match(output, /EADDRINUSE/);
    } finally {
      holder.close();
      removeDir(dir);
    }
  });

  it('runs no endpoint with metrics.enabled=false', async () => {
    const dir = makeDataDir();
    try {
      const other = await startBrokerProcess(dir, ['--no-metrics-enabled', '--metrics-listen', '127.0.0.1:0']);
      const output = other.output();
      assert.equal(await other.stop('SIGTERM'), 0);
      assert.doesNotMatch(output, /metrics listening|metrics endpoint not started/);
    } finally {
      removeDir(dir);
    }
  });
});
