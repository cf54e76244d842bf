/**
 * Leader hints in the client: a NOT_LEADER_OR_FOLLOWER answer naming the leader sends that
 * partition's part of the request to the leader at once (Produce, Fetch, ListOffsets), updates the
 * cached leader (adding a broker the metadata did not list yet), and redirects at most once.
 * Two scripted in-process brokers stand in for a cluster whose leadership just moved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Admin } from '../../client/admin.js';
import { Cluster } from '../../client/cluster.js';
import { loadBrookProto } from '../../proto/brook-proto.js';
import { Producer } from '../../producer/producer.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = any;

/** A fake broker: what it says about leadership is set by the test. */
interface FakeBroker {
  readonly id: number;
  port: number;
  readonly server: grpc.Server;
  readonly calls: Array<{ method: string; request: Wire }>;
  /** Its answer for one partition: undefined serves it; else the refusal to give. */
  refuse: (method: string) => { errorCode: string; currentLeader?: Wire } | undefined;
}

const TOPIC = 'moved';
/** Which broker the fakes' Metadata names as the partition's leader (stale on purpose in some tests). */
let metadataLeader = 1;
/** Brokers the fakes' Metadata lists. */
let listed: number[] = [1];
const brokers = new Map<number, FakeBroker>();

const address = (id: number): string => `127.0.0.1:${brokers.get(id)!.port}`;
const hintTo = (id: number) => ({ leaderId: id, leaderEpoch: 4, address: address(id) });

async function startFake(id: number): Promise<FakeBroker> {
  const server = new grpc.Server();
  const fake: FakeBroker = { id, port: 0, server, calls: [], refuse: () => undefined };
  const partitions = (request: Wire, answer: (p: Wire, refusal: { errorCode: string; currentLeader?: Wire } | undefined) => Wire, method: string) =>
    request.topics.map((t: Wire) => ({ name: t.name, partitions: t.partitions.map((p: Wire) => answer(p, fake.refuse(method))) }));
  server.addService(loadBrookProto().service, {
    Metadata(call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) {
      callback(null, {
        brokers: listed.map((each) => ({ nodeId: each, host: '127.0.0.1', port: brokers.get(each)!.port })),
        clusterId: 'fake',
        controllerId: 1,
        topics: [{ errorCode: 'NONE', name: TOPIC, topicId: 't', partitions: [{ errorCode: 'NONE', partition: 0, leaderId: metadataLeader, leaderEpoch: 3, replicaIds: [1, 2], inSyncReplicaIds: [1, 2] }] }],
      });
    },
    Produce(call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) {
      fake.calls.push({ method: 'Produce', request: call.request });
      const topics = partitions(call.request, (p, refusal) => ({ partition: p.partition, errorCode: refusal?.errorCode ?? 'NONE', errorMessage: refusal === undefined ? '' : 'scripted', baseOffset: refusal === undefined ? 100 * id : -1, currentLeader: refusal?.currentLeader }), 'Produce');
      callback(null, { topics });
    },
    Fetch(call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) {
      fake.calls.push({ method: 'Fetch', request: call.request });
      const topics = partitions(call.request, (p, refusal) => ({ partition: p.partition, errorCode: refusal?.errorCode ?? 'NONE', errorMessage: '', highWatermark: 10 * id, logStartOffset: 0, nextFetchOffset: p.fetchOffset, currentLeader: refusal?.currentLeader }), 'Fetch');
      callback(null, { topics });
    },
    ListOffsets(call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) {
      fake.calls.push({ method: 'ListOffsets', request: call.request });
      const topics = partitions(call.request, (p, refusal) => ({ partition: p.partition, errorCode: refusal?.errorCode ?? 'NONE', errorMessage: '', offset: refusal === undefined ? 1000 * id : -1, timestampMs: -1, leaderEpoch: 4, currentLeader: refusal?.currentLeader }), 'ListOffsets');
      callback(null, { topics });
    },
  });
  fake.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))));
  return fake;
}

function callsOf(id: number, method: string): Wire[] {
  return brokers.get(id)!.calls.filter((call) => call.method === method).map((call) => call.request);
}

/** Retries so slow that a test finishing fast proves no backoff was waited. */
const SLOW_RETRY = { retries: 3, initialRetryMs: 5_000, maxRetryMs: 5_000, multiplier: 1, jitterFactor: 0, maxRetryTimeMs: 60_000 };

before(async () => {
  for (const id of [1, 2]) brokers.set(id, await startFake(id));
});

after(async () => {
  for (const fake of brokers.values()) fake.server.forceShutdown();
});

function reset(): void {
  metadataLeader = 1;
  listed = [1];
  for (const fake of brokers.values()) {
    fake.calls.length = 0;
    fake.refuse = () => undefined;
  }
}

