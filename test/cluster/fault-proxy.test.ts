import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { FaultProxy } from '../fixtures/fault-proxy.js';

async function startEchoServer(): Promise<{ server: Server; address: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const bound = server.address() as { port: number };
  return { server, address: `127.0.0.1:${bound.port}`, sockets };
}

/** Resolves when the socket closes, whatever the reason (events.once would reject on 'error'). */
function closeOf(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Connects through `address`, sends `text`, resolves with what came back before `text.length` bytes or the close. */
async function roundTrip(address: string, text: string): Promise<{ echoed: string; error: string | undefined }> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const socket = connect({ host: '127.0.0.1', port });
  let echoed = '';
  let error: string | undefined;
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
  });
  socket.on('data', (chunk: Buffer) => {
    echoed += chunk.toString();
    if (echoed.length >= text.length) socket.end();
  });
  socket.write(text);
  await closeOf(socket);
  return { echoed, error };
}

test('forwards both ways, cut resets open connections and refuses new ones, heal forwards again', async () => {
  const echo = await startEchoServer();
  const proxy = await FaultProxy.start({ target: echo.address, name: 'a->b' });
  try {
    assert.notEqual(proxy.address, echo.address);
    const big = 'x'.repeat(1 << 20);
    assert.equal((await roundTrip(proxy.address, 'hello')).echoed, 'hello');
    assert.equal((await roundTrip(proxy.address, big)).echoed.length, big.length, 'a megabyte passes whole (backpressure through pipes)');

    // A long-lived connection, like a peer stream.
    const port = proxy.port;
    const open = connect({ host: '127.0.0.1', port });
    const openErrors: string[] = [];
    open.on('error', (e: NodeJS.ErrnoException) => openErrors.push(e.code ?? e.message));
    open.write('ping');
    await once(open, 'data');
    assert.equal(proxy.stats().open, 1);
    const closed = closeOf(open);
    proxy.cut();
    await closed;
    assert.deepEqual(openErrors, ['ECONNRESET'], 'the open connection is reset, not ended politely');
    assert.equal(proxy.stats().open, 0);
    // The target side is gone too.
    for (let i = 0; i < 50 && echo.sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(echo.sockets.size, 0, 'the connection to the target was closed as well');

    const refused = await roundTrip(proxy.address, 'while cut');
    assert.equal(refused.echoed, '', 'nothing passes while cut');
    assert.equal(proxy.stats().refused, 1);
    assert.equal(proxy.stats().severed, 1);

    proxy.heal();
    assert.equal((await roundTrip(proxy.address, 'again')).echoed, 'again');
    assert.ok(proxy.stats().bytes >= 2 * (5 + big.length + 4 + 5));
  } finally {
    await proxy.close();
    echo.server.close();
  }
});

test('a target that is down: the client connection is closed, the proxy keeps serving', async () => {
  const echo = await startEchoServer();
  const target = echo.address;
  await new Promise<void>((resolve) => echo.server.close(() => resolve()));
  const proxy = await FaultProxy.start({ target });
  try {
    const result = await roundTrip(proxy.address, 'nobody');
    assert.equal(result.echoed, '');
    assert.equal(proxy.stats().open, 0);
  } finally {
    await proxy.close();
  }
});
