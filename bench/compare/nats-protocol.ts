/**
 * A lean NATS client over node:net that speaks just enough of the text protocol for the
 * benchmark's lean JetStream publisher and push consumer: CONNECT, PING/PONG, SUB, PUB (frames
 * packed into large write buffers) and the server's INFO, MSG, HMSG, +OK and -ERR.
 *
 * Protocol frames (all lines end in CRLF):
 *   PUB <subject> [reply] <#bytes>\r\n<payload>\r\n
 *   SUB <subject> <sid>\r\n
 *   MSG <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n
 *   HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n
 */
import assert from 'node:assert';
import { connect as connectTcp, type Socket } from 'node:net';

const CRLF = Buffer.from('\r\n');
/** Size of one write buffer; frames are packed into it and it is written when full or at the end of a turn. */
const WRITE_CHUNK_BYTES = 256 * 1024;
/** Longest control line accepted from the server (a MSG line with long subjects, an INFO). */
const CONTROL_LINE_BYTES_MAX = 64 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

/** One message from the server. `headers` and `payload` are views into the received bytes. */
export interface NatsMessage {
  readonly subject: string;
  readonly sid: number;
  readonly reply: string | null;
  /** Raw header block ("NATS/1.0 ...\r\n...\r\n\r\n") of an HMSG; null for MSG. */
  readonly headers: Buffer | null;
  readonly payload: Buffer;
}

export interface ProtocolHandlers {
  onMessage(message: NatsMessage): void;
  onInfo(info: Record<string, unknown>): void;
  onPing(): void;
  onPong(): void;
  onError(text: string): void;
}

/** The protocol violation or server error that ended a connection. */
export class NatsProtocolError extends Error {
  override readonly name = 'NatsProtocolError';
}

/**
 * Incremental parser of what the server sends: feed it chunks as they arrive; it calls the
 * handlers once per complete operation and keeps an incomplete tail for the next chunk.
 */
export class NatsProtocolReader {
  private pending: Buffer | null = null;

  constructor(private readonly handlers: ProtocolHandlers) {}

  feed(chunk: Buffer): void {
    const buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let position = 0;
    while (position < buffer.length) {
      const lineEnd = buffer.indexOf(CRLF, position);
      if (lineEnd < 0) {
        if (buffer.length - position > CONTROL_LINE_BYTES_MAX) throw new NatsProtocolError('control line too long');
        break;
      }
      const consumed = this.operation(buffer, position, lineEnd);
      if (consumed < 0) break; // a message whose payload has not fully arrived
      position = consumed;
    }
    if (position < buffer.length) this.pending = buffer.subarray(position);
  }

  /** Handles the operation whose control line is buffer[start, lineEnd); returns where the next starts, or -1 when incomplete. */
  private operation(buffer: Buffer, start: number, lineEnd: number): number {
    const line = buffer.toString('latin1', start, lineEnd);
    const next = lineEnd + 2;
    if (line.startsWith('MSG ') || line.startsWith('HMSG ')) return this.message(buffer, line, next);
    if (line === 'PING') this.handlers.onPing();
    else if (line === 'PONG') this.handlers.onPong();
    else if (line === '+OK') {
      // verbose mode only; nothing to do
    } else if (line.startsWith('INFO ')) this.handlers.onInfo(JSON.parse(line.slice(5)) as Record<string, unknown>);
    else if (line.startsWith('-ERR')) this.handlers.onError(line.slice(4).trim().replace(/^'|'$/g, ''));
    else throw new NatsProtocolError(`unexpected operation from the server: ${JSON.stringify(line.slice(0, 80))}`);
    return next;
  }

  private message(buffer: Buffer, line: string, payloadStart: number): number {
    const withHeaders = line.charCodeAt(0) === 0x48; // 'H'
    const parts = line.split(' ');
    // MSG subject sid [reply] size | HMSG subject sid [reply] headerSize totalSize
    const fixed = withHeaders ? 5 : 4;
    if (parts.length !== fixed && parts.length !== fixed + 1) throw new NatsProtocolError(`malformed ${parts[0]} line: ${JSON.stringify(line.slice(0, 120))}`);
    const hasReply = parts.length === fixed + 1;
    const totalBytes = Number(parts[parts.length - 1]);
    const headerBytes = withHeaders ? Number(parts[parts.length - 2]) : 0;
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0 || !Number.isSafeInteger(headerBytes) || headerBytes < 0 || headerBytes > totalBytes) {
      throw new NatsProtocolError(`malformed sizes in ${JSON.stringify(line.slice(0, 120))}`);
    }
    const end = payloadStart + totalBytes;
    if (buffer.length < end + 2) return -1;
    this.handlers.onMessage({
      subject: parts[1],
      sid: Number(parts[2]),
      reply: hasReply ? parts[3] : null,
      headers: withHeaders ? buffer.subarray(payloadStart, payloadStart + headerBytes) : null,
      payload: buffer.subarray(payloadStart + headerBytes, end),
    });
    return end + 2;
  }
}

