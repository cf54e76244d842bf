/**
 * The history of a fault-injection run: every send, outcome, read and group commit, every fault
 * the nemesis injected, and what each replica holds after healing. One event per line of a JSON
 * lines file, in the order they were recorded; the events of one process are recorded in the
 * order they happened to it.
 *
 * Values are unique per send: a value names one send and is how acknowledgements and reads are
 * matched to it.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import assert from 'node:assert';

/** Run-wide facts, written first: the seed replays the run. */
export interface MetaEvent {
  type: 'meta';
  seed: number;
  startedAtMs: number;
  description?: string;
}

/** A producer began sending one value; partition is absent when the partitioner chooses. */
export interface SendEvent {
  type: 'send';
  process: string;
  topic: string;
  partition?: number;
  value: string;
  timeMs: number;
}

/** The broker acknowledged the value (acks=all) at this partition and offset. */
export interface AckEvent {
  type: 'ack';
  process: string;
  topic: string;
  value: string;
  partition: number;
  offset: number;
  timeMs: number;
}

/** The send definitely did not write: the broker rejected it before appending. */
export interface FailEvent {
  type: 'fail';
  process: string;
  value: string;
  error: string;
  timeMs: number;
}

/** The send's outcome is unknown (timed out, connection lost): it may or may not be in the log. */
export interface IndeterminateEvent {
  type: 'indeterminate';
  process: string;
  value: string;
  error: string;
  timeMs: number;
}

/** A consumer received the value at this partition and offset. */
export interface ReadEvent {
  type: 'read';
  consumer: string;
  topic: string;
  partition: number;
  offset: number;
  value: string;
  timeMs: number;
}

/** A consumer group committed this offset (the next offset to read) for the partition. */
export interface CommitEvent {
  type: 'commit';
  group: string;
  topic: string;
  partition: number;
  offset: number;
  timeMs: number;
}

/** A fault the nemesis injected (kill, pause, network partition, clock skew, disk fault...). */
export interface NemesisEvent {
  type: 'nemesis';
  kind: string;
  target: string;
  startMs: number;
  endMs: number;
}

/**
 * What one replica holds as committed, below endOffset, after healing: either every record as
 * [offset, value] pairs (control batches left out), or only their hash (see prefixHash).
 */
export interface ReplicaPrefixEvent {
  type: 'replica-prefix';
  broker: string;
  topic: string;
  partition: number;
  endOffset: number;
  hash?: string;
  records?: Array<[number, string]>;
  timeMs: number;
}

export type HistoryEvent =
  | MetaEvent
  | SendEvent
  | AckEvent
  | FailEvent
  | IndeterminateEvent
  | ReadEvent
  | CommitEvent
  | NemesisEvent
  | ReplicaPrefixEvent;

export type HistoryEventType = HistoryEvent['type'];

/** A history line that is not a well-formed event: the harness wrote something wrong. */
export class HistoryFormatError extends Error {
  constructor(message: string, readonly lineNumber: number) {
    super(`history line ${lineNumber}: ${message}`);
    this.name = 'HistoryFormatError';
  }
}

/** The key under which a partition's state is kept: topic and partition number. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/**
 * The hash a replica reports for its committed prefix: SHA-256 over "offset value\n" lines in
 * offset order, so a replica that reports a hash and one that reports records compare equal.
 */
export function prefixHash(records: ReadonlyArray<readonly [number, string]>): string {
  const hash = createHash('sha256');
  for (const [offset, value] of records) hash.update(`${offset} ${value}\n`);
  return hash.digest('hex');
}

type FieldKind = 'string' | 'number' | 'optional-number' | 'optional-string' | 'records';

const fieldsByType: Record<HistoryEventType, Record<string, FieldKind>> = {
  meta: { seed: 'number', startedAtMs: 'number', description: 'optional-string' },
  send: { process: 'string', topic: 'string', partition: 'optional-number', value: 'string', timeMs: 'number' },
  ack: { process: 'string', topic: 'string', value: 'string', partition: 'number', offset: 'number', timeMs: 'number' },
  fail: { process: 'string', value: 'string', error: 'string', timeMs: 'number' },
  indeterminate: { process: 'string', value: 'string', error: 'string', timeMs: 'number' },
  read: { consumer: 'string', topic: 'string', partition: 'number', offset: 'number', value: 'string', timeMs: 'number' },
  commit: { group: 'string', topic: 'string', partition: 'number', offset: 'number', timeMs: 'number' },
  nemesis: { kind: 'string', target: 'string', startMs: 'number', endMs: 'number' },
  'replica-prefix': {
    broker: 'string',
    topic: 'string',
    partition: 'number',
    endOffset: 'number',
    hash: 'optional-string',
    records: 'records',
    timeMs: 'number',
  },
};

