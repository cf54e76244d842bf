import { ConfChangeType, type ConfChange } from './types.js';

/** Bytes of an encoded ConfChange: type (1 byte), node id (4 bytes, big-endian). */
export const CONF_CHANGE_BYTES = 5;

/** Thrown when an entry claiming to be a configuration change holds other bytes. */
export class ConfChangeDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfChangeDecodeError';
  }
}

/** The data of an EntryType.ConfChange entry. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const bytes = new Uint8Array(CONF_CHANGE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, change.type);
  view.setUint32(1, change.nodeId);
  return bytes;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length !== CONF_CHANGE_BYTES) throw new ConfChangeDecodeError(`conf change of ${data.length} bytes, want ${CONF_CHANGE_BYTES}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0);
  if (type !== ConfChangeType.AddLearner && type !== ConfChangeType.AddVoter && type !== ConfChangeType.RemoveNode) {
    throw new ConfChangeDecodeError(`unknown conf change type ${type}`);
  }
  return { type, nodeId: view.getUint32(1) };
}
