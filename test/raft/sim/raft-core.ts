import type { ConfChange, Message, NodeId, ProposeResult, RaftStatus, Ready } from '../../../raft/types.js';

/**
 * The part of the Raft core's API that the simulator drives, written down here so that the
 * simulator's own files depend on a shape rather than on the class (one file, create-raft-core.ts,
 * binds the shape to raft/raft-node.ts).
 */
export interface RaftCore {
  tick(): void;
  step(message: Message): void;
  propose(data: Uint8Array, count: number): ProposeResult;
  proposeConfChange(change: ConfChange): ProposeResult;
  transferLeadership(to: NodeId): void;
  readIndex(requestContext: Uint8Array): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  status(): RaftStatus;
  isQuiesced(): boolean;
  wake(ticksSinceHeard: number): void;
}
