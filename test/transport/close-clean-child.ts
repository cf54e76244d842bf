/**
 * Child process of close-clean.test.ts: exercises transports in every state (connected,
 * redialing a dead peer, refused by another cluster, with queued messages), closes them, and
 * then simply returns. The process exits by itself only if close() left no socket or timer.
 */
import { MessageType } from '../../raft/types.js';
import { appendMessage, baseMessage, freePort, makeNode, waitFor } from './transport-fixtures.js';

const addresses = new Map([
  [1, `127.0.0.1:${await freePort()}`],
  [2, `127.0.0.1:${await freePort()}`],
  [3, `127.0.0.1:${await freePort()}`],
  [4, `127.0.0.1:${await freePort()}`],
]);
const a = makeNode(1, addresses);
const b = makeNode(2, addresses);
const stranger = makeNode(3, addresses, { clusterId: 'another-cluster' });
// Broker 4 never starts: broker 1 keeps redialing it.
await Promise.all([a.transport.start(), b.transport.start(), stranger.transport.start()]);
a.transport.send(2, 1, appendMessage(1, 2, 0, [1024]));
b.transport.send(1, 1, baseMessage(MessageType.AppendResponse, 2, 1));
a.transport.send(3, 1, baseMessage(MessageType.Vote, 1, 3));
a.transport.send(4, 1, baseMessage(MessageType.Vote, 1, 4));
await waitFor('exchange', () => b.received.length === 1 && a.received.length === 1);
await waitFor('refusal', () => stranger.transport.stats().inboundRejected >= 1 && (a.transport.stats().peers.get(4)?.dialAttempts ?? 0) >= 2);
// Leave something queued and in flight at close time.
for (let i = 0; i < 20; i += 1) a.transport.send(2, i, appendMessage(1, 2, i, [64 * 1024]));
await Promise.all([a.transport.close(), b.transport.close(), stranger.transport.close()]);
const resources = process.getActiveResourcesInfo().filter((name) => name !== 'TTYWrap');
console.log(JSON.stringify({ closed: true, resources }));
