/**
 * Whether this broker still hears from each peer broker, counted in Raft ticks. Quiesced groups
 * send nothing (raft/README.md, "Quiescence"), so their followers cannot notice a dead leader, nor
 * a quiesced leader a lost quorum, through the group itself; this one check per peer broker stands
 * in for the heartbeats of all of them. Every broker writes at least one frame per tick to each
 * connected peer (PeerTransport.keepAlive). A peer from which no frame arrived for
 * `silentTicksMax` ticks, or whose stream was lost, is silent: `onSilent` is called at once and
 * then on every tick until a frame arrives again, with how long the peer has been silent, so that
 * the caller can wake different groups at different lengths of silence, and also groups that went
 * quiet after the silence began.
 *
 * Ticks, not milliseconds: the broker's Raft clock waits for the disk (raft-ticker.ts), and a
 * peer's silence must be judged on the same clock as the election timeouts it stands in for.
 */
import assert from 'node:assert/strict';

export interface PeerLivenessOptions {
  /** Ticks without a frame from a peer after which it counts as silent. */
  readonly silentTicksMax: number;
  /** Frames received from a peer so far (any number that grows with every frame). */
  readonly framesReceivedFrom: (peer: number) => number | undefined;
  /**
   * A peer is silent: called when it falls silent and on every tick after, until a frame comes.
   * `ticksSinceHeard`: since its last frame; `streamLost`: its stream went away (not just quiet).
   */
  readonly onSilent: (peer: number, ticksSinceHeard: number, streamLost: boolean) => void;
}

interface PeerState {
  frames: number;
  heardTick: number;
  live: boolean;
  streamLost: boolean;
}

export class PeerLiveness {
  private readonly peers = new Map<number, PeerState>();
  private nowTick = 0;

  constructor(private readonly options: PeerLivenessOptions) {
    assert.ok(Number.isInteger(options.silentTicksMax) && options.silentTicksMax >= 1, `silentTicksMax must be a positive integer, got ${options.silentTicksMax}`);
  }

  /** The stream to `peer` is up: it is live from now on (and watched from now on). */
  connected(peer: number): void {
    this.peers.set(peer, { frames: this.options.framesReceivedFrom(peer) ?? 0, heardTick: this.nowTick, live: true, streamLost: false });
  }

  /** The stream to `peer` was lost: it is silent at once (also a peer whose stream came up before it was watched). */
  disconnected(peer: number): void {
    const state = this.peers.get(peer);
    if (state?.streamLost === true) return;
    const ticksSinceHeard = state === undefined ? 0 : this.nowTick - state.heardTick;
    this.peers.set(peer, { frames: this.options.framesReceivedFrom(peer) ?? 0, heardTick: this.nowTick - ticksSinceHeard, live: false, streamLost: true });
    this.options.onSilent(peer, ticksSinceHeard, true);
  }

  /** Ticks since a frame from `peer` arrived; 0 for a peer never watched. */
  ticksSinceHeard(peer: number): number {
    const state = this.peers.get(peer);
    return state === undefined ? 0 : this.nowTick - state.heardTick;
  }

  /** Whether `peer` is watched and was heard from within silentTicksMax ticks. */
  isLive(peer: number): boolean {
    return this.peers.get(peer)?.live === true;
  }

  /** One Raft tick: notes the peers heard from since the last one, and reports the silent ones. */
  tick(): void {
    this.nowTick += 1;
    for (const [peer, state] of this.peers) {
      const frames = this.options.framesReceivedFrom(peer);
      if (frames === undefined) {
        this.peers.delete(peer);
        continue;
      }
      if (frames !== state.frames) {
        state.frames = frames;
        state.heardTick = this.nowTick;
        state.live = true;
        state.streamLost = false;
        continue;
      }
      const silentTicks = this.nowTick - state.heardTick;
      if (state.live && silentTicks < this.options.silentTicksMax) continue;
      state.live = false;
      this.options.onSilent(peer, silentTicks, state.streamLost);
    }
  }
}
