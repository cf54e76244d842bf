/**
 * Throughput of one broker process over gRPC, driven by raw calls (no producer/consumer library):
 *
 *   npx tsc -p tsconfig.json && node dist/bench/broker-throughput.js [--seconds 3] [--concurrency 4]
 *
 * 1. Produce 512 KiB record batches with the server's HTTP/2 window at 64 KiB (grpc-js's default)
 *    and at 16 MiB, in the same run, through a TCP proxy that delays every chunk by 5 ms each way
 *    (a 10 ms round trip, as between machines): the window's effect. flush.policy=never, so the
 *    disk's fdatasync rate does not hide the network path.
 * 2. Produce the same 100-byte records as client-encoded record_batch bytes and as plain records
 *    (the broker encodes): the cost of the easy path, under flush.policy=always (the disk's
 *    fdatasync rate bounds both) and flush.policy=never (the broker's CPU does).
 * 3. Fetch everything back as stored bytes and as decoded records.
 *
 * Each scenario runs against a fresh broker with its own temporary data dir.
 */
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadBrookProto } from '../proto/brook-proto.js';
import { encodeBatch } from '../record/record-batch.js';
import { makeDataDir, removeDir, startBrokerProcess, type BrokerProcess } from '../test/broker/broker-process.js';

const MIB = 1024 * 1024;
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '4' } } });
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);

type Client = grpc.Client & Record<string, (request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: any) => void) => void>;

function connect(address: string): Client {
  const { Client } = loadBrookProto();
  return new Client(address, grpc.credentials.createInsecure(), {
    'grpc-node.flow_control_window': 16 * MIB,
    'grpc.max_receive_message_length': 128 * MIB,
    'grpc.max_send_message_length': 128 * MIB,
  }) as Client;
}

function call(client: Client, method: string, request: object): Promise<any> {
  return new Promise((resolve, reject) => client[method](request, { deadline: Date.now() + 60_000 }, (error, response) => (error ? reject(error) : resolve(response))));
}

async function withBroker<T>(args: string[], run: (client: Client, broker: BrokerProcess) => Promise<T>): Promise<T> {
  const dataDir = makeDataDir('brook-bench-');
  const broker = await startBrokerProcess(dataDir, ['--max-message-bytes', String(2 * MIB), ...args]);
  const client = connect(broker.address);
  try {
    return await run(client, broker);
  } finally {
    client.close();
    await broker.stop('SIGTERM');
    removeDir(dataDir);
  }
}

/** Runs `concurrency` loops of `produceOnce` for `seconds`; returns bytes and records per second. */
async function produceFor(client: Client, makeRequest: (i: number) => object, bytesPerRequest: number, recordsPerRequest: number) {
  const endMs = Date.now() + seconds * 1000;
  let requests = 0;
  const startMs = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; Date.now() < endMs; i += concurrency) {
        const response = await call(client, 'Produce', makeRequest(i));
        const result = response.topics[0].partitions[0];
        if (result.errorCode !== 'NONE') throw new Error(`${result.errorCode}: ${result.errorMessage}`);
        requests++;
      }
    }),
  );
  const elapsed = (Date.now() - startMs) / 1000;
  return { megabytesPerSecond: (requests * bytesPerRequest) / MIB / elapsed, recordsPerSecond: (requests * recordsPerRequest) / elapsed, requests };
}

function records(count: number, valueBytes: number) {
  return Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`key-${i}`), value: Buffer.alloc(valueBytes, i & 0xff) }));
}