describe('leader hints', { timeout: 30_000 }, () => {
  it('a produce refused with a hint goes to the hinted leader at once, and later ones go there directly', async () => {
    reset();
    // Broker 1 leads no more; the metadata (stale) still names it, and does not list broker 2 yet.
    brokers.get(1)!.refuse = () => ({ errorCode: 'NOT_LEADER_OR_FOLLOWER', currentLeader: hintTo(2) });
    const producer = new Producer({ brokers: [address(1)], retry: SLOW_RETRY });
    await producer.connect();
    try {
      const startedMs = Date.now();
      const [first] = await producer.send({ topic: TOPIC, messages: [{ value: 'a', partition: 0 }] });
      assert.ok(Date.now() - startedMs < 2_000, 'no retry backoff was waited');
      assert.equal(first.offset, 200, 'appended by broker 2');
      assert.equal(callsOf(1, 'Produce').length, 1);
      assert.equal(callsOf(2, 'Produce').length, 1);
      assert.equal(producer.cluster.leaderOf(TOPIC, 0), 2, 'the cached leader follows the hint');
      // The cluster's metadata catches up; the next send needs no redirect.
      metadataLeader = 2;
      listed = [1, 2];
      await producer.cluster.refreshMetadata([TOPIC]);
      const [second] = await producer.send({ topic: TOPIC, messages: [{ value: 'b', partition: 0 }] });
      assert.equal(second.offset, 200);
      assert.equal(callsOf(1, 'Produce').length, 1, 'broker 1 was not asked again');
      assert.equal(callsOf(2, 'Produce').length, 2);
    } finally {
      await producer.disconnect();
    }
  });

  it('fetch and list-offsets answers with a hint are asked again of the leader, without a long poll', async () => {
    reset();
    brokers.get(1)!.refuse = () => ({ errorCode: 'NOT_LEADER_OR_FOLLOWER', currentLeader: hintTo(2) });
    const cluster = new Cluster({ brokers: [address(1)], retry: SLOW_RETRY });
    await cluster.connect();
    try {
      const results = await cluster.wire.fetch(cluster.connectionTo(address(1)), { maxWaitMs: 5_000, minBytes: 1, maxBytes: 1 << 20, topics: new Map([[TOPIC, [{ partition: 0, fetchOffset: 7, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }]]]) }, 10_000);
      assert.deepEqual(results.map((result) => [result.partition, result.errorCode, result.highWatermark]), [[0, 'NONE', 20]]);
      const redirected = callsOf(2, 'Fetch');
      assert.equal(redirected.length, 1);
      assert.equal(redirected[0].maxWaitMs, 0, 'the redirect does not long-poll');
      assert.equal(redirected[0].topics[0].partitions[0].fetchOffset, 7);
      assert.equal(cluster.leaderOf(TOPIC, 0), 2);
    } finally {
      cluster.close();
    }
    const admin = new Admin({ brokers: [address(1)], retry: SLOW_RETRY });
    await admin.connect();
    try {
      const startedMs = Date.now();
      // The metadata says broker 1 leads; its refusal's hint sends the look-up to broker 2.
      metadataLeader = 1;
      assert.deepEqual(await admin.listOffsets(TOPIC, 'latest'), [{ partition: 0, offset: 2000 }]);
      assert.ok(Date.now() - startedMs < 2_000);
    } finally {
      await admin.disconnect();
    }
  });

  it('redirects at most once, and a hint without an address is not followed', async () => {
    reset();
    listed = [1, 2];
    // Each broker names the other: the client must not bounce between them.
    brokers.get(1)!.refuse = () => ({ errorCode: 'NOT_LEADER_OR_FOLLOWER', currentLeader: hintTo(2) });
    brokers.get(2)!.refuse = () => ({ errorCode: 'NOT_LEADER_OR_FOLLOWER', currentLeader: hintTo(1) });
    const cluster = new Cluster({ brokers: [address(1)], retry: SLOW_RETRY });
    await cluster.connect();
    try {
      const asked = new Map([[TOPIC, [{ partition: 0, spec: 'OFFSET_SPEC_LATEST' as const, timestampMs: 0 }]]]);
      const bounced = await cluster.wire.listOffsets(cluster.connectionTo(address(1)), asked, 5_000);
      assert.equal(bounced[0].errorCode, 'NOT_LEADER_OR_FOLLOWER');
      assert.equal(bounced[0].currentLeader?.leaderId, 1, "the redirect's own answer comes back");
      assert.equal(callsOf(1, 'ListOffsets').length, 1);
      assert.equal(callsOf(2, 'ListOffsets').length, 1);

      brokers.get(1)!.refuse = () => ({ errorCode: 'NOT_LEADER_OR_FOLLOWER', currentLeader: { leaderId: 2, leaderEpoch: 4, address: '' } });
      const unhinted = await cluster.wire.listOffsets(cluster.connectionTo(address(1)), asked, 5_000);
      assert.equal(unhinted[0].errorCode, 'NOT_LEADER_OR_FOLLOWER');
      assert.equal(unhinted[0].currentLeader, undefined, 'an empty address is no hint');
      assert.equal(callsOf(2, 'ListOffsets').length, 1, 'nothing was redirected');
    } finally {
      cluster.close();
    }
  });
});
