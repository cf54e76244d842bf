/**
 * Broker-to-broker transport for the Raft messages of every group on this broker: one gRPC
 * bidirectional stream per broker pair (the lower broker id dials), bounded per-peer queues that
 * drop rather than block, heartbeats of all groups coalesced into one frame per tick, identity
 * checked when a stream opens, and redialing with exponential backoff and jitter.
 *
 * When messages leave: Raft messages once the code that queued them returns to the event loop (a
 * microtask), so what one Ready sends shares a frame and nothing waits for the loop's next turn;
 * coalesced heartbeats with the next frame that leaves anyway, at flushTick(), or
 * `heartbeatLingerMs` after the first of them was queued, whichever is first. The linger gathers
 * heartbeat answers that replicas produce over several turns into one frame.
 *
 * Threading: everything runs on the event loop of the broker; onMessage is called from gRPC's
 * data events, one message at a time, envelopes of a frame in order and then its heartbeats.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Message } from '../../raft/types.js';
import { MessageType } from '../../raft/types.js';
import { PeerQueue } from './peer-queue.js';
import type { GroupId, WireFrame, WireHeartbeatBatch } from './raft-codec.js';
import { GROUP_ID_MAX, heartbeatMessage, InvalidFrameError, isCoalescibleHeartbeat, messageFromWire, uint64ToNumber } from './raft-codec.js';
import { connectMethodDefinition, loadRaftProto, RAFT_CONNECT_PATH } from './raft-proto.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { widenServerFlowControl } from './server-flow-control.js';
import type { TransportLimits } from './transport-limits.js';
import { DEFAULT_TRANSPORT_LIMITS } from './transport-limits.js';

/** Call metadata keys of the handshake (see proto/raft.proto). */
export const METADATA_CLUSTER_ID = 'brook-cluster-id';
export const METADATA_BROKER_ID = 'brook-broker-id';
export const METADATA_TARGET_BROKER_ID = 'brook-target-broker-id';

export type BrokerId = number;

/** A Frame with no envelopes and no heartbeats encodes to no bytes at all. */
const EMPTY_FRAME = Buffer.alloc(0);

export interface PeerTransportOptions {
  /** This broker's id (>= 1); also its Raft node id in every group. */
  readonly selfId: BrokerId;
  /** Streams between brokers of different clusters are refused. */
  readonly clusterId: string;
  /** host:port of the internal listener; port 0 picks a free one (see start()). */
  readonly listenAddress: string;
  /** Every other broker, by id, with its internal listener's host:port. */
  readonly peers: ReadonlyMap<BrokerId, string>;
  readonly limits?: Partial<TransportLimits>;
  readonly logger: Logger;
  /** Receives each Raft message from a peer with its group id. */
  readonly onMessage: (groupId: GroupId, message: Message) => void;
  /**
   * Told when the stream to a peer is established (true) or lost (false), e.g. to call
   * reportUnreachable on the replicas that lead groups with that peer. Not called by close().
   */
  readonly onPeerState?: (peerId: BrokerId, connected: boolean) => void;
  /** Jitter source in [0, 1); injected so tests and simulations can seed it. */
  readonly random?: () => number;
  /**
   * Further gRPC services the internal listener serves beside the Raft stream (the controller's
   * forwarded requests and heartbeats). Added to the server before it binds; their calls share
   * the listener's message size limit (frameBytesMax) and see no handshake of their own.
   */
  readonly services?: readonly PeerService[];
}

/** A gRPC service hosted on the internal listener (see PeerTransportOptions.services). */
export interface PeerService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

