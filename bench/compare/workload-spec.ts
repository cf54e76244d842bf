/**
 * The parameters of a benchmark run, shared by `brook bench produce|consume|e2e` and the W1-W5
 * comparison, and the payloads the runs send.
 */
import assert from 'node:assert';

export type AcksName = 'all' | 'leader' | 'none';
export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface WorkloadSpec {
  /** Topic (Brook) or stream name prefix (JetStream). */
  readonly topic: string;
  /** Records to send (produce, e2e) or read (consume). */
  readonly records: number;
  /** Payload bytes per record (the value; no key). */
  readonly recordBytes: number;
  /** Records per second, or null for as fast as the system acks. */
  readonly ratePerSecond: number | null;
  /** Producer clients (connections), sharing the records. */
  readonly producers: number;
  /** Partitions of the Brook topic; JetStream gets as many streams. */
  readonly partitions: number;
  readonly replication: number;
  readonly acks: AcksName;
  readonly compression: CompressionName;
  /** Brook producer batch size. */
  readonly batchBytes: number;
  readonly lingerMs: number;
  /** The run stops sending after this long, whatever `records` says. */
  readonly maxSeconds: number;
  /** JetStream publishes outstanding per producer (npm client). */
  readonly natsWindow: number;
  /** JetStream publishes outstanding per producer (lean client). */
  readonly natsLeanWindow: number;
}

export const WORKLOAD_DEFAULTS: WorkloadSpec = {
  topic: 'bench',
  records: 1_000_000,
  recordBytes: 100,
  ratePerSecond: null,
  producers: 1,
  partitions: 4,
  replication: 1,
  acks: 'all',
  compression: 'none',
  batchBytes: 512 * 1024,
  lingerMs: 2,
  maxSeconds: 60,
  natsWindow: 256,
  natsLeanWindow: 65_536,
};

/**
 * Payload bytes a max-rate run keeps outstanding at most, whatever its record window says: with
 * large records a record-count window would queue so much that the run's tail (waiting for the
 * queue to drain after the deadline) dominates its duration.
 */
export const OUTSTANDING_BYTES_MAX = 16 * 1024 * 1024;

/** `windowRecords`, lowered so that the records outstanding hold at most OUTSTANDING_BYTES_MAX (never below `floorRecords`). */
export function windowWithinBytes(windowRecords: number, recordBytes: number, floorRecords: number): number {
  return Math.max(floorRecords, Math.min(windowRecords, Math.floor(OUTSTANDING_BYTES_MAX / Math.max(1, recordBytes))));
}

/** A record value: `recordBytes` bytes of a repeating pattern (incompressible enough to be honest, cheap to make). */
export function makePayload(recordBytes: number): Buffer {
  assert(Number.isSafeInteger(recordBytes) && recordBytes >= 0);
  const payload = Buffer.allocUnsafe(recordBytes);
  let state = 0x9e3779b9;
  for (let i = 0; i < recordBytes; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    payload[i] = state & 0xff;
  }
  return payload;
}

/** Bytes of an end-to-end record's value that carry its intended send time (a float64, ns). */
export const E2E_TIMESTAMP_BYTES = 8;

/** A copy of `template` stamped with the intended send time, for end-to-end latency. */
export function stampedPayload(template: Buffer, intendedNs: number): Buffer {
  assert(template.length >= E2E_TIMESTAMP_BYTES, `end-to-end records need at least ${E2E_TIMESTAMP_BYTES} bytes`);
  const payload = Buffer.from(template);
  payload.writeDoubleLE(intendedNs, 0);
  return payload;
}

export function readStamp(payload: Uint8Array): number {
  return Buffer.from(payload.buffer, payload.byteOffset, E2E_TIMESTAMP_BYTES).readDoubleLE(0);
}

/** A topic name unique to this run (so repeated runs against one broker start empty). */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
