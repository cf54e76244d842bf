/**
 * Translation between raft/types.ts Messages and the protobufjs shapes of proto/raft.proto.
 *
 * Encoding needs no translation at all: raft.proto's field names, in protobufjs's lowerCamelCase,
 * are exactly those of Message, Entry and Snapshot, so a Message is handed to the encoder as it
 * is and its entry bytes are copied once, into the frame. Decoding turns uint64 values (Long
 * objects in protobufjs) into numbers and keeps `bytes` fields as views into the received frame.
 */
import type { Entry, Message, Snapshot } from '../../raft/types.js';
import { EntryType, MessageType } from '../../raft/types.js';

/** Numeric Raft group id (uint32 on the wire): one per partition, assigned by the cluster metadata. */
export type GroupId = number;

/** The largest group id the wire carries. */
export const GROUP_ID_MAX = 0xffff_ffff;

/** A peer sent something that is not a valid Raft message; the frame part is skipped. */
export class InvalidFrameError extends Error {
  override readonly name = 'InvalidFrameError';
}

/** A uint64 as protobufjs decodes it: a number, or a Long when the long package is present. */
type WireUint64 = number | { low: number; high: number };

/** Converts a decoded uint64 to a number; values beyond 2^53 are refused, not rounded. */
export function uint64ToNumber(value: WireUint64): number {
  if (typeof value === 'number') return value;
  const result = (value.high >>> 0) * 0x1_0000_0000 + (value.low >>> 0);
  if (!Number.isSafeInteger(result)) throw new InvalidFrameError(`uint64 ${result} is beyond 2^53`);
  return result;
}

interface WireEntry {
  index: WireUint64;
  count: number;
  term: WireUint64;
  type: number;
  data: Uint8Array;
}

interface WireSnapshot {
  index: WireUint64;
  term: WireUint64;
  conf: { voters: number[]; learners: number[] } | null;
  data: Uint8Array;
}

/** A decoded RaftMessage (protobufjs message instance: absent sub-messages are null). */
export interface WireMessage {
  type: number;
  from: number;
  to: number;
  term: WireUint64;
  logTerm: WireUint64;
  index: WireUint64;
  entries: WireEntry[];
  commit: WireUint64;
  reject: boolean;
  rejectHint: WireUint64;
  rejectHintTerm: WireUint64;
  snapshot: WireSnapshot | null;
  context: Uint8Array;
}

/** A decoded Frame. */
export interface WireFrame {
  envelopes: { groupId: number; message: WireMessage | null }[];
  heartbeats: WireHeartbeatBatch | null;
}

export interface WireHeartbeatBatch {
  heartbeatGroupIds: number[];
  heartbeatTerms: WireUint64[];
  heartbeatCommits: WireUint64[];
  responseGroupIds: number[];
  responseTerms: WireUint64[];
}

/** protobufjs leaves an absent (empty) bytes field at its prototype default, which is not a Uint8Array. */
const EMPTY_BYTES = new Uint8Array(0);

function bytesFromWire(value: Uint8Array | undefined): Uint8Array {
  return value instanceof Uint8Array ? value : EMPTY_BYTES;
}

function entryFromWire(wire: WireEntry): Entry {
  if (!(wire.type in EntryType) || wire.count < 1) throw new InvalidFrameError(`bad entry (type ${wire.type}, count ${wire.count})`);
  return { index: uint64ToNumber(wire.index), count: wire.count, term: uint64ToNumber(wire.term), type: wire.type, data: bytesFromWire(wire.data) };
}

function snapshotFromWire(wire: WireSnapshot): Snapshot {
  return {
    index: uint64ToNumber(wire.index),
    term: uint64ToNumber(wire.term),
    conf: { voters: wire.conf?.voters ?? [], learners: wire.conf?.learners ?? [] },
    data: bytesFromWire(wire.data),
  };
}

/** Rebuilds a raft Message from its decoded form; throws InvalidFrameError on nonsense. */
export function messageFromWire(wire: WireMessage): Message {
  if (wire.type <= MessageType.Hup || wire.type > MessageType.ReadIndexResponse) throw new InvalidFrameError(`bad message type ${wire.type}`);
  const message: Message = {
    type: wire.type,
    from: wire.from,
    to: wire.to,
    term: uint64ToNumber(wire.term),
    logTerm: uint64ToNumber(wire.logTerm),
    index: uint64ToNumber(wire.index),
    entries: wire.entries.length === 0 ? [] : wire.entries.map(entryFromWire),
    commit: uint64ToNumber(wire.commit),
    reject: wire.reject,
    rejectHint: uint64ToNumber(wire.rejectHint),
    rejectHintTerm: uint64ToNumber(wire.rejectHintTerm),
  };
  if (wire.snapshot !== null && wire.snapshot !== undefined) message.snapshot = snapshotFromWire(wire.snapshot);
  // The context is a one-field oneof: present (even empty) only when it was sent.
  if (Object.hasOwn(wire, 'context')) message.context = bytesFromWire(wire.context);
  return message;
}

/**
 * True when a heartbeat (or its response) carries nothing but what HeartbeatBatch's columns hold,
 * so it may travel coalesced and be rebuilt exactly on the other side.
 */
export function isCoalescibleHeartbeat(message: Message, selfId: number, peerId: number): boolean {
  if (message.type !== MessageType.Heartbeat && message.type !== MessageType.HeartbeatResponse) return false;
  return (
    message.from === selfId &&
    message.to === peerId &&
    message.context === undefined &&
    message.snapshot === undefined &&
    message.entries.length === 0 &&
    message.logTerm === 0 &&
    message.index === 0 &&
    !message.reject &&
    message.rejectHint === 0 &&
    message.rejectHintTerm === 0 &&
    (message.type === MessageType.Heartbeat || message.commit === 0)
  );
}

/** The Message a coalesced heartbeat column entry stands for. */
export function heartbeatMessage(type: MessageType.Heartbeat | MessageType.HeartbeatResponse, from: number, to: number, term: number, commit: number): Message {
  return { type, from, to, term, logTerm: 0, index: 0, entries: [], commit, reject: false, rejectHint: 0, rejectHintTerm: 0 };
}