/** Counters of one peer, since start (a queue's contents are a snapshot). */
export interface PeerStats {
  readonly peerId: BrokerId;
  readonly address: string;
  /** True when this broker dials the peer (lower id); false when it waits for the peer's stream. */
  readonly dialer: boolean;
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly framesInFlight: number;
  readonly bytesInFlight: number;
  /** Raft messages written to the stream, coalesced heartbeats included. */
  readonly sentMessages: number;
  readonly sentFrames: number;
  /** Encoded frame bytes written. */
  readonly sentBytes: number;
  /** Frames that carried coalesced heartbeats. */
  readonly heartbeatFrames: number;
  readonly heartbeatsSent: number;
  /** Heartbeats replaced in the queue by a newer one of the same group before they left. */
  readonly heartbeatsSuperseded: number;
  /** Messages refused because the queue was full or the message larger than a frame may be. */
  readonly droppedMessages: number;
  readonly receivedMessages: number;
  readonly receivedFrames: number;
  /** Messages from the peer that could not be decoded into Raft messages (skipped). */
  readonly invalidMessages: number;
  readonly dialAttempts: number;
  /** Streams established (dialed or accepted). */
  readonly connects: number;
  /** Streams established after the first. */
  readonly reconnects: number;
  /** Streams lost or refused. */
  readonly disconnects: number;
  /** Handshakes that failed: the peer refused ours, or its identity was not the expected one. */
  readonly handshakeFailures: number;
}

export interface TransportStats {
  readonly peers: ReadonlyMap<BrokerId, PeerStats>;
  /** Inbound streams refused at the handshake (wrong cluster, unknown broker, wrong target). */
  readonly inboundRejected: number;
  /** send() calls for a broker that is not a known peer. */
  readonly unknownPeerDrops: number;
  /** Whether the server-side HTTP/2 windows could be widened (see server-flow-control.ts). */
  readonly serverWindowsWidened: boolean;
}

type Counters = { -readonly [K in Exclude<keyof PeerStats, 'peerId' | 'address' | 'dialer' | 'connected' | 'queuedMessages' | 'queuedBytes' | 'framesInFlight' | 'bytesInFlight'>]: number };
type ClientStream = grpc.ClientDuplexStream<Buffer, WireFrame>;
type ServerStream = grpc.ServerDuplexStream<WireFrame, Buffer>;
type FrameStream = ClientStream | ServerStream;

interface PeerLink {
  readonly id: BrokerId;
  address: string;
  readonly dialer: boolean;
  readonly queue: PeerQueue;
  readonly backoff: ReconnectBackoff;
  readonly counters: Counters;
  client?: grpc.Client;
  /** The established stream, when there is one. */
  stream?: FrameStream;
  /** A dialed stream waiting for the peer's identity. */
  pending?: ClientStream;
  framesInFlight: number;
  bytesInFlight: number;
  /** Pending coalesced heartbeats may leave in a frame of their own (linger elapsed or flushTick). */
  heartbeatsDue: boolean;
  /** counters.sentFrames at the last keepAlive(): a link that sent nothing since gets an empty frame. */
  sentFramesAtKeepAlive: number;
  redialTimer?: NodeJS.Timeout;
  handshakeTimer?: NodeJS.Timeout;
}

function newCounters(): Counters {
  return {
    sentMessages: 0, sentFrames: 0, sentBytes: 0,
    heartbeatFrames: 0, heartbeatsSent: 0, heartbeatsSuperseded: 0, droppedMessages: 0, receivedMessages: 0,
    receivedFrames: 0, invalidMessages: 0, dialAttempts: 0, connects: 0, reconnects: 0, disconnects: 0, handshakeFailures: 0,
  };
}

export class PeerTransport {
  private readonly limits: TransportLimits;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly links = new Map<BrokerId, PeerLink>();
  private readonly encodeFrame: (frame: object) => Uint8Array;
  private readonly method = connectMethodDefinition<WireFrame>();
  private server?: grpc.Server;
  private boundAddress?: string;
  /** A flush of every link is queued as a microtask (cleared when flushTick or close flushed first). */
  private flushQueued = false;
  private heartbeatLingerTimer?: NodeJS.Timeout;
  private started = false;
  private closed = false;
  private inboundRejected = 0;
  private unknownPeerDrops = 0;
  private serverWindowsWidened = false;

  constructor(private readonly options: PeerTransportOptions) {
    assert.ok(Number.isInteger(options.selfId) && options.selfId >= 1, 'selfId must be an integer >= 1');
    assert.ok(options.clusterId.length > 0, 'clusterId must not be empty');
    this.limits = Object.freeze({ ...DEFAULT_TRANSPORT_LIMITS, ...options.limits });
    assert.ok(this.limits.frameBytesTarget <= this.limits.frameBytesMax / 2, 'frameBytesTarget must leave room for one large message');
    this.logger = options.logger.child({ component: 'peer-transport', brokerId: options.selfId });
    this.random = options.random ?? Math.random;
    const { Frame } = loadRaftProto();
    this.encodeFrame = (frame) => Frame.encode(frame).finish();
    for (const [id, address] of options.peers) this.addLink(id, address);
  }

