import { RaftNode } from '../../../raft/raft-node.js';
import type { LogStorage, RaftConfig } from '../../../raft/types.js';
import type { RaftCore } from './raft-core.js';

/** Binds the simulator's view of the core to the real class. */
export function createRaftCore(config: RaftConfig, storage: LogStorage): RaftCore {
  return new RaftNode(config, storage) as unknown as RaftCore;
}