/** Forwards TCP to `target`, delaying each chunk by `delayMs` in both directions (bandwidth kept). */
async function startDelayProxy(target: string, delayMs: number): Promise<{ address: string; server: Server }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const server = createServer((inbound) => {
    const outbound = createConnection({ host, port });
    const pipeDelayed = (from: typeof inbound, to: typeof inbound) => {
      from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
      from.on('close', () => setTimeout(() => to.destroy(), delayMs));
      from.on('error', () => to.destroy());
    };
    pipeDelayed(inbound, outbound);
    pipeDelayed(outbound, inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function windowScenario(windowBytes: number) {
  const batches = Array.from({ length: 16 }, (_, i) => encodeBatch(records(50, 10 * 1024 - 20).map((r, j) => ({ ...r, value: Buffer.alloc(r.value.length, i + j) })), { nowMs: Date.now() }));
  return withBroker(['--flow-control-window-bytes', String(windowBytes), '--flush-policy', 'never'], async (_direct, broker) => {
    const proxy = await startDelayProxy(broker.address, 5);
    const client = connect(proxy.address);
    try {
      return await produceFor(
        client,
        (i) => ({ topics: [{ name: 'window', partitions: [{ partition: i % 3, recordBatch: batches[i % batches.length] }] }] }),
        batches[0].length,
        50,
      );
    } finally {
      client.close();
      proxy.server.close();
    }
  });
}

async function plainVersusBytes(flushPolicy: string) {
  const plain = records(100, 100);
  const batch = encodeBatch(plain, { nowMs: Date.now() });
  return withBroker(['--flush-policy', flushPolicy], async (client) => {
    // Warm-up (JIT on both sides, topic creation, codec pool start), not measured.
    await produceFor(client, (i) => ({ topics: [{ name: 'warm-up', partitions: [{ partition: i % 3, recordBatch: batch }] }] }), batch.length, 100);
    const bytes = await produceFor(client, (i) => ({ topics: [{ name: 'bytes', partitions: [{ partition: i % 3, recordBatch: batch }] }] }), batch.length, 100);
    const easy = await produceFor(client, (i) => ({ topics: [{ name: 'plain', partitions: [{ partition: i % 3, records: plain }] }] }), batch.length, 100);
    const fetchRaw = await fetchAll(client, 'bytes', false);
    const fetchDecoded = await fetchAll(client, 'bytes', true);
    return { bytes, easy, fetchRaw, fetchDecoded };
  });
}

/** Reads every partition of `topic` from 0 to its end; records and megabytes per second. */
async function fetchAll(client: Client, topic: string, decodeRecords: boolean) {
  const startMs = Date.now();
  let recordCount = 0;
  let bytes = 0;
  for (const partition of [0, 1, 2]) {
    let offset = 0;
    for (;;) {
      const response = await call(client, 'Fetch', { decodeRecords, maxBytes: 16 * MIB, topics: [{ name: topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 4 * MIB }] }] });
      const answer = response.topics[0].partitions[0];
      bytes += answer.recordBatches.length + answer.records.reduce((sum: number, r: { value?: Buffer; key?: Buffer }) => sum + (r.value?.length ?? 0) + (r.key?.length ?? 0), 0);
      recordCount += decodeRecords ? answer.records.length : answer.nextFetchOffset - offset;
      if (answer.nextFetchOffset >= answer.highWatermark) break;
      offset = answer.nextFetchOffset;
    }
  }
  const elapsed = (Date.now() - startMs) / 1000;
  return { recordsPerSecond: recordCount / elapsed, megabytesPerSecond: bytes / MIB / elapsed, records: recordCount };
}

const fmt = (n: number) => n.toFixed(1);
const narrow = await windowScenario(64 * 1024);
const wide = await windowScenario(16 * MIB);
console.log(`produce 512 KiB batches, acks=all, flush.policy=never, 10 ms round trip, concurrency ${concurrency}:`);
console.log(`  server window 64 KiB: ${fmt(narrow.megabytesPerSecond)} MiB/s (${narrow.requests} requests)`);
console.log(`  server window 16 MiB: ${fmt(wide.megabytesPerSecond)} MiB/s (${wide.requests} requests)  ratio ${fmt(wide.megabytesPerSecond / narrow.megabytesPerSecond)}x`);
for (const flushPolicy of ['always', 'never']) {
  const mixed = await plainVersusBytes(flushPolicy);
  console.log(`produce 100 x 100-byte records per request, acks=all, flush.policy=${flushPolicy}, concurrency ${concurrency}:`);
  console.log(`  record_batch bytes: ${Math.round(mixed.bytes.recordsPerSecond)} records/s`);
  console.log(`  plain records:      ${Math.round(mixed.easy.recordsPerSecond)} records/s  (${fmt(mixed.easy.recordsPerSecond / mixed.bytes.recordsPerSecond)}x of bytes)`);
  console.log(`fetch ${mixed.fetchRaw.records} records back:`);
  console.log(`  stored bytes:    ${Math.round(mixed.fetchRaw.recordsPerSecond)} records/s, ${fmt(mixed.fetchRaw.megabytesPerSecond)} MiB/s`);
  console.log(`  decoded records: ${Math.round(mixed.fetchDecoded.recordsPerSecond)} records/s  (${fmt(mixed.fetchDecoded.recordsPerSecond / mixed.fetchRaw.recordsPerSecond)}x of bytes)`);
}