  /** The listener's host:port once started (with the real port when 0 was asked for). */
  get address(): string {
    assert.ok(this.boundAddress !== undefined, 'PeerTransport not started');
    return this.boundAddress;
  }

  /** Binds the internal listener and starts dialing the peers with higher ids. Resolves with the bound host:port. */
  async start(): Promise<string> {
    assert.ok(!this.started && !this.closed, 'start() may be called once, before close()');
    this.started = true;
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.limits.frameBytesMax,
      'grpc.max_send_message_length': this.limits.frameBytesMax,
      'grpc.keepalive_time_ms': this.limits.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': this.limits.keepaliveTimeoutMs,
    });
    server.addService({ Connect: this.method }, { Connect: (call: ServerStream) => this.accept(call) });
    for (const service of this.options.services ?? []) server.addService(service.definition, service.implementation);
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(this.options.listenAddress, grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error)));
      });
    } catch (error) {
      server.forceShutdown();
      throw error;
    }
    if (this.closed) {
      // close() ran while the port was being bound.
      server.forceShutdown();
      return `${this.options.listenAddress}`;
    }
    this.server = server;
    this.serverWindowsWidened = widenServerFlowControl(server, this.limits.flowControlWindowBytes, this.logger);
    const host = this.options.listenAddress.slice(0, this.options.listenAddress.lastIndexOf(':'));
    this.boundAddress = `${host}:${port}`;
    for (const link of this.links.values()) if (link.dialer) this.dial(link);
    this.logger.info({ address: this.boundAddress, peers: this.links.size }, 'peer transport listening');
    return this.boundAddress;
  }

  /**
   * Queues a Raft message of group `groupId` for broker `to`. Returns false when it was dropped
   * (unknown peer, queue full, message too large, transport closed); Raft copes with the loss.
   * Raft messages leave once the calling code returns (a microtask); coalesced heartbeats as the
   * file comment says. Call reportUnreachable on the replica when this returns false.
   */
  send(to: BrokerId, groupId: GroupId, message: Message): boolean {
    assert.ok(Number.isInteger(groupId) && groupId >= 0 && groupId <= GROUP_ID_MAX, `group id ${groupId} out of range`);
    const link = this.links.get(to);
    if (link === undefined || this.closed) {
      this.unknownPeerDrops += 1;
      return false;
    }
    const outcome = link.queue.push(groupId, message, isCoalescibleHeartbeat(message, this.options.selfId, to));
    if (outcome === 'dropped-full' || outcome === 'dropped-oversize') {
      link.counters.droppedMessages += 1;
      if (outcome === 'dropped-oversize') this.logger.warn({ peer: to, groupId }, 'message larger than a frame may be: dropped');
      return false;
    }
    if (outcome === 'superseded') link.counters.heartbeatsSuperseded += 1;
    if (outcome === 'queued') this.scheduleFlush();
    else this.scheduleHeartbeatLinger();
    return true;
  }

  /**
   * Writes everything queued for every connected peer now, heartbeats included. The broker calls
   * it right after ticking all its groups, so that tick's heartbeats leave as one frame per peer.
   */
  flushTick(): void {
    this.flushQueued = false;
    this.releaseHeartbeats();
  }

  /**
   * Writes an empty frame to every connected peer that was sent no frame since the last call, so
   * that each peer hears from this broker at least once per call even when its Raft groups are
   * quiesced and send nothing (see broker/cluster/peer-liveness.ts). The broker calls it every tick.
   */
  keepAlive(): void {
    for (const link of this.links.values()) {
      const stream = link.stream;
      const idle = link.counters.sentFrames === link.sentFramesAtKeepAlive;
      if (stream !== undefined && idle && link.framesInFlight < this.limits.framesInFlightMax) {
        const bytes = EMPTY_FRAME;
        link.counters.sentFrames += 1;
        link.framesInFlight += 1;
        stream.write(bytes, () => {
          if (link.stream !== stream) return;
          link.framesInFlight -= 1;
          this.flush(link);
        });
      }
      link.sentFramesAtKeepAlive = link.counters.sentFrames;
    }
  }

  /** Frames received from `peer` since start (keep-alive frames included); undefined for an unknown peer. Cheap. */
  framesReceivedFrom(peer: BrokerId): number | undefined {
    return this.links.get(peer)?.counters.receivedFrames;
  }

  /** Replaces the peer set: new peers are added (and dialed), gone ones dropped, moved ones redialed. */
  updatePeers(peers: ReadonlyMap<BrokerId, string>): void {
    assert.ok(!this.closed, 'updatePeers() after close()');
    for (const [id, link] of this.links) {
      const address = peers.get(id);
      if (address === undefined) {
        this.removeLink(link);
      } else if (address !== link.address) {
        this.logger.info({ peer: id, from: link.address, to: address }, 'peer moved');
        link.address = address;
        clearTimeout(link.redialTimer);
        link.redialTimer = undefined;
        this.dropStream(link, 'peer address changed');
        link.client?.close();
        link.client = undefined;
        if (link.dialer && this.started) this.dial(link);
      }
    }
    for (const [id, address] of peers) {
      if (this.links.has(id)) continue;
      const link = this.addLink(id, address);
      if (link.dialer && this.started) this.dial(link);
    }
  }

  /** Messages and bytes waiting for peer `to` (cheap; for callers that pace themselves). Undefined for an unknown peer. */
  queueDepth(to: BrokerId): { readonly messages: number; readonly bytes: number } | undefined {
    const link = this.links.get(to);
    return link === undefined ? undefined : { messages: link.queue.messageCount, bytes: link.queue.byteCount };
  }

  stats(): TransportStats {
    const peers = new Map<BrokerId, PeerStats>();
    for (const link of this.links.values()) {
      peers.set(link.id, {
        ...link.counters,
        peerId: link.id,
        address: link.address,
        dialer: link.dialer,
        connected: link.stream !== undefined,
        queuedMessages: link.queue.messageCount,
        queuedBytes: link.queue.byteCount,
        framesInFlight: link.framesInFlight,
        bytesInFlight: link.bytesInFlight,
      });
    }
    return { peers, inboundRejected: this.inboundRejected, unknownPeerDrops: this.unknownPeerDrops, serverWindowsWidened: this.serverWindowsWidened };
  }

  /**
   * Writes what is queued (as far as the frames-in-flight window allows), half-closes every
   * stream and waits up to closeGraceMs for the peers to finish them, then cancels what is left
   * and stops the listener. Leaves no timers or sockets behind; what could not be written is
   * discarded (a broker that must hand over leadership first waits for the transfer to complete).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flushQueued = false;
    this.releaseHeartbeats();
    this.closed = true;
    const deadlineMs = performance.now() + this.limits.closeGraceMs;
    const finished: Promise<void>[] = [];
    for (const link of this.links.values()) {
      clearTimeout(link.redialTimer);
      link.redialTimer = undefined;
      if (link.pending !== undefined) this.endStream(link, link.pending);
      const stream = link.stream;
      if (stream === undefined) continue;
      finished.push(new Promise<void>((resolve) => stream.once('close', resolve)));
      stream.end();
    }
    await this.within(deadlineMs, Promise.all(finished));
    for (const link of this.links.values()) this.removeLink(link);
    const server = this.server;
    if (server === undefined) return;
    const shutdown = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    if (!(await this.within(deadlineMs, shutdown))) server.forceShutdown();
  }

  /** Waits for `promise` until `deadlineMs` (performance.now() time); true when it settled in time. */
  private async within(deadlineMs: number, promise: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - performance.now()));
    });
    try {
      return await Promise.race([promise.then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private addLink(id: BrokerId, address: string): PeerLink {
    assert.ok(Number.isInteger(id) && id >= 1 && id !== this.options.selfId, `bad peer id ${id}`);
    const limits = this.limits;
    const link: PeerLink = {
      id,
      address,
      dialer: this.options.selfId < id,
      queue: new PeerQueue(limits.queueMessagesMax, limits.queueBytesMax, limits.frameBytesMax / 2),
      backoff: new ReconnectBackoff(limits.reconnectBackoffInitialMs, limits.reconnectBackoffMaxMs, this.random),
      counters: newCounters(),
      framesInFlight: 0,
      bytesInFlight: 0,
      heartbeatsDue: false,
      sentFramesAtKeepAlive: 0,
    };
    this.links.set(id, link);
    return link;
  }

  private removeLink(link: PeerLink): void {
    this.links.delete(link.id);
    clearTimeout(link.redialTimer);
    link.redialTimer = undefined;
    this.dropStream(link, 'peer removed');
    link.client?.close();
    link.client = undefined;
    link.queue.clear();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // A microtask, not setImmediate: an Append or an append answer is on the path of a produce
    // request's acknowledgement, and on a busy broker the next turn of the event loop can be
    // tens of milliseconds away. Messages queued by the same synchronous code (one Ready's) still
    // share a frame.
    queueMicrotask(() => {
      if (!this.flushQueued) return;
      this.flushQueued = false;
      for (const link of this.links.values()) this.flush(link);
    });
  }

  private scheduleHeartbeatLinger(): void {
    if (this.heartbeatLingerTimer !== undefined) return;
    this.heartbeatLingerTimer = setTimeout(() => this.releaseHeartbeats(), this.limits.heartbeatLingerMs);
  }

  /** Lets every peer's pending heartbeats leave, in a frame of their own if need be, and flushes. */
  private releaseHeartbeats(): void {
    clearTimeout(this.heartbeatLingerTimer);
    this.heartbeatLingerTimer = undefined;
    for (const link of this.links.values()) {
      if (link.queue.hasHeartbeats) link.heartbeatsDue = true;
      this.flush(link);
    }
  }

  /** Writes frames to the peer while its stream has room (bytesInFlightMax, framesInFlightMax not yet written out). */
  private flush(link: PeerLink): void {
    const stream = link.stream;
    if (stream === undefined) return;
    while (link.framesInFlight < this.limits.framesInFlightMax && link.bytesInFlight < this.limits.bytesInFlightMax) {
      // Heartbeats alone wait for their linger; Raft messages take them along when they leave.
      if (!link.queue.hasMessages && !link.heartbeatsDue) return;
      const outgoing = link.queue.takeFrame(this.limits.frameBytesTarget);
      if (outgoing === undefined) return;
      if (outgoing.heartbeats > 0) link.heartbeatsDue = false;
      const bytes = this.encodeFrame(outgoing.frame) as Buffer;
      assert.ok(bytes.length <= this.limits.frameBytesMax, `frame of ${bytes.length} bytes exceeds frameBytesMax`);
      const counters = link.counters;
      counters.sentFrames += 1;
      counters.sentMessages += outgoing.messages;
      counters.sentBytes += bytes.length;
      if (outgoing.heartbeats > 0) {
        counters.heartbeatFrames += 1;
        counters.heartbeatsSent += outgoing.heartbeats;
      }
      link.framesInFlight += 1;
      link.bytesInFlight += bytes.length;
      stream.write(bytes, () => {
        // Completions of a stream already replaced must not open the window of the new one.
        if (link.stream !== stream) return;
        link.framesInFlight -= 1;
        link.bytesInFlight -= bytes.length;
        this.flush(link);
      });
    }
  }

  // ---- dialing side ----

  private dial(link: PeerLink): void {
    if (this.closed || !this.links.has(link.id)) return;
    link.redialTimer = undefined;
    link.counters.dialAttempts += 1;
    link.client ??= new grpc.Client(link.address, grpc.credentials.createInsecure(), this.channelOptions());
    const metadata = new grpc.Metadata();
    metadata.set(METADATA_CLUSTER_ID, this.options.clusterId);
    metadata.set(METADATA_BROKER_ID, String(this.options.selfId));
    metadata.set(METADATA_TARGET_BROKER_ID, String(link.id));
    const call = link.client.makeBidiStreamRequest<Buffer, WireFrame>(RAFT_CONNECT_PATH, this.method.requestSerialize, this.method.responseDeserialize, metadata, {});
    link.pending = call;
    link.handshakeTimer = setTimeout(() => {
      link.counters.handshakeFailures += 1;
      this.lose(link, call, 'no handshake in time');
    }, this.limits.handshakeTimeoutMs);
    call.on('metadata', (reply: grpc.Metadata) => this.onHandshakeReply(link, call, reply));
    call.on('error', (error: grpc.ServiceError) => {
      if (error.code === grpc.status.FAILED_PRECONDITION) link.counters.handshakeFailures += 1;
      this.lose(link, call, error.details || error.message);
    });
    call.on('end', () => this.lose(link, call, 'peer ended the stream'));
  }

  private onHandshakeReply(link: PeerLink, call: ClientStream, reply: grpc.Metadata): void {
    if (link.pending !== call) return;
    const clusterId = reply.get(METADATA_CLUSTER_ID)[0];
    const brokerId = reply.get(METADATA_BROKER_ID)[0];
    if (clusterId !== this.options.clusterId || brokerId !== String(link.id)) {
      link.counters.handshakeFailures += 1;
      this.logger.warn({ peer: link.id, address: link.address, clusterId, brokerId }, 'peer identity does not match: stream dropped');
      this.lose(link, call, 'peer identity mismatch');
      return;
    }
    clearTimeout(link.handshakeTimer);
    link.handshakeTimer = undefined;
    link.pending = undefined;
    link.backoff.reset();
    call.on('data', (frame: WireFrame) => this.receive(link, frame));
    this.attach(link, call);
  }

  private channelOptions(): grpc.ChannelOptions {
    const limits = this.limits;
    return {
      'grpc-node.flow_control_window': limits.flowControlWindowBytes,
      'grpc.max_receive_message_length': limits.frameBytesMax,
      'grpc.max_send_message_length': limits.frameBytesMax,
      'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': limits.reconnectBackoffInitialMs,
      'grpc.max_reconnect_backoff_ms': limits.reconnectBackoffMaxMs,
      // Each broker pair gets its own connection even when several transports share a process.
      'grpc.use_local_subchannel_pool': 1,
    };
  }

  // ---- accepting side ----

  private accept(call: ServerStream): void {
    const clusterId = call.metadata.get(METADATA_CLUSTER_ID)[0];
    const fromText = call.metadata.get(METADATA_BROKER_ID)[0];
    const targetText = call.metadata.get(METADATA_TARGET_BROKER_ID)[0];
    const from = Number(fromText);
    const link = this.links.get(from);
    let refusal: string | undefined;
    if (this.closed) refusal = 'broker is shutting down';
    else if (clusterId !== this.options.clusterId) refusal = `cluster id mismatch: this broker belongs to ${JSON.stringify(this.options.clusterId)}, caller to ${JSON.stringify(clusterId)}`;
    else if (targetText !== String(this.options.selfId)) refusal = `wrong target broker ${String(targetText)}: this is broker ${this.options.selfId}`;
    else if (link === undefined) refusal = `broker ${String(fromText)} is not a known peer`;
    else if (link.dialer) refusal = `broker ${from} must wait for this broker's stream (the lower id dials)`;
    if (refusal !== undefined || link === undefined) {
      this.inboundRejected += 1;
      this.logger.warn({ from: fromText, peer: call.getPeer(), reason: refusal }, 'inbound peer stream refused');
      call.on('error', () => {});
      call.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: refusal });
      return;
    }
    const reply = new grpc.Metadata();
    reply.set(METADATA_CLUSTER_ID, this.options.clusterId);
    reply.set(METADATA_BROKER_ID, String(this.options.selfId));
    call.sendMetadata(reply);
    if (link.stream !== undefined) this.dropStream(link, 'replaced by a newer stream from the peer');
    call.on('data', (frame: WireFrame) => this.receive(link, frame));
    call.on('error', (error: Error) => this.lose(link, call, error.message));
    call.on('cancelled', () => this.lose(link, call, 'peer cancelled the stream'));
    call.on('end', () => this.lose(link, call, 'peer ended the stream'));
    this.attach(link, call);
  }

  // ---- both sides ----

  private attach(link: PeerLink, stream: FrameStream): void {
    link.stream = stream;
    link.framesInFlight = 0;
    link.bytesInFlight = 0;
    link.counters.connects += 1;
    if (link.counters.connects > 1) link.counters.reconnects += 1;
    this.logger.info({ peer: link.id, address: link.address, dialer: link.dialer }, 'peer stream established');
    this.options.onPeerState?.(link.id, true);
    this.flush(link);
  }

  /** A stream failed or ended: forget it and, on the dialing side, redial after a backoff. */
  private lose(link: PeerLink, stream: FrameStream, reason: string): void {
    if (link.stream !== stream && link.pending !== stream) return;
    const wasEstablished = link.stream === stream;
    this.endStream(link, stream);
    link.counters.disconnects += 1;
    if (this.closed || this.links.get(link.id) !== link) return;
    this.logger[wasEstablished ? 'warn' : 'debug']({ peer: link.id, address: link.address, reason }, 'peer stream lost');
    if (link.dialer && link.redialTimer === undefined) {
      const delayMs = link.backoff.nextDelayMs();
      link.redialTimer = setTimeout(() => this.dial(link), delayMs);
    }
  }

  /** Ends the link's current and pending streams without redialing. */
  private dropStream(link: PeerLink, reason: string): void {
    if (link.stream !== undefined) {
      this.logger.debug({ peer: link.id, reason }, 'dropping peer stream');
      this.endStream(link, link.stream);
    }
    if (link.pending !== undefined) this.endStream(link, link.pending);
  }

  private endStream(link: PeerLink, stream: FrameStream): void {
    const wasEstablished = link.stream === stream;
    if (wasEstablished) link.stream = undefined;
    if (link.pending === stream) {
      link.pending = undefined;
      clearTimeout(link.handshakeTimer);
      link.handshakeTimer = undefined;
    }
    link.framesInFlight = 0;
    link.bytesInFlight = 0;
    // Errors after this point concern a stream nobody uses any more.
    stream.on('error', () => {});
    if ('cancel' in stream) {
      stream.cancel();
    } else if (!stream.writableEnded) {
      stream.end();
    }
    if (wasEstablished && !this.closed) this.options.onPeerState?.(link.id, false);
  }

  private receive(link: PeerLink, frame: WireFrame): void {
    link.counters.receivedFrames += 1;
    for (const envelope of frame.envelopes) {
      let message: Message;
      try {
        if (envelope.message === null || envelope.message === undefined) throw new InvalidFrameError('envelope without a message');
        message = messageFromWire(envelope.message);
      } catch (error) {
        if (!(error instanceof InvalidFrameError)) throw error;
        link.counters.invalidMessages += 1;
        this.logger.warn({ peer: link.id, groupId: envelope.groupId, err: error }, 'invalid message from peer skipped');
        continue;
      }
      link.counters.receivedMessages += 1;
      this.options.onMessage(envelope.groupId, message);
    }
    if (frame.heartbeats !== null && frame.heartbeats !== undefined) this.receiveHeartbeats(link, frame.heartbeats);
  }

  private receiveHeartbeats(link: PeerLink, batch: WireHeartbeatBatch): void {
    const heartbeats = batch.heartbeatGroupIds.length;
    const responses = batch.responseGroupIds.length;
    if (batch.heartbeatTerms.length !== heartbeats || batch.heartbeatCommits.length !== heartbeats || batch.responseTerms.length !== responses) {
      link.counters.invalidMessages += heartbeats + responses;
      this.logger.warn({ peer: link.id }, 'heartbeat columns of unequal lengths: skipped');
      return;
    }
    const self = this.options.selfId;
    try {
      for (let i = 0; i < heartbeats; i += 1) {
        const message = heartbeatMessage(MessageType.Heartbeat, link.id, self, uint64ToNumber(batch.heartbeatTerms[i]), uint64ToNumber(batch.heartbeatCommits[i]));
        link.counters.receivedMessages += 1;
        this.options.onMessage(batch.heartbeatGroupIds[i], message);
      }
      for (let i = 0; i < responses; i += 1) {
        const message = heartbeatMessage(MessageType.HeartbeatResponse, link.id, self, uint64ToNumber(batch.responseTerms[i]), 0);
        link.counters.receivedMessages += 1;
        this.options.onMessage(batch.responseGroupIds[i], message);
      }
    } catch (error) {
      if (!(error instanceof InvalidFrameError)) throw error;
      link.counters.invalidMessages += 1;
      this.logger.warn({ peer: link.id, err: error }, 'invalid heartbeat from peer: rest of the batch skipped');
    }
  }
}
