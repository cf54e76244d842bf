import assert from 'node:assert/strict';
import type { Message } from '../../raft/types.js';
import { MessageType } from '../../raft/types.js';
import type { GroupId } from './raft-codec.js';

/** Bytes counted per queued message on top of its payload: an upper bound of its protobuf framing. */
const MESSAGE_OVERHEAD_BYTES = 128;
/** Bytes counted per entry on top of its data. */
const ENTRY_OVERHEAD_BYTES = 48;
/** Bytes counted per pending coalesced heartbeat (its column values and map slot). */
export const HEARTBEAT_SLOT_BYTES = 32;

/** What happened to a message handed to the queue. */
export type EnqueueOutcome = 'queued' | 'coalesced' | 'superseded' | 'dropped-full' | 'dropped-oversize';

interface QueuedMessage {
  readonly groupId: GroupId;
  readonly message: Message;
  readonly bytes: number;
}

/** A frame in protobufjs shape, ready for Frame.encode, and what it holds. */
export interface OutgoingFrame {
  readonly frame: {
    envelopes: { groupId: GroupId; message: Message }[];
    heartbeats?: {
      heartbeatGroupIds: number[];
      heartbeatTerms: number[];
      heartbeatCommits: number[];
      responseGroupIds: number[];
      responseTerms: number[];
    };
  };
  /** Raft messages in the frame, coalesced heartbeats included. */
  readonly messages: number;
  /** Coalesced heartbeats (and responses) in the frame. */
  readonly heartbeats: number;
}

/** Bytes a message counts for against the queue and frame limits. */
export function messageCostBytes(message: Message): number {
  let bytes = MESSAGE_OVERHEAD_BYTES + (message.context?.length ?? 0);
  for (const entry of message.entries) bytes += ENTRY_OVERHEAD_BYTES + entry.data.length;
  if (message.snapshot !== undefined) {
    const conf = message.snapshot.conf;
    bytes += MESSAGE_OVERHEAD_BYTES + message.snapshot.data.length + 6 * (conf.voters.length + conf.learners.length);
  }
  return bytes;
}

/**
 * The messages waiting for one peer, bounded in messages and bytes. Raft messages keep their
 * order. Coalescible heartbeats wait in one slot per group and kind: a newer heartbeat of a
 * group replaces the older one (only the latest term and commit matter), so an unreachable peer
 * costs at most one heartbeat slot per group however long it stays away.
 *
 * When a limit is reached the new message is dropped: Raft recovers from lost messages by
 * itself (heartbeats repeat, appends are retried from the follower's answers), whereas blocking
 * would stall every group that shares this peer.
 */
export class PeerQueue {
  private items: QueuedMessage[] = [];
  private head = 0;
  private readonly heartbeats = new Map<GroupId, { term: number; commit: number }>();
  private readonly heartbeatResponses = new Map<GroupId, number>();
  private bytes = 0;

  constructor(
    private readonly messagesMax: number,
    private readonly bytesMax: number,
    /** A single message costing more than this can never be framed and is refused. */
    private readonly messageBytesMax: number,
  ) {
    assert.ok(messagesMax > 0 && bytesMax > 0 && messageBytesMax > 0, 'queue limits must be positive');
  }

  /** Messages waiting, coalesced heartbeats included. */
  get messageCount(): number {
    return this.items.length - this.head + this.heartbeats.size + this.heartbeatResponses.size;
  }

  get byteCount(): number {
    return this.bytes;
  }

  /** Raft messages (not coalesced heartbeats) wait. */
  get hasMessages(): boolean {
    return this.head < this.items.length;
  }

  /** Coalesced heartbeats wait. */
  get hasHeartbeats(): boolean {
    return this.heartbeats.size + this.heartbeatResponses.size > 0;
  }

  get isEmpty(): boolean {
    return this.messageCount === 0;
  }

