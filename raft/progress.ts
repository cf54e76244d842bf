import assert from 'node:assert/strict';
import type { ProgressStateName } from './types.js';

/**
 * The leader's view of one peer's log and its flow control.
 *
 * - probe: the leader does not know where the peer's log matches its own. It sends one Append at a
 *   time and waits for the answer (or a heartbeat response) before sending the next.
 * - replicate: the peer's log matches up to `match`; the leader streams Appends optimistically,
 *   advancing `next` as it sends, within an in-flight window bounded in messages and bytes.
 * - snapshot: the peer needs entries the leader has compacted; one snapshot is on its way and
 *   nothing else is sent until the driver reports how it went or the peer answers.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressStateName = 'probe';
  /** Probe mode: an Append is outstanding; wait for its answer before sending another. */
  probeSent = false;
  /** Snapshot mode: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from the peer during the current check-quorum window. */
  recentActive = false;
  isLearner: boolean;

  /** Last index and data bytes of each Append in flight (replicate mode), oldest first. */
  private inflightLast: number[] = [];
  private inflightBytesEach: number[] = [];
  private inflightBytesTotal = 0;

  constructor(
    next: number,
    isLearner: boolean,
    private readonly maxInflightMessages: number,
    private readonly maxInflightBytes: number,
  ) {
    assert.ok(next >= 1);
    assert.ok(maxInflightMessages >= 1 && maxInflightBytes >= 1, 'in-flight limits must be positive');
    this.next = next;
    this.isLearner = isLearner;
  }

  /** True when the leader must not send this peer another Append now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflightFull();
      case 'snapshot':
        return true;
    }
  }

  inflightFull(): boolean {
    return this.inflightLast.length >= this.maxInflightMessages || this.inflightBytesTotal >= this.maxInflightBytes;
  }

  inflightCount(): number {
    return this.inflightLast.length;
  }

  becomeProbe(): void {
    // After a snapshot, the peer's log ends at least at the snapshot.
    const floor = this.state === 'snapshot' ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.resetState('probe');
    this.next = floor + 1;
  }

  /**
   * The peer's log ends at `lastIndex`, below what it acknowledged: its storage lost entries it
   * had made durable (it found them damaged and cut them). Lowering match is always safe — the
   * commit index never moves back — and the peer is probed from its real end.
   */
  lostEntriesAfter(lastIndex: number): void {
    assert.ok(lastIndex < this.match, `lostEntriesAfter(${lastIndex}) with match ${this.match}`);
    this.match = lastIndex;
    this.becomeProbe();
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records that an Append ending at `lastIndex` (with `bytes` of data) left for this peer. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      assert.ok(lastIndex >= this.next - 1);
      this.next = lastIndex + 1;
      this.inflightLast.push(lastIndex);
      this.inflightBytesEach.push(bytes);
      this.inflightBytesTotal += bytes;
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      assert.fail('entries sent to a peer in snapshot state');
    }
  }

  /** The peer acknowledged its log matches ours through `index`; returns whether that was news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.freeInflightsThrough(index);
    return updated;
  }

  /**
   * The peer rejected an Append whose previous index was `rejected`. `probePrevious` is where the
   * leader's back-off search says the logs may match. Returns false for a stale rejection.
   */
  maybeDecrease(rejected: number, probePrevious: number): boolean {
    if (this.state === 'replicate') {
      // In replicate mode `match` is known; a rejection at or below it is an old message.
      if (rejected <= this.match) return false;
      this.becomeProbe();
      return true;
    }
    // In probe mode only the answer to the one outstanding probe counts.
    if (this.next - 1 !== rejected) return false;
    assert.ok(probePrevious < rejected, `back-off to ${probePrevious} does not move below ${rejected}`);
    // Both candidates are entry ends in the leader's log, so `next` stays an entry start.
    const next = Math.max(probePrevious + 1, this.match + 1);
    if (next === this.next) {
      // The peer rejects the very index it acknowledged (`rejected` is `match` here): its storage
      // lost entries it had made durable (found them damaged and cut them; it votes for no one
      // until it holds them again). Lowering match is always safe — the commit index never moves
      // back — and lets the back-off reach where the peer's log really ends. A reordered old
      // rejection can land here too; it only costs a resend.
      assert.equal(rejected, this.match);
      this.match = probePrevious;
      this.next = probePrevious + 1;
      this.probeSent = false;
      return true;
    }
    this.next = next;
    this.probeSent = false;
    return true;
  }

  /** Forgets the oldest in-flight Append (it was probably lost), reopening the window by one. */
  freeOldestInflight(): void {
    if (this.inflightLast.length === 0) return;
    this.inflightBytesTotal -= this.inflightBytesEach[0];
    this.inflightLast.shift();
    this.inflightBytesEach.shift();
  }

  private freeInflightsThrough(index: number): void {
    let k = 0;
    while (k < this.inflightLast.length && this.inflightLast[k] <= index) {
      this.inflightBytesTotal -= this.inflightBytesEach[k];
      k++;
    }
    if (k === 0) return;
    this.inflightLast.splice(0, k);
    this.inflightBytesEach.splice(0, k);
  }

  private resetState(state: ProgressStateName): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflightLast = [];
    this.inflightBytesEach = [];
    this.inflightBytesTotal = 0;
  }
}
