/**
 * How the group clients treat the coordinator's error codes (Kafka's meanings). Kept beside the
 * groups client rather than in errors.ts's table because the membership state machine, not the
 * generic retry, decides what most of them mean: rejoin, reset the member id, find the
 * coordinator again, or give up.
 */
import { BrookError } from './errors.js';

export type GroupErrorAction =
  /** Find the coordinator again, then retry. */
  | 'find-coordinator'
  /** Retry the same request after a backoff. */
  | 'retry'
  /** The group is rebalancing or the member's generation is stale: rejoin. */
  | 'rejoin'
  /** The coordinator does not know this member: forget the member id and rejoin. */
  | 'reset-member'
  /** Nothing the client can do: surface to the application. */
  | 'fatal';

export const GROUP_ERROR_ACTIONS: Readonly<Record<string, GroupErrorAction>> = {
  NOT_COORDINATOR: 'find-coordinator',
  COORDINATOR_NOT_AVAILABLE: 'find-coordinator',
  COORDINATOR_LOAD_IN_PROGRESS: 'retry',
  REQUEST_TIMED_OUT: 'retry',
  NETWORK_EXCEPTION: 'find-coordinator',
  UNKNOWN_SERVER_ERROR: 'retry',
  REBALANCE_IN_PROGRESS: 'rejoin',
  ILLEGAL_GENERATION: 'rejoin',
  UNKNOWN_MEMBER_ID: 'reset-member',
  FENCED_INSTANCE_ID: 'fatal',
  INVALID_GROUP_ID: 'fatal',
  INCONSISTENT_GROUP_PROTOCOL: 'fatal',
  INVALID_SESSION_TIMEOUT: 'fatal',
  GROUP_MAX_SIZE_REACHED: 'fatal',
  GROUP_AUTHORIZATION_FAILED: 'fatal',
  NON_EMPTY_GROUP: 'fatal',
  GROUP_ID_NOT_FOUND: 'fatal',
  OFFSET_OUT_OF_RANGE: 'fatal',
  INVALID_REQUEST: 'fatal',
  UNKNOWN_TOPIC_OR_PARTITION: 'fatal',
};

export function groupErrorAction(code: string): GroupErrorAction {
  return GROUP_ERROR_ACTIONS[code] ?? 'fatal';
}

/** An error from the group coordinator, by ErrorCode name; `action` says what the client does next. */
export class GroupError extends BrookError {
  override readonly name = 'GroupError';
  readonly action: GroupErrorAction;

  constructor(code: string, detail?: string) {
    const action = groupErrorAction(code);
    super(detail ? `${code}: ${detail}` : code, { code, retriable: action === 'find-coordinator' || action === 'retry', refreshMetadata: action === 'find-coordinator' });
    this.action = action;
  }
}
