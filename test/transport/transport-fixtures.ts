/** Shared helpers of the transport tests: transports on free 127.0.0.1 ports, message builders, waiting. */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Entry, Message } from '../../raft/types.js';
import { EntryType, MessageType } from '../../raft/types.js';
import type { BrokerId, PeerTransportOptions } from '../../broker/transport/peer-transport.js';
import { PeerTransport } from '../../broker/transport/peer-transport.js';
import type { GroupId } from '../../broker/transport/raft-codec.js';
import type { TransportLimits } from '../../broker/transport/transport-limits.js';
import { freePort } from '../fixtures/free-port.js';

export const silentLogger = pino({ level: 'silent' });

/** Fast redials so tests do not wait for production backoffs. */
export const TEST_LIMITS: Partial<TransportLimits> = { reconnectBackoffInitialMs: 20, reconnectBackoffMaxMs: 200, handshakeTimeoutMs: 2_000, closeGraceMs: 500 };

export interface Received {
  readonly groupId: GroupId;
  readonly message: Message;
}

export interface TestNode {
  readonly id: BrokerId;
  readonly transport: PeerTransport;
  readonly received: Received[];
}

/** Starts one transport per id on pre-chosen free ports, each knowing all the others. */
export async function startCluster(ids: BrokerId[], overrides: Partial<PeerTransportOptions> = {}): Promise<TestNode[]> {
  const addresses = new Map<BrokerId, string>();
  for (const id of ids) addresses.set(id, `127.0.0.1:${await freePort()}`);
  const nodes = ids.map((id) => makeNode(id, addresses, overrides));
  await Promise.all(nodes.map((node) => node.transport.start()));
  return nodes;
}

export function makeNode(id: BrokerId, addresses: ReadonlyMap<BrokerId, string>, overrides: Partial<PeerTransportOptions> = {}): TestNode {
  const received: Received[] = [];
  const peers = new Map([...addresses].filter(([peerId]) => peerId !== id));
  const listenAddress = addresses.get(id);
  if (listenAddress === undefined) throw new Error(`no address for ${id}`);
  const transport = new PeerTransport({
    selfId: id,
    clusterId: 'test-cluster',
    listenAddress,
    peers,
    limits: TEST_LIMITS,
    logger: silentLogger,
    onMessage: (groupId, message) => received.push({ groupId, message }),
    ...overrides,
  });
  return { id, transport, received };
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function baseMessage(type: MessageType, from: number, to: number): Message {
  return { type, from, to, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0 };
}

export function appendMessage(from: number, to: number, index: number, dataBytes: number[]): Message {
  const entries: Entry[] = [];
  let next = index + 1;
  for (const bytes of dataBytes) {
    entries.push({ index: next, count: 3, term: 7, type: EntryType.Normal, data: randomBytes(bytes) });
    next += 3;
  }
  return { ...baseMessage(MessageType.Append, from, to), term: 7, logTerm: 6, index, commit: index, entries };
}

/** A message as plain comparable data: byte fields as hex, absent fields absent. */
export function comparable(message: Message): unknown {
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return {
    ...message,
    entries: message.entries.map((entry) => ({ ...entry, data: hex(entry.data) })),
    snapshot: message.snapshot === undefined ? undefined : { ...message.snapshot, data: hex(message.snapshot.data) },
    context: message.context === undefined ? undefined : hex(message.context),
  };
}

export { freePort };
