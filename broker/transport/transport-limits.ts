/** Every bound the peer transport keeps, with units. Defaults suit a LAN cluster of a few brokers. */
export interface TransportLimits {
  /** Messages queued for one peer (Raft messages plus pending coalesced heartbeats); more are dropped. */
  readonly queueMessagesMax: number;
  /** Bytes queued for one peer (entry, snapshot and context bytes plus a fixed cost per message); more are dropped. */
  readonly queueBytesMax: number;
  /** A frame is closed once it holds this many bytes of messages (a single larger message still goes, alone). */
  readonly frameBytesTarget: number;
  /** Largest gRPC message (frame) sent or accepted; a message that alone exceeds it is dropped. */
  readonly frameBytesMax: number;
  /**
   * Encoded bytes handed to gRPC for one peer whose write has not completed; beyond it frames wait
   * in the queue (and the queue's limits apply). HTTP/2 flow control holds writes while the peer
   * does not read, so this bounds the memory a slow peer costs outside the queue.
   */
  readonly bytesInFlightMax: number;
  /** Frames in flight per peer, whatever their size (small heartbeat frames mostly). */
  readonly framesInFlightMax: number;
  /** HTTP/2 stream and connection flow-control window, both directions. */
  readonly flowControlWindowBytes: number;
  /**
   * Longest a coalesced heartbeat waits for company before it leaves in a frame of its own (when
   * no flushTick() and no other frame takes it first). Small against the Raft heartbeat interval.
   */
  readonly heartbeatLingerMs: number;
  /** First reconnect delay after a failed or lost stream. */
  readonly reconnectBackoffInitialMs: number;
  /** Reconnect delays double up to this. */
  readonly reconnectBackoffMaxMs: number;
  /** A dialed stream must show the peer's identity within this time or is abandoned. */
  readonly handshakeTimeoutMs: number;
  /** HTTP/2 PING interval that detects a dead connection when no frame flows. */
  readonly keepaliveTimeMs: number;
  /** A PING unanswered for this long closes the connection. */
  readonly keepaliveTimeoutMs: number;
  /** close() waits this long for streams to finish before cancelling them. */
  readonly closeGraceMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = Object.freeze({
  queueMessagesMax: 20_000,
  queueBytesMax: 64 * 1024 * 1024,
  frameBytesTarget: 1024 * 1024,
  frameBytesMax: 32 * 1024 * 1024,
  bytesInFlightMax: 8 * 1024 * 1024,
  framesInFlightMax: 64,
  flowControlWindowBytes: 8 * 1024 * 1024,
  heartbeatLingerMs: 5,
  reconnectBackoffInitialMs: 100,
  reconnectBackoffMaxMs: 5_000,
  handshakeTimeoutMs: 5_000,
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5_000,
  closeGraceMs: 1_000,
});
