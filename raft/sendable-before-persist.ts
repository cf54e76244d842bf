import { MessageType, type Message } from './types.js';

/**
 * Whether the driver may send `message` before the Ready it came in is durable.
 *
 * Only a leader's outbound replication traffic qualifies: Append, Heartbeat, Snapshot and
 * TimeoutNow carry the leader's term, which was made durable before it could win (its Vote
 * messages waited for the persist), and entries the leader has not yet made durable itself, which
 * is safe because the leader counts itself toward a commit only after advance(). Everything else
 * (votes, vote answers, append answers, read requests) promises something about this node's
 * durable state and must wait until the Ready's hard state and entries are on disk.
 */
export function sendableBeforePersist(message: Message): boolean {
  switch (message.type) {
    case MessageType.Append:
    case MessageType.Heartbeat:
    case MessageType.Snapshot:
    case MessageType.TimeoutNow:
      return true;
    default:
      return false;
  }
}