  /** Queues a Raft message; `coalesce` says it may travel in the heartbeat columns. */
  push(groupId: GroupId, message: Message, coalesce: boolean): EnqueueOutcome {
    if (coalesce) return this.pushHeartbeat(groupId, message);
    const bytes = messageCostBytes(message);
    if (bytes > this.messageBytesMax) return 'dropped-oversize';
    if (!this.hasRoom(bytes)) return 'dropped-full';
    this.items.push({ groupId, message, bytes });
    this.bytes += bytes;
    return 'queued';
  }

  private pushHeartbeat(groupId: GroupId, message: Message): EnqueueOutcome {
    if (message.type === MessageType.Heartbeat) {
      const slot = this.heartbeats.get(groupId);
      if (slot !== undefined) {
        slot.term = message.term;
        slot.commit = message.commit;
        return 'superseded';
      }
      if (!this.hasRoom(HEARTBEAT_SLOT_BYTES)) return 'dropped-full';
      this.heartbeats.set(groupId, { term: message.term, commit: message.commit });
    } else {
      if (this.heartbeatResponses.has(groupId)) {
        this.heartbeatResponses.set(groupId, message.term);
        return 'superseded';
      }
      if (!this.hasRoom(HEARTBEAT_SLOT_BYTES)) return 'dropped-full';
      this.heartbeatResponses.set(groupId, message.term);
    }
    this.bytes += HEARTBEAT_SLOT_BYTES;
    return 'coalesced';
  }

  private hasRoom(bytes: number): boolean {
    return this.messageCount < this.messagesMax && this.bytes + bytes <= this.bytesMax;
  }

  /**
   * Takes the next frame: every pending heartbeat, then Raft messages in order until the frame
   * holds `frameBytesTarget` (always at least one message). Undefined when nothing waits.
   */
  takeFrame(frameBytesTarget: number): OutgoingFrame | undefined {
    if (this.isEmpty) return undefined;
    const envelopes: { groupId: GroupId; message: Message }[] = [];
    let frameBytes = 0;
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      if (envelopes.length > 0 && frameBytes + item.bytes > frameBytesTarget) break;
      envelopes.push({ groupId: item.groupId, message: item.message });
      frameBytes += item.bytes;
      this.bytes -= item.bytes;
      this.head += 1;
    }
    this.compact();
    const heartbeatCount = this.heartbeats.size + this.heartbeatResponses.size;
    if (heartbeatCount === 0) return { frame: { envelopes }, messages: envelopes.length, heartbeats: 0 };
    const frame = { envelopes, heartbeats: this.takeHeartbeats() };
    this.bytes -= heartbeatCount * HEARTBEAT_SLOT_BYTES;
    return { frame, messages: envelopes.length + heartbeatCount, heartbeats: heartbeatCount };
  }

  private takeHeartbeats(): NonNullable<OutgoingFrame['frame']['heartbeats']> {
    const columns = { heartbeatGroupIds: [] as number[], heartbeatTerms: [] as number[], heartbeatCommits: [] as number[], responseGroupIds: [] as number[], responseTerms: [] as number[] };
    for (const [groupId, slot] of this.heartbeats) {
      columns.heartbeatGroupIds.push(groupId);
      columns.heartbeatTerms.push(slot.term);
      columns.heartbeatCommits.push(slot.commit);
    }
    for (const [groupId, term] of this.heartbeatResponses) {
      columns.responseGroupIds.push(groupId);
      columns.responseTerms.push(term);
    }
    this.heartbeats.clear();
    this.heartbeatResponses.clear();
    return columns;
  }

  /** Drops the consumed prefix once it is large, so the array does not grow with throughput. */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Empties the queue (peer removed); returns how many messages were discarded. */
  clear(): number {
    const discarded = this.messageCount;
    this.items = [];
    this.head = 0;
    this.heartbeats.clear();
    this.heartbeatResponses.clear();
    this.bytes = 0;
    return discarded;
  }
}
