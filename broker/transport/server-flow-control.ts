/**
 * Widens the HTTP/2 flow-control windows of a grpc-js server.
 *
 * grpc-js reads 'grpc-node.flow_control_window' in its client transport only (1.14.x; the
 * server-side option is still an open proposal upstream), so an accepting broker would keep
 * Node's 64 KiB defaults and cap what its peer can push at one window per round trip. Node's own
 * http2 API has the settings: `Http2Server.updateSettings({ initialWindowSize })` for the
 * per-stream window announced to every new connection, and `Http2Session.setLocalWindowSize()`
 * for the connection window. grpc-js does not expose its http2 servers, so they are reached
 * through its `http2Servers` map; when that is missing the server still works, with the default
 * windows, and the caller is told.
 */
import type { Http2Server, Http2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

/** Applies `windowBytes` to every http2 server of `server` (call after bindAsync). Returns whether it could. */
export function widenServerFlowControl(server: grpc.Server, windowBytes: number, logger: Logger): boolean {
  const http2Servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) {
    logger.warn('grpc-js http2 servers not reachable: peer connections keep the 64 KiB HTTP/2 windows');
    return false;
  }
  for (const http2Server of http2Servers.keys()) {
    http2Server.updateSettings({ initialWindowSize: windowBytes });
    http2Server.on('session', (session: Http2Session) => {
      try {
        session.setLocalWindowSize(windowBytes);
      } catch (error) {
        logger.warn({ err: error }, 'could not widen a peer connection window');
      }
    });
  }
  return true;
}
