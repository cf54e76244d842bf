/**
 * The controller's gRPC service (proto/controller-service.proto) on both sides: the service
 * definition and implementation the internal listener serves, and the clients a broker uses to
 * forward writes and send heartbeats to the controller leader. Unary calls only; every call has a
 * deadline, and a broker keeps one channel per peer.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFilePath } from '../../proto/proto-file-path.js';
import type { PeerService } from '../transport/peer-transport.js';
import type { WireWriteRequest, WireWriteResponse } from './controller-write.js';

export const CONTROLLER_SERVICE_NAME = 'brook.controller.service.v1.ControllerService';

/** Outcome of one heartbeat, as on the wire. */
export type HeartbeatStatus = 'OK' | 'NOT_CONTROLLER' | 'REGISTER';

export interface WireHeartbeatRequest {
  clusterId: string;
  brokerId: number;
  incarnation: number;
  leaderships: { groupId: number; leaderId: number; leaderEpoch: number }[];
}

export interface WireHeartbeatResponse {
  status: HeartbeatStatus;
  leaderHint: number;
}

/** What the service calls on this broker's controller. */
export interface ControllerServiceHandler {
  /** Resolves with the answer; rejects with ControllerRpcRefusal to fail the call with a status. */
  write(request: WireWriteRequest, deadlineMs: number): Promise<WireWriteResponse>;
  heartbeat(request: WireHeartbeatRequest): WireHeartbeatResponse;
}

/** Fails a call with a gRPC status (a caller from another cluster, a malformed request). */
export class ControllerRpcRefusal extends Error {
  override readonly name = 'ControllerRpcRefusal';
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** Channels back off at most this long between connection attempts, so a restarted leader is found quickly. */
const CHANNEL_RECONNECT_BACKOFF_MAX_MS = 1000;
const CHANNEL_RECONNECT_BACKOFF_INITIAL_MS = 100;

let cachedConstructor: grpc.ServiceClientConstructor | undefined;

function serviceClientConstructor(): grpc.ServiceClientConstructor {
  if (cachedConstructor !== undefined) return cachedConstructor;
  const definition = protoLoader.loadSync(protoFilePath('controller-service.proto'), LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { brook: { controller: { service: { v1: { ControllerService: grpc.ServiceClientConstructor } } } } };
  cachedConstructor = loaded.brook.controller.service.v1.ControllerService;
  return cachedConstructor;
}

/**
 * The service for PeerTransportOptions.services. `handler` is asked on every call, so the
 * transport can be built before the controller exists; calls meanwhile fail with UNAVAILABLE.
 * `defaultTimeoutMs` bounds a call that came without a deadline.
 */
export function controllerService(handler: () => ControllerServiceHandler | undefined, defaultTimeoutMs: number): PeerService {
  const unavailable = { code: grpc.status.UNAVAILABLE, details: 'the controller is not running on this broker' };
  const implementation: grpc.UntypedServiceImplementation = {
    Write: (call: grpc.ServerUnaryCall<WireWriteRequest, WireWriteResponse>, callback: grpc.sendUnaryData<WireWriteResponse>) => {
      const target = handler();
      if (target === undefined) return callback(unavailable);
      let pending: Promise<WireWriteResponse>;
      try {
        pending = target.write(call.request, deadlineOf(call.getDeadline(), defaultTimeoutMs));
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (response) => callback(null, response),
        (error: unknown) => callback(statusOf(error)),
      );
    },
    Heartbeat: (call: grpc.ServerUnaryCall<WireHeartbeatRequest, WireHeartbeatResponse>, callback: grpc.sendUnaryData<WireHeartbeatResponse>) => {
      const target = handler();
      if (target === undefined) return callback(unavailable);
      try {
        callback(null, target.heartbeat(call.request));
      } catch (error) {
        callback(statusOf(error));
      }
    },
  };
  return { definition: serviceClientConstructor().service, implementation };
}

function deadlineOf(deadline: grpc.Deadline, defaultTimeoutMs: number): number {
  const fallback = Date.now() + defaultTimeoutMs;
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) && ms < fallback ? ms : fallback;
}

function statusOf(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof ControllerRpcRefusal) return { code: error.code, details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Response) => void,
) => grpc.ClientUnaryCall;

/** One channel per peer broker, for the calls a broker makes to the controller leader. */
export class ControllerClients {
  private readonly clients = new Map<number, grpc.Client>();
  private closed = false;

  constructor(private readonly addresses: ReadonlyMap<number, string>) {}

  /** A forwarded write; `signal` cancels it (the caller saw the leader change meanwhile). */
  write(to: number, request: WireWriteRequest, timeoutMs: number, signal?: AbortSignal): Promise<WireWriteResponse> {
    return this.call<WireWriteRequest, WireWriteResponse>(to, 'Write', request, timeoutMs, signal);
  }

  heartbeat(to: number, request: WireHeartbeatRequest, timeoutMs: number): Promise<WireHeartbeatResponse> {
    return this.call<WireHeartbeatRequest, WireHeartbeatResponse>(to, 'Heartbeat', request, timeoutMs);
  }

  /** Closes every channel; calls in progress fail. */
  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private call<Request, Response>(to: number, method: string, request: Request, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const client = this.client(to);
      if (client === undefined) return reject(new Error(`no internal address known for broker ${to}`));
      const unary = (client as unknown as Record<string, UnaryMethod<Request, Response>>)[method].bind(client);
      const cancel = (): void => call.cancel();
      const call = unary(request, new grpc.Metadata(), { deadline: Date.now() + Math.max(1, timeoutMs) }, (error, response) => {
        signal?.removeEventListener('abort', cancel);
        if (error !== null) return reject(error);
        if (response === undefined) return reject(new Error(`empty ${method} response from broker ${to}`));
        resolve(response);
      });
      if (signal?.aborted === true) call.cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  private client(to: number): grpc.Client | undefined {
    if (this.closed) return undefined;
    const existing = this.clients.get(to);
    if (existing !== undefined) return existing;
    const address = this.addresses.get(to);
    if (address === undefined) return undefined;
    const Constructor = serviceClientConstructor();
    const client = new Constructor(address, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': CHANNEL_RECONNECT_BACKOFF_INITIAL_MS,
      'grpc.max_reconnect_backoff_ms': CHANNEL_RECONNECT_BACKOFF_MAX_MS,
      'grpc.use_local_subchannel_pool': 1,
    });
    this.clients.set(to, client);
    return client;
  }
}
