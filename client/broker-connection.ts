/**
 * One gRPC channel to one broker, with the flow-control window and message limits widened for
 * bulk produce and fetch, and every call bounded by a deadline. gRPC failures become the client's
 * typed errors here, so nothing above this file sees a grpc-js status.
 */
import * as grpc from '@grpc/grpc-js';
import { BrookError, ConnectionError, TimeoutError } from './errors.js';

/** Largest gRPC message either way: a fetch response or a produce request of many batches. */
export const GRPC_MESSAGE_BYTES_MAX = 256 * 1024 * 1024;
/** HTTP/2 flow-control window; the default 64 KiB throttles bulk transfers to a crawl. */
export const GRPC_FLOW_CONTROL_WINDOW_BYTES = 64 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc-node.flow_control_window': GRPC_FLOW_CONTROL_WINDOW_BYTES,
  'grpc.max_receive_message_length': GRPC_MESSAGE_BYTES_MAX,
  'grpc.max_send_message_length': GRPC_MESSAGE_BYTES_MAX,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
  // Each client gets its own connections: a new client must not inherit another client's
  // reconnect backoff to a broker that just came back.
  'grpc.use_local_subchannel_pool': 1,
};

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => grpc.ClientUnaryCall;

/** Translates a gRPC failure into a typed client error. */
export function translateGrpcError(error: grpc.ServiceError, address: string, method: string): BrookError {
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
    case grpc.status.INTERNAL:
      return new ConnectionError(`${method} to ${address}: ${error.details || error.message}`, error);
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(`${method} to ${address} timed out`);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new BrookError(`${method} to ${address}: ${error.details}`, { code: 'RESOURCE_EXHAUSTED', retriable: true, cause: error });
    default:
      return new BrookError(`${method} to ${address}: ${error.details || error.message}`, {
        code: grpc.status[error.code] ?? 'UNKNOWN',
        retriable: false,
        cause: error,
      });
  }
}

export class BrokerConnection {
  private readonly client: grpc.Client;
  private closed = false;
  /** Calls in progress, cancelled by close() so that nobody waits for a deadline on shutdown. */
  private readonly calls = new Set<grpc.ClientUnaryCall>();

  constructor(
    readonly address: string,
    serviceClient: grpc.ServiceClientConstructor,
  ) {
    this.client = new serviceClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** Calls a unary method with a deadline `timeoutMs` from now. */
  call<Response>(method: string, request: unknown, timeoutMs: number): Promise<Response> {
    if (this.closed) return Promise.reject(new ConnectionError(`connection to ${this.address} is closed`));
    const fn = (this.client as unknown as Record<string, UnaryMethod>)[method];
    if (typeof fn !== 'function') throw new Error(`the broker service has no method ${method}`);
    return new Promise<Response>((resolve, reject) => {
      const call = fn.call(this.client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
        this.calls.delete(call);
        if (error) reject(translateGrpcError(error, this.address, method));
        else resolve(response as Response);
      });
      this.calls.add(call);
    });
  }

  /** Opens a server stream (e.g. subscribe); the caller reads and ends it. */
  stream(method: string, request: unknown): grpc.ClientReadableStream<unknown> {
    const fn = (this.client as unknown as Record<string, (request: unknown, options?: grpc.CallOptions) => grpc.ClientReadableStream<unknown>>)[method];
    if (typeof fn !== 'function') throw new Error(`the broker service has no method ${method}`);
    return fn.call(this.client, request);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.calls) call.cancel();
    this.calls.clear();
    this.client.close();
  }
}
