import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../../raft/types.js';
import { HEARTBEAT_SLOT_BYTES, messageCostBytes, PeerQueue } from '../../broker/transport/peer-queue.js';
import { InvalidFrameError, isCoalescibleHeartbeat, messageFromWire, type WireFrame } from '../../broker/transport/raft-codec.js';
import { loadRaftProto } from '../../broker/transport/raft-proto.js';
import { appendMessage, baseMessage, comparable } from './transport-fixtures.js';

const heartbeat = (term: number, commit: number) => ({ ...baseMessage(MessageType.Heartbeat, 1, 2), term, commit });

test('the queue refuses messages beyond its message and byte limits, and oversize ones', () => {
  const byCount = new PeerQueue(3, 1 << 20, 1 << 20);
  for (let i = 0; i < 3; i += 1) assert.equal(byCount.push(i, appendMessage(1, 2, i, [10]), false), 'queued');
  assert.equal(byCount.push(9, appendMessage(1, 2, 9, [10]), false), 'dropped-full');
  assert.equal(byCount.push(9, heartbeat(1, 1), true), 'dropped-full');
  assert.equal(byCount.messageCount, 3);

  const big = appendMessage(1, 2, 0, [4000]);
  const byBytes = new PeerQueue(100, 2 * messageCostBytes(big), 1 << 20);
  assert.equal(byBytes.push(0, big, false), 'queued');
  assert.equal(byBytes.push(1, big, false), 'queued');
  assert.equal(byBytes.push(2, big, false), 'dropped-full');
  assert.equal(byBytes.byteCount, 2 * messageCostBytes(big));

  const small = new PeerQueue(100, 1 << 20, 1000);
  assert.equal(small.push(0, appendMessage(1, 2, 0, [2000]), false), 'dropped-oversize');
  assert.ok(small.isEmpty);
});

test('a heartbeat replaces the queued one of its group without taking more room', () => {
  const queue = new PeerQueue(2, 1 << 20, 1 << 20);
  assert.equal(queue.push(5, heartbeat(1, 10), true), 'coalesced');
  assert.equal(queue.push(6, { ...baseMessage(MessageType.HeartbeatResponse, 1, 2), term: 1 }, true), 'coalesced');
  assert.equal(queue.push(7, heartbeat(1, 10), true), 'dropped-full');
  assert.equal(queue.push(5, heartbeat(2, 12), true), 'superseded');
  assert.equal(queue.byteCount, 2 * HEARTBEAT_SLOT_BYTES);
  const frame = queue.takeFrame(1 << 20);
  assert.ok(frame !== undefined);
  assert.deepEqual(frame.frame.heartbeats, { heartbeatGroupIds: [5], heartbeatTerms: [2], heartbeatCommits: [12], responseGroupIds: [6], responseTerms: [1] });
  assert.equal(frame.messages, 2);
  assert.ok(queue.isEmpty);
  assert.equal(queue.byteCount, 0);
});

test('frames stop at the byte target, keep order, always carry one message, and take the heartbeats first', () => {
  const queue = new PeerQueue(1000, 1 << 24, 1 << 22);
  for (let i = 0; i < 10; i += 1) queue.push(i, appendMessage(1, 2, i, [1000]), false);
  queue.push(3, heartbeat(4, 4), true);
  const perMessage = messageCostBytes(appendMessage(1, 2, 0, [1000]));
  const first = queue.takeFrame(3 * perMessage);
  assert.deepEqual(first?.frame.envelopes.map((e) => e.groupId), [0, 1, 2]);
  assert.equal(first?.heartbeats, 1);
  const second = queue.takeFrame(1);
  assert.deepEqual(second?.frame.envelopes.map((e) => e.groupId), [3]);
  assert.equal(second?.frame.heartbeats, undefined);
  assert.deepEqual(queue.takeFrame(1 << 20)?.frame.envelopes.map((e) => e.groupId), [4, 5, 6, 7, 8, 9]);
  assert.equal(queue.takeFrame(1 << 20), undefined);
});

test('only heartbeats that the columns describe exactly are coalesced', () => {
  assert.ok(isCoalescibleHeartbeat(heartbeat(3, 9), 1, 2));
  assert.ok(isCoalescibleHeartbeat({ ...baseMessage(MessageType.HeartbeatResponse, 1, 2), term: 3 }, 1, 2));
  assert.ok(!isCoalescibleHeartbeat(heartbeat(3, 9), 7, 2), 'Raft node id differs from the broker id');
  assert.ok(!isCoalescibleHeartbeat({ ...heartbeat(3, 9), context: new Uint8Array(0) }, 1, 2), 'carries a context');
  assert.ok(!isCoalescibleHeartbeat({ ...heartbeat(3, 9), index: 4 }, 1, 2));
  assert.ok(!isCoalescibleHeartbeat({ ...baseMessage(MessageType.HeartbeatResponse, 1, 2), commit: 3 }, 1, 2));
  assert.ok(!isCoalescibleHeartbeat({ ...baseMessage(MessageType.AppendResponse, 1, 2), term: 3 }, 1, 2));
});

test('the codec round-trips large indices and refuses what is not a Raft message', () => {
  const { Frame } = loadRaftProto();
  const message = { ...appendMessage(1, 2, 2 ** 52, [5, 0]), commit: 2 ** 40 + 3 };
  const bytes = Frame.encode({ envelopes: [{ groupId: 0xffff_ffff, message }] }).finish();
  const decoded = Frame.decode(bytes) as unknown as WireFrame;
  const envelope = decoded.envelopes[0];
  assert.equal(envelope.groupId, 0xffff_ffff);
  assert.ok(envelope.message !== null);
  const roundTripped = messageFromWire(envelope.message);
  assert.deepEqual(comparable(roundTripped), comparable(message));
  // Entry bytes are views into the received frame, not copies.
  assert.equal(roundTripped.entries[0].data.buffer, bytes.buffer);

  const badType = Frame.decode(Frame.encode({ envelopes: [{ groupId: 1, message: { type: 40 } }] }).finish()) as unknown as WireFrame;
  assert.throws(() => messageFromWire(badType.envelopes[0].message ?? assert.fail()), InvalidFrameError);
  const hup = Frame.decode(Frame.encode({ envelopes: [{ groupId: 1, message: { type: MessageType.Hup } }] }).finish()) as unknown as WireFrame;
  assert.throws(() => messageFromWire(hup.envelopes[0].message ?? assert.fail()), InvalidFrameError);
  const huge = Frame.decode(Frame.encode({ envelopes: [{ groupId: 1, message: { type: MessageType.Vote, term: '18446744073709551615' } }] }).finish()) as unknown as WireFrame;
  assert.throws(() => messageFromWire(huge.envelopes[0].message ?? assert.fail()), InvalidFrameError);
});
