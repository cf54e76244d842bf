/**
 * The broker's gRPC server: message size limits, per-connection concurrency, wide HTTP/2
 * flow-control windows, binding, and graceful shutdown.
 */
import type { Http2Server, Http2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

export interface GrpcServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly service: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  /** More services served on the same listener (e.g. brook.v1.Groups). */
  readonly extraServices?: ReadonlyArray<{ readonly service: grpc.ServiceDefinition; readonly implementation: grpc.UntypedServiceImplementation }>;
  readonly requestMaxBytes: number;
  readonly responseMaxBytes: number;
  /** HTTP/2 max concurrent streams: calls in flight per client connection. */
  readonly streamsPerConnectionMax: number;
  readonly flowControlWindowBytes: number;
  readonly logger: Logger;
}

export interface RunningGrpcServer {
  readonly host: string;
  readonly port: number;
  /**
   * Stops accepting calls, lets in-flight calls finish for up to `graceMs`, then cancels the rest.
   * Resolves when the server is closed.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * grpc-js applies 'grpc-node.flow_control_window' to its clients only; its server keeps
 * HTTP/2's 64 KiB default windows, which cap a single connection's upload rate at one window
 * per round trip. The server's http2 servers are not exposed, so they are reached through
 * grpc-js's `http2Servers` map (present in grpc-js 1.10 to 1.14); when it is missing the broker
 * still works, with default windows, and says so in its log.
 */
function widenFlowControlWindows(server: grpc.Server, windowBytes: number, logger: Logger): boolean {
  const internal = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(internal instanceof Map) || internal.size === 0) {
    logger.warn('cannot reach the grpc-js http2 servers: HTTP/2 flow-control windows stay at their default');
    return false;
  }
  for (const http2Server of internal.keys()) {
    // Stream-level window, announced in the SETTINGS frame of every new connection.
    http2Server.updateSettings({ initialWindowSize: windowBytes });
    // Connection-level window: only a WINDOW_UPDATE can raise it, so send one per session.
    http2Server.on('session', (session: Http2Session) => {
      try {
        session.setLocalWindowSize(windowBytes);
      } catch (error) {
        logger.warn({ err: error }, 'setting the connection window failed');
      }
    });
  }
  return true;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.requestMaxBytes,
    'grpc.max_send_message_length': options.responseMaxBytes,
    'grpc.max_concurrent_streams': options.streamsPerConnectionMax,
  });
  server.addService(options.service, options.implementation);
  for (const extra of options.extraServices ?? []) server.addService(extra.service, extra.implementation);
  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error === null ? resolve(boundPort) : reject(error)));
  });
  widenFlowControlWindows(server, options.flowControlWindowBytes, options.logger);
  return {
    host: options.host,
    port,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          options.logger.warn({ graceMs }, 'in-flight calls did not finish in time: cancelling them');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
