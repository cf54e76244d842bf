/**
 * The work a CodecPool worker does, as a pure function of a message, so it runs the same inline
 * and in a worker. Buffers travel as whole ArrayBuffers, transferred (not copied) both ways; record
 * errors travel as plain data, because an Error class does not survive the thread hop.
 */
import { Codec } from './batch-header.js';
import { compress, decompress } from './codecs.js';
import { CorruptRecordError, InvalidRecordError, isRecordFormatError } from './errors.js';
import { type DecodeLimits, openRecords, readBatchInfo, sealBatch, validateBatch, verifyBatchCrc } from './record-batch.js';

export type CodecTask =
  | { op: 'seal'; plain: ArrayBuffer }
  | { op: 'open'; batch: ArrayBuffer; limits: DecodeLimits }
  | { op: 'validate'; batch: ArrayBuffer; limits: DecodeLimits }
  | { op: 'compress'; codec: Codec; input: ArrayBuffer }
  | { op: 'decompress'; codec: Codec; input: ArrayBuffer; maxOutputBytes: number };

export interface CodecTaskFailure {
  failed: 'corrupt' | 'invalid';
  reason: string;
  message: string;
}

/** Bytes, a typed failure, or null for a validation that passed. */
export type CodecTaskResult = ArrayBuffer | CodecTaskFailure | null;

/** A Buffer that owns the whole of a fresh ArrayBuffer, so the ArrayBuffer can be transferred. */
export const allocateOwned = (size: number): Buffer => Buffer.allocUnsafeSlow(size);

/** The ArrayBuffer of `buf` if `buf` is all of it, else a copy that is: safe to transfer. */
export function ownedArrayBuffer(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
  const copy = allocateOwned(buf.length);
  buf.copy(copy);
  return copy.buffer as ArrayBuffer;
}

export function runCodecTask(task: CodecTask): CodecTaskResult {
  try {
    switch (task.op) {
      case 'seal':
        return ownedArrayBuffer(sealBatch(Buffer.from(task.plain), allocateOwned));
      case 'open': {
        const batch = Buffer.from(task.batch);
        const info = readBatchInfo(batch, 0);
        verifyBatchCrc(batch, 0, info);
        const region = openRecords(batch, 0, info, task.limits);
        return ownedArrayBuffer(region.data.subarray(region.start, region.end));
      }
      case 'validate':
        validateBatch(Buffer.from(task.batch), 0, task.limits);
        return null;
      case 'compress':
        return ownedArrayBuffer(compress(task.codec, Buffer.from(task.input)));
      case 'decompress':
        return ownedArrayBuffer(decompress(task.codec, Buffer.from(task.input), task.maxOutputBytes));
    }
  } catch (error) {
    if (!isRecordFormatError(error)) throw error;
    if (error instanceof CorruptRecordError) return { failed: 'corrupt', reason: error.reason, message: error.message };
    return { failed: 'invalid', reason: 'invalid', message: error.message };
  }
}

/** Turns a result back into a Buffer (empty for a passed validation), or rethrows its typed error. */
export function unwrapCodecResult(result: CodecTaskResult): Buffer {
  if (result instanceof ArrayBuffer) return Buffer.from(result);
  if (result === null) return Buffer.alloc(0);
  if (result.failed === 'corrupt') {
    const error = new CorruptRecordError(result.reason);
    error.message = result.message;
    throw error;
  }
  throw new InvalidRecordError(result.message);
}
