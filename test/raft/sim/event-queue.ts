import type { Message } from '../../../raft/types.js';

/** What a scheduled event does when its time comes. */
export enum EventKind {
  /** A node's logical clock ticks. */
  Tick = 0,
  /** A message arrives at `node`. */
  Deliver = 1,
  /** A node's outstanding disk writes become durable (its fsync returns). */
  DiskSync = 2,
  /** The fault scheduler and the clients act (once per scheduler interval). */
  Chaos = 3,
  /** A crashed node starts again from its disk. */
  Restart = 4,
  /** The transport tells a leader whether a snapshot reached its target (`peer`, `ok`). */
  SnapshotStatus = 5,
  /** A node loses power (scheduled right after an interesting moment: a vote granted, entries sent). */
  Crash = 6,
}

/**
 * One scheduled event. Records are pooled and reused by EventQueue, so callers must not keep a
 * reference after the event has been handled.
 */
export interface SimEvent {
  timeMs: number;
  sequence: number;
  kind: EventKind;
  node: number;
  /** The node incarnation the event belongs to; events of a crashed incarnation are ignored. */
  incarnation: number;
  peer: number;
  ok: boolean;
  message: Message | null;
}

/**
 * A binary min-heap of events ordered by (time, insertion sequence), so that events at the same
 * virtual time run in a deterministic order. Event records are recycled through a free list to keep
 * the simulator's hot loop from allocating.
 */
export class EventQueue {
  private heap: SimEvent[] = [];
  private free: SimEvent[] = [];
  private nextSequence = 0;

  get size(): number {
    return this.heap.length;
  }

  push(timeMs: number, kind: EventKind, node: number, incarnation: number, message: Message | null = null, peer = 0, ok = false): void {
    const event = this.free.pop() ?? { timeMs: 0, sequence: 0, kind, node: 0, incarnation: 0, peer: 0, ok: false, message: null };
    event.timeMs = timeMs;
    event.sequence = this.nextSequence++;
    event.kind = kind;
    event.node = node;
    event.incarnation = incarnation;
    event.peer = peer;
    event.ok = ok;
    event.message = message;
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = event;
  }

  /** Removes and returns the earliest event; hand it back with release() once handled. */
  pop(): SimEvent | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && before(heap[right], heap[left]) ? right : left;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  peekTimeMs(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0].timeMs;
  }

  release(event: SimEvent): void {
    event.message = null;
    this.free.push(event);
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  return x.timeMs < y.timeMs || (x.timeMs === y.timeMs && x.sequence < y.sequence);
}
