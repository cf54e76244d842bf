import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { Message } from '../../raft/types.js';
import { MessageType } from '../../raft/types.js';
import { METADATA_BROKER_ID, METADATA_CLUSTER_ID, METADATA_TARGET_BROKER_ID } from '../../broker/transport/peer-transport.js';
import { connectMethodDefinition, loadRaftProto, RAFT_CONNECT_PATH } from '../../broker/transport/raft-proto.js';
import { appendMessage, baseMessage, comparable, freePort, makeNode, startCluster, waitFor } from './transport-fixtures.js';

/** A mix of every message shape the replicas produce, for group `groupId`. */
function messagesOfGroup(groupId: number, from: number, to: number): Message[] {
  const vote = { ...baseMessage(MessageType.PreVote, from, to), term: 9, logTerm: 8, index: 2 ** 40 + groupId };
  const rejected = { ...baseMessage(MessageType.AppendResponse, from, to), term: 9, index: 17, reject: true, rejectHint: 12, rejectHintTerm: 4 };
  const snapshot: Message = {
    ...baseMessage(MessageType.Snapshot, from, to),
    term: 9,
    snapshot: { index: 1_000 + groupId, term: 8, conf: { voters: [1, 2, 3], learners: [4] }, data: randomBytes(groupId % 3 === 0 ? 0 : 300) },
  };
  const emptyContext = { ...baseMessage(MessageType.ReadIndex, from, to), term: 9, context: new Uint8Array(0) };
  const readHeartbeat = { ...baseMessage(MessageType.Heartbeat, from, to), term: 9, commit: 5, context: randomBytes(8) };
  return [appendMessage(from, to, 10 * groupId, [0, 17, 64 * 1024]), vote, rejected, snapshot, emptyContext, readHeartbeat];
}