export interface LeanConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly name: string;
}

/**
 * A connection: publish() packs PUB frames into a write buffer that goes out once per turn of the
 * event loop (or when full); subscribe() routes MSG/HMSG by sid to a handler.
 */
export class LeanNatsConnection {
  private readonly handlers = new Map<number, (message: NatsMessage) => void>();
  private nextSid = 1;
  private chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
  private used = 0;
  private flushScheduled = false;
  private readonly pongWaiters: Array<() => void> = [];
  private failure: Error | null = null;
  private readonly failureListeners: Array<(error: Error) => void> = [];

  private constructor(private readonly socket: Socket) {}

  /** Connects: waits for INFO, sends CONNECT and PING, resolves on the PONG. */
  static connect(options: LeanConnectionOptions): Promise<LeanNatsConnection> {
    const socket = connectTcp({ host: options.host, port: options.port, noDelay: true });
    const connection = new LeanNatsConnection(socket);
    return new Promise<LeanNatsConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NatsProtocolError(`no answer from nats-server ${options.host}:${options.port} within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      let greeted = false;
      const reader = new NatsProtocolReader({
        onMessage: (message) => connection.handlers.get(message.sid)?.(message),
        onInfo: () => {
          if (greeted) return;
          greeted = true;
          const connect = { verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, lang: 'brook-bench', version: '1', name: options.name };
          socket.write(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
          connection.pongWaiters.push(() => {
            clearTimeout(timer);
            resolve(connection);
          });
        },
        onPing: () => socket.write('PONG\r\n'),
        onPong: () => connection.pongWaiters.shift()?.(),
        onError: (text) => connection.fail(new NatsProtocolError(`nats-server: ${text}`)),
      });
      socket.on('data', (data: Buffer) => {
        try {
          reader.feed(data);
        } catch (error) {
          connection.fail(error instanceof Error ? error : new Error(String(error)));
          socket.destroy();
        }
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        connection.fail(error);
        reject(error);
      });
      socket.on('close', () => connection.fail(new NatsProtocolError('connection closed')));
    });
  }

  /** Called once when the connection fails (server error, closed socket). */
  onFailure(listener: (error: Error) => void): void {
    if (this.failure !== null) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const waiter of this.pongWaiters.splice(0)) waiter();
    for (const listener of this.failureListeners.splice(0)) listener(error);
  }

  subscribe(subject: string, handler: (message: NatsMessage) => void): number {
    const sid = this.nextSid++;
    this.handlers.set(sid, handler);
    this.writeText(`SUB ${subject} ${sid}\r\n`);
    return sid;
  }

  /** Queues a PUB frame; frames go out together at the end of this turn of the event loop. */
  publish(subject: string, reply: string | null, payload: Uint8Array): void {
    const line = reply === null ? `PUB ${subject} ${payload.length}\r\n` : `PUB ${subject} ${reply} ${payload.length}\r\n`;
    const frameBytes = line.length + payload.length + 2;
    if (this.used + frameBytes > this.chunk.length) this.writeChunk(frameBytes);
    this.used += this.chunk.write(line, this.used, 'latin1');
    this.chunk.set(payload, this.used);
    this.used += payload.length;
    this.chunk[this.used++] = 0x0d;
    this.chunk[this.used++] = 0x0a;
    this.scheduleFlush();
  }

  /** True while the socket's write buffer is over its high-water mark: wait for drained(). */
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('drain', () => resolve()));
  }

  /** Sends what is queued and a PING; resolves on the PONG (the server has processed everything before it). */
  roundTrip(): Promise<void> {
    this.writeText('PING\r\n');
    return new Promise((resolve) => this.pongWaiters.push(resolve));
  }

  get error(): Error | null {
    return this.failure;
  }

  close(): void {
    this.writeChunk(0);
    this.socket.end();
  }

  private writeText(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.used + bytes > this.chunk.length) this.writeChunk(bytes);
    this.used += this.chunk.write(text, this.used);
    this.scheduleFlush();
  }

  /** Writes the queued frames; makes room for at least `nextFrameBytes`. */
  private writeChunk(nextFrameBytes: number): void {
    if (this.used > 0) {
      this.socket.write(this.chunk.subarray(0, this.used));
    }
    this.chunk = Buffer.allocUnsafe(Math.max(WRITE_CHUNK_BYTES, nextFrameBytes));
    this.used = 0;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.used > 0) this.writeChunk(0);
    });
  }
}

/** Splits "nats://host:port" into host and port. */
export function parseNatsUrl(url: string): { host: string; port: number } {
  const match = /^(?:nats:\/\/)?([^:/]+):(\d+)$/.exec(url.trim());
  assert(match !== null, `not a nats://host:port URL: ${url}`);
  return { host: match[1], port: Number(match[2]) };
}
