import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { LeanNatsConnection, NatsProtocolError, NatsProtocolReader, type NatsMessage } from '../../bench/compare/nats-protocol.js';

function collectingReader() {
  const messages: NatsMessage[] = [];
  const events: string[] = [];
  const reader = new NatsProtocolReader({
    onMessage: (message) => messages.push({ ...message, headers: message.headers === null ? null : Buffer.from(message.headers), payload: Buffer.from(message.payload) }),
    onInfo: (info) => events.push(`INFO ${info.server_id}`),
    onPing: () => events.push('PING'),
    onPong: () => events.push('PONG'),
    onError: (text) => events.push(`ERR ${text}`),
  });
  return { reader, messages, events };
}

const FLOW_CONTROL_HEADERS = 'NATS/1.0 100 FlowControl Request\r\n\r\n';
const SERVER_BYTES = Buffer.from(
  'INFO {"server_id":"S1","max_payload":1048576}\r\n' +
  'MSG _INBOX.a.7 1 22\r\n{"stream":"s","seq":7}\r\n' +
  'PING\r\n' +
  `HMSG _INBOX.d.0 2 $JS.FC.s.c.x ${FLOW_CONTROL_HEADERS.length} ${FLOW_CONTROL_HEADERS.length}\r\n${FLOW_CONTROL_HEADERS}\r\n` +
  'MSG deliver.0 3 $JS.ACK.s.c.1.1.1 5\r\nab\r\nc\r\n' +
  "-ERR 'Slow Consumer'\r\n",
);

test('the reader parses INFO, MSG, HMSG, PING and -ERR, whole or split at every byte', () => {
  for (const step of [SERVER_BYTES.length, 1, 3, 7]) {
    const { reader, messages, events } = collectingReader();
    for (let i = 0; i < SERVER_BYTES.length; i += step) reader.feed(SERVER_BYTES.subarray(i, i + step));
    assert.deepEqual(events, ['INFO S1', 'PING', 'ERR Slow Consumer'], `step ${step}`);
    assert.equal(messages.length, 3);
    assert.deepEqual([messages[0].subject, messages[0].sid, messages[0].reply, messages[0].payload.toString()], ['_INBOX.a.7', 1, null, '{"stream":"s","seq":7}']);
    assert.equal(messages[1].reply, '$JS.FC.s.c.x');
    assert.equal(messages[1].headers!.toString(), FLOW_CONTROL_HEADERS);
    assert.equal(messages[1].payload.length, 0);
    // A payload holding CRLF is taken by its size, not split at the CRLF.
    assert.deepEqual([messages[2].reply, messages[2].payload.toString()], ['$JS.ACK.s.c.1.1.1', 'ab\r\nc']);
  }
});

test('the reader rejects an operation it does not know', () => {
  const { reader } = collectingReader();
  assert.throws(() => reader.feed(Buffer.from('HELLO\r\n')), NatsProtocolError);
  assert.throws(() => collectingReader().reader.feed(Buffer.from('MSG a b\r\n')), NatsProtocolError);
});

/** A fake nats-server: greets, answers PING, records what the client sent, acks each PUB with a reply. */
async function fakeServer(): Promise<{ port: number; received: () => string; close: () => Promise<void> }> {
  let received = '';
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.write('INFO {"server_id":"FAKE","headers":true}\r\n');
    let seq = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      for (const match of chunk.toString('latin1').matchAll(/PUB (\S+) (\S+) (\d+)\r\n/g)) {
        seq++;
        const ack = `{"stream":"s","seq":${seq}}`;
        // Acks go out in two writes split mid-frame, as TCP may deliver them.
        const frame = `MSG ${match[2]} 1 ${ack.length}\r\n${ack}\r\n`;
        socket.write(frame.slice(0, 9));
        socket.write(frame.slice(9));
      }
      if (/PING\r\n/.test(chunk.toString('latin1'))) socket.write('PONG\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => received,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

test('the lean connection sends CONNECT, SUB and PUB frames with reply subjects, and counts acks on one wildcard subscription', async () => {
  const server = await fakeServer();
  try {
    const connection = await LeanNatsConnection.connect({ host: '127.0.0.1', port: server.port, name: 'test' });
    const acks: string[] = [];
    let allAcked: () => void = () => undefined;
    const done = new Promise<void>((resolve) => { allAcked = resolve; });
    connection.subscribe('_INBOX.t.*', (message) => {
      acks.push(`${message.subject} ${message.payload.toString()}`);
      if (acks.length === 3) allAcked();
    });
    const payloads = [Buffer.from('one'), Buffer.from('two\r\nlines'), Buffer.alloc(0)];
    payloads.forEach((payload, i) => connection.publish('bench.0', `_INBOX.t.${i}`, payload));
    await done;
    connection.close();
    const sent = server.received();
    const connect = /^CONNECT (\{.*\})\r\nPING\r\n/.exec(sent);
    assert.ok(connect !== null, `starts with CONNECT and PING: ${JSON.stringify(sent.slice(0, 80))}`);
    assert.equal(JSON.parse(connect[1]).headers, true);
    assert.ok(sent.includes('SUB _INBOX.t.* 1\r\n'));
    assert.ok(sent.includes('PUB bench.0 _INBOX.t.0 3\r\none\r\nPUB bench.0 _INBOX.t.1 10\r\ntwo\r\nlines\r\nPUB bench.0 _INBOX.t.2 0\r\n\r\n'), JSON.stringify(sent));
    assert.deepEqual(acks, ['_INBOX.t.0 {"stream":"s","seq":1}', '_INBOX.t.1 {"stream":"s","seq":2}', '_INBOX.t.2 {"stream":"s","seq":3}']);
  } finally {
    await server.close();
  }
});
