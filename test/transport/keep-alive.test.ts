/**
 * PeerTransport.keepAlive: a peer hears from this broker at least once per call (an empty frame
 * when nothing else was sent), which broker/cluster/peer-liveness.ts counts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageType } from '../../raft/types.js';
import { startCluster, waitFor } from './transport-fixtures.js';

test('keepAlive sends an empty frame only to peers that were sent nothing since the last call, and the peer counts it without a message', async () => {
  const [a, b] = await startCluster([1, 2]);
  try {
    await waitFor('stream up', () => a.transport.stats().peers.get(2)?.connected === true && b.transport.stats().peers.get(1)?.connected === true);
    a.transport.keepAlive();
    await waitFor('first keep-alive frame', () => (b.transport.framesReceivedFrom(1) ?? 0) >= 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const framesAtStart = b.transport.framesReceivedFrom(1) ?? -1;
    a.transport.keepAlive();
    await waitFor('keep-alive frame', () => (b.transport.framesReceivedFrom(1) ?? 0) === framesAtStart + 1);
    assert.equal(b.received.length, 0, 'no Raft message came of it');

    // A frame with a message went out since the last call: no keep-alive on top of it.
    const message = { type: MessageType.Append, from: 1, to: 2, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0 };
    assert.equal(a.transport.send(2, 7, message), true);
    await waitFor('message', () => b.received.length === 1);
    a.transport.keepAlive();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(b.transport.framesReceivedFrom(1), framesAtStart + 2, 'the message frame only');
    assert.equal(a.transport.framesReceivedFrom(99), undefined, 'unknown peer');
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});