function fieldIsValid(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'optional-number':
      return value === undefined || (typeof value === 'number' && Number.isFinite(value));
    case 'optional-string':
      return value === undefined || typeof value === 'string';
    case 'records':
      return (
        value === undefined ||
        (Array.isArray(value) &&
          value.every((pair) => Array.isArray(pair) && pair.length === 2 && Number.isInteger(pair[0]) && typeof pair[1] === 'string'))
      );
  }
}

/** Checks that a parsed object is a well-formed event; throws HistoryFormatError if not. */
export function validateHistoryEvent(candidate: unknown, lineNumber: number): HistoryEvent {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) {
    throw new HistoryFormatError('not a JSON object', lineNumber);
  }
  const object = candidate as Record<string, unknown>;
  const type = object.type;
  if (typeof type !== 'string' || !Object.hasOwn(fieldsByType, type)) {
    throw new HistoryFormatError(`unknown event type ${JSON.stringify(type)}`, lineNumber);
  }
  const fields = fieldsByType[type as HistoryEventType];
  for (const [name, kind] of Object.entries(fields)) {
    if (!fieldIsValid(kind, object[name])) {
      throw new HistoryFormatError(`${type}.${name} must be ${kind}, got ${JSON.stringify(object[name])}`, lineNumber);
    }
  }
  if (type === 'replica-prefix' && object.hash === undefined && object.records === undefined) {
    throw new HistoryFormatError('replica-prefix needs a hash or records', lineNumber);
  }
  return object as unknown as HistoryEvent;
}

/** Parses one line of a history file. */
export function parseHistoryLine(line: string, lineNumber: number): HistoryEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    throw new HistoryFormatError(`not JSON: ${(error as Error).message}`, lineNumber);
  }
  return validateHistoryEvent(parsed, lineNumber);
}

/** Default size of the writer's buffer: lines are written to the file when it fills. */
export const historyWriterBufferBytesDefault = 64 * 1024;

/**
 * Appends events to a JSON lines file. Memory stays bounded by bufferBytesMax however long the
 * run: the buffer goes to the file (a synchronous write, so an event is never held in a queue
 * that grows while the disk is slow) as soon as it fills.
 */
export class HistoryWriter {
  private readonly fd: number;
  private readonly buffer: Buffer;
  private bufferUsedBytes = 0;
  private closed = false;
  /** Events appended so far. */
  eventCount = 0;

  /** Creates (or truncates) the file at path. */
  constructor(path: string, readonly bufferBytesMax: number = historyWriterBufferBytesDefault) {
    assert.ok(bufferBytesMax >= 1024, 'bufferBytesMax must be at least 1 KiB');
    this.fd = openSync(path, 'w');
    this.buffer = Buffer.allocUnsafe(bufferBytesMax);
  }

  append(event: HistoryEvent): void {
    assert.ok(!this.closed, 'append after close');
    const line = JSON.stringify(event) + '\n';
    const lineBytes = Buffer.byteLength(line);
    if (this.bufferUsedBytes + lineBytes > this.bufferBytesMax) this.flush();
    if (lineBytes > this.bufferBytesMax) {
      writeAll(this.fd, Buffer.from(line));
    } else {
      this.bufferUsedBytes += this.buffer.write(line, this.bufferUsedBytes);
    }
    this.eventCount++;
  }

  /** Writes what is buffered to the file. */
  flush(): void {
    if (this.bufferUsedBytes === 0) return;
    writeAll(this.fd, this.buffer.subarray(0, this.bufferUsedBytes));
    this.bufferUsedBytes = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** Streams the events of a history file one at a time; blank lines are skipped. */
export async function* readHistory(path: string): AsyncGenerator<HistoryEvent> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    yield parseHistoryLine(line, lineNumber);
  }
}

/** Reads a whole history file into memory. */
export async function loadHistory(path: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const event of readHistory(path)) events.push(event);
  return events;
}