test('messages of many groups arrive intact, in order, both ways', async () => {
  const [a, b] = await startCluster([1, 2]);
  try {
    const groups = 60;
    const sentAtoB: { groupId: number; message: Message }[] = [];
    const sentBtoA: { groupId: number; message: Message }[] = [];
    for (let groupId = 0; groupId < groups; groupId += 1) {
      for (const message of messagesOfGroup(groupId, 1, 2)) sentAtoB.push({ groupId, message });
      for (const message of messagesOfGroup(groupId, 2, 1)) sentBtoA.push({ groupId, message });
    }
    for (const { groupId, message } of sentAtoB) assert.ok(a.transport.send(2, groupId, message));
    for (const { groupId, message } of sentBtoA) assert.ok(b.transport.send(1, groupId, message));
    await waitFor('all messages', () => b.received.length === sentAtoB.length && a.received.length === sentBtoA.length);
    // A heartbeat with a context is not coalescible, so the order of everything is the order sent.
    assert.deepEqual(b.received.map((r) => ({ groupId: r.groupId, message: comparable(r.message) })), sentAtoB.map((s) => ({ groupId: s.groupId, message: comparable(s.message) })));
    assert.deepEqual(a.received.map((r) => ({ groupId: r.groupId, message: comparable(r.message) })), sentBtoA.map((s) => ({ groupId: s.groupId, message: comparable(s.message) })));
    const stats = a.transport.stats().peers.get(2);
    assert.ok(stats !== undefined && stats.connected && stats.dialer);
    assert.equal(stats.sentMessages, sentAtoB.length);
    assert.equal(stats.droppedMessages, 0);
    assert.equal(b.transport.stats().peers.get(1)?.dialer, false);
    assert.equal(b.transport.stats().serverWindowsWidened, true);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('heartbeats of 1,000 groups travel as one frame per tick, responses too', async () => {
  const [a, b] = await startCluster([1, 2]);
  try {
    const groups = 1_000;
    const ticks = 3;
    a.transport.send(2, 0, baseMessage(MessageType.TimeoutNow, 1, 2));
    await waitFor('stream up', () => b.received.length === 1);
    b.received.length = 0;
    for (let tick = 1; tick <= ticks; tick += 1) {
      for (let groupId = 0; groupId < groups; groupId += 1) {
        a.transport.send(2, groupId, { ...baseMessage(MessageType.Heartbeat, 1, 2), term: tick, commit: 2 ** 33 + groupId });
        b.transport.send(1, groupId, { ...baseMessage(MessageType.HeartbeatResponse, 2, 1), term: tick });
      }
      a.transport.flushTick();
      b.transport.flushTick();
      await waitFor(`tick ${tick}`, () => b.received.length === tick * groups && a.received.length === tick * groups);
    }
    const fromA = a.transport.stats().peers.get(2);
    const fromB = b.transport.stats().peers.get(1);
    assert.equal(fromA?.heartbeatFrames, ticks);
    assert.equal(fromA?.sentFrames, ticks + 1);
    assert.equal(fromA?.heartbeatsSent, ticks * groups);
    assert.equal(fromB?.heartbeatFrames, ticks);
    assert.equal(fromB?.sentFrames, ticks);
    // Compact columns: a few bytes per group, not a full message each.
    assert.ok(fromB.sentBytes / ticks < groups * 6, `responses cost ${fromB.sentBytes / ticks} bytes per tick`);
    const last = b.received.slice(-groups);
    assert.deepEqual(comparable(last[7].message), comparable({ ...baseMessage(MessageType.Heartbeat, 1, 2), term: ticks, commit: 2 ** 33 + last[7].groupId }));
    assert.deepEqual(new Set(last.map((r) => r.groupId)).size, groups);
    assert.deepEqual(comparable(a.received[5].message), comparable({ ...baseMessage(MessageType.HeartbeatResponse, 2, 1), term: 1 }));
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('a newer heartbeat of a group replaces the queued one; heartbeats queued in one turn share a frame without flushTick', async () => {
  const [a, b] = await startCluster([1, 2]);
  try {
    a.transport.send(2, 0, baseMessage(MessageType.TimeoutNow, 1, 2));
    await waitFor('stream up', () => b.received.length === 1);
    for (let groupId = 0; groupId < 50; groupId += 1) {
      a.transport.send(2, groupId, { ...baseMessage(MessageType.Heartbeat, 1, 2), term: 1, commit: 1 });
      a.transport.send(2, groupId, { ...baseMessage(MessageType.Heartbeat, 1, 2), term: 2, commit: 3 });
    }
    await waitFor('heartbeats', () => b.received.length === 51);
    assert.ok(b.received.slice(1).every((r) => r.message.term === 2 && r.message.commit === 3));
    const stats = a.transport.stats().peers.get(2);
    assert.equal(stats?.heartbeatsSuperseded, 50);
    assert.equal(stats?.heartbeatFrames, 1);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('three brokers: every pair has one stream and messages carry the right sender', async () => {
  const nodes = await startCluster([1, 2, 3]);
  try {
    for (const node of nodes) {
      for (const peer of nodes) {
        if (peer.id === node.id) continue;
        for (let groupId = 0; groupId < 20; groupId += 1) node.transport.send(peer.id, groupId, appendMessage(node.id, peer.id, groupId, [100]));
      }
    }
    await waitFor('all appends', () => nodes.every((node) => node.received.length === 40));
    for (const node of nodes) {
      for (const { message } of node.received) assert.equal(message.to, node.id);
      const senders = new Set(node.received.map((r) => r.message.from));
      assert.equal(senders.size, 2);
      for (const stats of node.transport.stats().peers.values()) {
        assert.equal(stats.connects, 1);
        assert.equal(stats.dialer, node.id < stats.peerId);
      }
    }
  } finally {
    await Promise.all(nodes.map((node) => node.transport.close()));
  }
});

test('a peer that is down: bounded queue, counted drops, redial with backoff, delivery once it is back', async () => {
  const addresses = new Map([
    [1, `127.0.0.1:${await freePort()}`],
    [2, `127.0.0.1:${await freePort()}`],
  ]);
  const limits = { queueMessagesMax: 50, queueBytesMax: 1024 * 1024, reconnectBackoffInitialMs: 40, reconnectBackoffMaxMs: 160, closeGraceMs: 500 };
  const peerStates: string[] = [];
  const a = makeNode(1, addresses, { limits, onPeerState: (peerId, connected) => peerStates.push(`${peerId}:${connected ? 'up' : 'down'}`) });
  await a.transport.start();
  let b = makeNode(2, addresses, { limits });
  try {
    for (let i = 0; i < 200; i += 1) a.transport.send(2, i, appendMessage(1, 2, i, [64]));
    // A 1 MiB queue holds fewer than 20 messages of 64 KiB: the byte bound binds before the count.
    for (let i = 0; i < 30; i += 1) a.transport.send(2, 1_000 + i, appendMessage(1, 2, i, [64 * 1024]));
    let stats = a.transport.stats().peers.get(2);
    assert.equal(stats?.queuedMessages, 50);
    assert.equal(stats?.droppedMessages, 180);
    assert.ok(stats.queuedBytes <= 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 700));
    stats = a.transport.stats().peers.get(2);
    // Delays 20-40, 40-80, then 80-160 ms: some redials in 700 ms, but far fewer than without backoff.
    assert.ok(stats !== undefined && stats.dialAttempts >= 3 && stats.dialAttempts <= 14, `dial attempts ${stats?.dialAttempts}`);
    assert.equal(stats.connected, false);

    await b.transport.start();
    await waitFor('queued messages delivered', () => b.received.length === 50);
    assert.deepEqual(b.received.map((r) => r.groupId), Array.from({ length: 50 }, (_, i) => i));
    assert.equal(a.transport.stats().peers.get(2)?.queuedMessages, 0);

    // The peer restarts: the stream is lost and comes back by itself.
    await b.transport.close();
    await waitFor('loss noticed', () => a.transport.stats().peers.get(2)?.connected === false);
    b = makeNode(2, addresses, { limits });
    await b.transport.start();
    await waitFor('reconnected', () => a.transport.stats().peers.get(2)?.connected === true);
    a.transport.send(2, 7, appendMessage(1, 2, 5, [10]));
    await waitFor('delivery after reconnect', () => b.received.length === 1);
    stats = a.transport.stats().peers.get(2);
    assert.equal(stats?.reconnects, 1);
    assert.ok(stats.disconnects >= 1);
    assert.deepEqual(peerStates, ['2:up', '2:down', '2:up']);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('a broker of another cluster is refused at stream open', async () => {
  const addresses = new Map([
    [1, `127.0.0.1:${await freePort()}`],
    [2, `127.0.0.1:${await freePort()}`],
  ]);
  const a = makeNode(1, addresses, { clusterId: 'cluster-east' });
  const b = makeNode(2, addresses, { clusterId: 'cluster-west' });
  await Promise.all([a.transport.start(), b.transport.start()]);
  try {
    a.transport.send(2, 1, baseMessage(MessageType.Vote, 1, 2));
    await waitFor('refusals', () => b.transport.stats().inboundRejected >= 2 && (a.transport.stats().peers.get(2)?.handshakeFailures ?? 0) >= 2);
    assert.equal(b.received.length, 0);
    assert.equal(a.transport.stats().peers.get(2)?.connected, false);
    assert.equal(a.transport.stats().peers.get(2)?.connects, 0);
    assert.equal(b.transport.stats().peers.get(1)?.connects, 0);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('updatePeers adds, moves and removes peers', async () => {
  const addresses = new Map([
    [1, `127.0.0.1:${await freePort()}`],
    [2, `127.0.0.1:${await freePort()}`],
  ]);
  const a = makeNode(1, new Map([[1, addresses.get(1) ?? '']]));
  const b = makeNode(2, addresses);
  await Promise.all([a.transport.start(), b.transport.start()]);
  try {
    assert.equal(a.transport.send(2, 1, baseMessage(MessageType.Vote, 1, 2)), false);
    assert.equal(a.transport.stats().unknownPeerDrops, 1);
    a.transport.updatePeers(new Map([[2, addresses.get(2) ?? '']]));
    assert.ok(a.transport.send(2, 1, baseMessage(MessageType.Vote, 1, 2)));
    await waitFor('delivery to the added peer', () => b.received.length === 1);
    a.transport.updatePeers(new Map());
    assert.equal(a.transport.stats().peers.size, 0);
    await waitFor('peer sees the stream end', () => b.transport.stats().peers.get(1)?.connected === false);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('a peer that accepts connections but never answers is abandoned at the handshake timeout and redialed', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as AddressInfo).port;
  const a = makeNode(1, new Map([
    [1, `127.0.0.1:${await freePort()}`],
    [2, `127.0.0.1:${port}`],
  ]), { limits: { handshakeTimeoutMs: 150, reconnectBackoffInitialMs: 20, reconnectBackoffMaxMs: 40, closeGraceMs: 500 } });
  await a.transport.start();
  try {
    a.transport.send(2, 1, baseMessage(MessageType.Vote, 1, 2));
    await waitFor('two handshake timeouts', () => (a.transport.stats().peers.get(2)?.handshakeFailures ?? 0) >= 2);
    const stats = a.transport.stats().peers.get(2);
    assert.equal(stats?.connected, false);
    assert.ok(stats.dialAttempts >= 2);
    assert.equal(stats.queuedMessages, 1);
  } finally {
    await a.transport.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('heartbeat answers produced over several turns wait for each other: one frame within the linger', async () => {
  const [a, b] = await startCluster([1, 2], { limits: { heartbeatLingerMs: 50, reconnectBackoffInitialMs: 20, reconnectBackoffMaxMs: 200, closeGraceMs: 500 } });
  try {
    b.transport.send(1, 0, baseMessage(MessageType.TimeoutNow, 2, 1));
    await waitFor('stream up', () => a.received.length === 1);
    // Ten replicas answer in ten different turns, as their Ready loops finish one by one.
    for (let turn = 0; turn < 10; turn += 1) {
      for (let groupId = turn * 100; groupId < (turn + 1) * 100; groupId += 1) b.transport.send(1, groupId, { ...baseMessage(MessageType.HeartbeatResponse, 2, 1), term: 4 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor('answers', () => a.received.length === 1_001);
    const stats = b.transport.stats().peers.get(1);
    assert.equal(stats?.heartbeatFrames, 1);
    assert.equal(stats?.sentFrames, 2);
    // A Raft message takes the waiting heartbeats along at once.
    b.transport.send(1, 5, { ...baseMessage(MessageType.HeartbeatResponse, 2, 1), term: 4 });
    b.transport.send(1, 6, baseMessage(MessageType.AppendResponse, 2, 1));
    await waitFor('piggybacked', () => a.received.length === 1_003);
    assert.equal(b.transport.stats().peers.get(1)?.sentFrames, 3);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('start() fails cleanly when the listen port is taken', async () => {
  const [a] = await startCluster([1]);
  const clash = makeNode(1, new Map([[1, a.transport.address]]));
  try {
    await assert.rejects(clash.transport.start(), /No address added out of total 1 resolved|EADDRINUSE|address/i);
  } finally {
    await Promise.all([a.transport.close(), clash.transport.close()]);
  }
});

for (const closing of ['dialer', 'acceptor'] as const) {
  test(`close() on the ${closing} first writes what was sent just before it`, async () => {
    const [dialer, acceptor] = await startCluster([1, 2]);
    const [closer, other] = closing === 'dialer' ? [dialer, acceptor] : [acceptor, dialer];
    try {
      closer.transport.send(other.id, 0, baseMessage(MessageType.TimeoutNow, closer.id, other.id));
      await waitFor('stream up', () => other.received.length === 1);
      closer.transport.send(other.id, 3, appendMessage(closer.id, other.id, 9, [1000]));
      closer.transport.send(other.id, 4, { ...baseMessage(MessageType.Heartbeat, closer.id, other.id), term: 2, commit: 1 });
      await closer.transport.close();
      await waitFor('the last messages', () => other.received.length === 3, 2_000);
      await waitFor('the peer notices', () => other.transport.stats().peers.get(closer.id)?.connected === false);
    } finally {
      await Promise.all([dialer.transport.close(), acceptor.transport.close()]);
    }
  });
}

test('nonsense from a peer is counted and skipped, never delivered or thrown', async () => {
  const [acceptor] = await startCluster([2]);
  // Broker 2 knows broker 1 at an address nobody listens on; broker 1 is played by a raw client.
  acceptor.transport.updatePeers(new Map([[1, `127.0.0.1:${await freePort()}`]]));
  const client = new grpc.Client(acceptor.transport.address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_CLUSTER_ID, 'test-cluster');
  metadata.set(METADATA_BROKER_ID, '1');
  metadata.set(METADATA_TARGET_BROKER_ID, '2');
  const method = connectMethodDefinition<unknown>();
  const call = client.makeBidiStreamRequest(RAFT_CONNECT_PATH, method.requestSerialize, method.responseDeserialize, metadata, {});
  call.on('error', () => {});
  try {
    const { Frame } = loadRaftProto();
    const frame = Frame.encode({
      envelopes: [
        { groupId: 1, message: { type: 40 } },
        { groupId: 2 },
        { groupId: 3, message: { type: MessageType.Append, entries: [{ index: 1, count: 0 }] } },
        { groupId: 4, message: { type: MessageType.Vote, from: 1, to: 2, term: 5 } },
      ],
      heartbeats: { heartbeatGroupIds: [1, 2], heartbeatTerms: [1], heartbeatCommits: [1, 1] },
    }).finish();
    call.write(Buffer.from(frame));
    await waitFor('the valid message', () => acceptor.received.length === 1);
    assert.equal(acceptor.received[0].groupId, 4);
    assert.equal(acceptor.received[0].message.term, 5);
    await waitFor('invalid parts counted', () => acceptor.transport.stats().peers.get(1)?.invalidMessages === 5);
  } finally {
    call.cancel();
    client.close();
    await acceptor.transport.close();
  }
});

test('a peer that stops reading: bytes in flight and queue stay bounded, the rest is dropped and counted', async () => {
  const limits = { queueMessagesMax: 1_000, queueBytesMax: 2 * 1024 * 1024, bytesInFlightMax: 1024 * 1024, frameBytesTarget: 256 * 1024, closeGraceMs: 200 };
  const [acceptor] = await startCluster([2], { limits });
  acceptor.transport.updatePeers(new Map([[1, `127.0.0.1:${await freePort()}`]]));
  // Broker 1 is played by a bare HTTP/2 client that opens the stream and never reads from it, so
  // its flow-control windows are never replenished. (A grpc-js client would keep reading into its
  // own buffers whether the application reads or not.)
  const session = http2.connect(`http://${acceptor.transport.address}`);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST', ':path': RAFT_CONNECT_PATH, 'content-type': 'application/grpc', te: 'trailers',
    [METADATA_CLUSTER_ID]: 'test-cluster', [METADATA_BROKER_ID]: '1', [METADATA_TARGET_BROKER_ID]: '2',
  });
  stream.on('error', () => {});
  stream.pause();
  try {
    await waitFor('stream accepted', () => acceptor.transport.stats().peers.get(1)?.connected === true);
    const entry = appendMessage(2, 1, 0, [64 * 1024]);
    for (let turn = 0; turn < 20; turn += 1) {
      for (let i = 0; i < 20; i += 1) acceptor.transport.send(1, i, entry);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const stats = acceptor.transport.stats().peers.get(1);
    assert.ok(stats !== undefined);
    assert.ok(stats.bytesInFlight <= limits.bytesInFlightMax + limits.frameBytesTarget + 128 * 1024, `${stats.bytesInFlight} bytes in flight`);
    assert.ok(stats.queuedBytes <= limits.queueBytesMax);
    assert.ok(stats.sentBytes < 2 * 1024 * 1024, `${stats.sentBytes} bytes sent to a peer that does not read`);
    assert.ok(stats.droppedMessages >= 300, `${stats.droppedMessages} of 400 dropped`);
  } finally {
    stream.close();
    session.destroy();
    await acceptor.transport.close();
  }
});
