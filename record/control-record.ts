/**
 * Control batches: batches with the control attribute set, holding one record whose key is
 * `version int16, type int16` (big-endian) and whose value is type-specific. Consumers skip them.
 * Kafka uses types 0 (abort) and 1 (commit) for transaction markers and higher ones for its own
 * consensus log; Brook's Raft uses a leader-change record as the no-op a new leader appends and a
 * voters record for configuration entries, with the same numbers Kafka gives those roles.
 */
import { type BatchInfo, type BatchOptions, encodeBatch } from './record-batch.js';
import { CorruptRecordError, InvalidRecordError } from './errors.js';
import type { DecodedRecord } from './record.js';

export const CONTROL_KEY_VERSION = 0;
export const CONTROL_KEY_BYTES = 4;

export const ControlRecordType = {
  /** Transaction aborted (Kafka's ABORT marker). */
  Abort: 0,
  /** Transaction committed (Kafka's COMMIT marker). */
  Commit: 1,
  /** A new Raft leader's first entry: the no-op that lets it commit entries of earlier terms. */
  LeaderChange: 2,
  /** Raft configuration: the voters (and learners) of the group. */
  Voters: 6,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

export interface ControlKey {
  version: number;
  type: number;
}

/** The 4-byte key of a control record. */
export function encodeControlKey(type: number, version = CONTROL_KEY_VERSION): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0x7fff) throw new InvalidRecordError(`control type must be an int16 >= 0, got ${type}`);
  if (!Number.isInteger(version) || version < 0 || version > 0x7fff) throw new InvalidRecordError(`control key version must be an int16 >= 0, got ${version}`);
  const key = Buffer.allocUnsafe(CONTROL_KEY_BYTES);
  key.writeInt16BE(version, 0);
  key.writeInt16BE(type, 2);
  return key;
}

/** Parses a control record's key; a missing or short key is corrupt. */
export function decodeControlKey(key: Buffer | null): ControlKey {
  if (key === null || key.length < CONTROL_KEY_BYTES) {
    throw new CorruptRecordError('bad-control-key', `control key needs ${CONTROL_KEY_BYTES} bytes, got ${key === null ? 'null' : key.length}`);
  }
  return { version: key.readInt16BE(0), type: key.readInt16BE(2) };
}

/**
 * Encodes a control batch of one record of `type` carrying `value` (e.g. a serialized Raft
 * configuration; null for a bare marker). All other options are as for encodeBatch.
 */
export function encodeControlBatch(type: number, value: Buffer | null, opts: Omit<BatchOptions, 'control'>): Buffer {
  return encodeBatch([{ key: encodeControlKey(type), value }], { ...opts, control: true });
}

/** The control type of a decoded record of a control batch. */
export function controlRecordType(info: BatchInfo, record: DecodedRecord): number {
  if (!info.control) throw new InvalidRecordError('not a control batch');
  return decodeControlKey(record.key).type;
}
