/**
 * Moves a partition's Raft group to a new replica set, one membership change at a time, on the
 * broker that leads the group. The target comes from the cluster metadata (the partition's
 * `targetReplicas`); the progress made so far lives in the group's own configuration (its Raft
 * log), so a new leader picks the work up where the old one left it: every step is derived from
 * "the configuration now" and "the target", never from memory of earlier steps.
 *
 * The order of changes (the single-server changes of the Raft dissertation):
 * 1. each new member joins as a learner, and is promoted to voter once it has caught up
 *    (its match reaches the commit index), so the group never waits on an empty newcomer;
 * 2. learners and voters that are not in the target are removed, the leader itself last: it
 *    hands leadership to a caught-up target member first and lets the new leader remove it;
 * 3. when the voters are the target and the leader has committed an entry of its own term (so no
 *    change of an earlier term can still be lost), the metadata is told (`reassignmentDone`).
 */
import type { Logger } from 'pino';
import type { Clock } from '../storage/partition-log.js';
import type { Replica } from '../partition/replica.js';
import { MembershipChangeError, NotLeaderError } from '../partition/replica-errors.js';
import { ConfChangeType, Role, type ConfChange, type NodeId } from '../../raft/types.js';

/** After a refused or failed step (other than a retriable one), wait this long before the next. */
export const REASSIGNMENT_RETRY_MS = 1_000;
/** How long a leadership transfer to a target member may take before it is asked for again. */
export const REASSIGNMENT_TRANSFER_WAIT_MS = 2_000;
/** After reassignmentDone succeeded, ask again only if the metadata still shows the target this much later. */
export const REASSIGNMENT_DONE_RECHECK_MS = 5_000;

export interface ReassignmentDriverOptions {
  readonly nodeId: NodeId;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Tells the cluster metadata the move is finished: replicas := `replicas`, target := none. */
  readonly reassignmentDone: (groupId: number, replicas: readonly number[]) => Promise<void>;
}

interface GroupProgress {
  /** A membership change or the reassignmentDone call is in flight. */
  busy: boolean;
  /** No step before this time. */
  notBeforeMs: number;
}

/** What the driver decided for one group in one step (for logs and tests). */
export type ReassignmentStep =
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'change'; readonly change: ConfChange }
  | { readonly kind: 'transfer'; readonly to: NodeId }
  | { readonly kind: 'done' };

export class ReassignmentDriver {
  private readonly groups = new Map<number, GroupProgress>();

  constructor(private readonly options: ReassignmentDriverOptions) {}

  /** Groups with state kept (a step happened since the last forget). */
  get activeGroups(): number {
    return this.groups.size;
  }

  /**
   * Takes the next step for `groupId` towards `target`, when this replica leads the group and no
   * earlier step is still in flight. Called periodically by the replica manager for every group it
   * leads that has a target; cheap when there is nothing to do.
   */
  step(groupId: number, replica: Replica, target: readonly NodeId[]): ReassignmentStep {
    if (replica.role !== Role.Leader) return { kind: 'wait', reason: 'not the leader' };
    let progress = this.groups.get(groupId);
    if (progress === undefined) {
      progress = { busy: false, notBeforeMs: 0 };
      this.groups.set(groupId, progress);
    }
    if (progress.busy) return { kind: 'wait', reason: 'a step is in flight' };
    const nowMs = this.options.clock.nowMs();
    if (nowMs < progress.notBeforeMs) return { kind: 'wait', reason: 'backing off' };
    const decision = nextStep(this.options.nodeId, replica, target);
    switch (decision.kind) {
      case 'change':
        this.change(groupId, replica, decision.change, progress);
        break;
      case 'transfer':
        this.options.logger.info({ group: replica.groupId, to: decision.to }, 'reassignment: leader leaves the group; transferring leadership');
        replica.transferLeadership(decision.to);
        progress.notBeforeMs = nowMs + REASSIGNMENT_TRANSFER_WAIT_MS;
        break;
      case 'done':
        this.done(groupId, replica, target, progress);
        break;
      case 'wait':
        break;
    }
    return decision;
  }

  /** The group's target is gone (reassignment finished) or its replica closed here. */
  forget(groupId: number): void {
    this.groups.delete(groupId);
  }

  private change(groupId: number, replica: Replica, change: ConfChange, progress: GroupProgress): void {
    progress.busy = true;
    const name = ConfChangeType[change.type];
    this.options.logger.info({ group: replica.groupId, change: name, node: change.nodeId }, 'reassignment: membership change');
    replica.changeMembership(change).then(
      () => {
        progress.busy = false;
      },
      (error: unknown) => {
        progress.busy = false;
        // A change still pending, a learner still behind, a lost leadership: the next step
        // re-derives what to do from the configuration as it then is.
        if (error instanceof MembershipChangeError && error.retriable) return;
        if (error instanceof NotLeaderError) return;
        progress.notBeforeMs = this.options.clock.nowMs() + REASSIGNMENT_RETRY_MS;
        this.options.logger.warn({ err: error, group: replica.groupId, change: name, node: change.nodeId }, 'reassignment: membership change refused');
      },
    );
  }

  private done(groupId: number, replica: Replica, target: readonly NodeId[], progress: GroupProgress): void {
    progress.busy = true;
    this.options.logger.info({ group: replica.groupId, replicas: target }, 'reassignment: configuration reached the target');
    this.options.reassignmentDone(groupId, [...target]).then(
      () => {
        progress.busy = false;
        progress.notBeforeMs = this.options.clock.nowMs() + REASSIGNMENT_DONE_RECHECK_MS;
      },
      (error: unknown) => {
        progress.busy = false;
        progress.notBeforeMs = this.options.clock.nowMs() + REASSIGNMENT_RETRY_MS;
        this.options.logger.warn({ err: error, group: replica.groupId }, 'reassignment: reporting completion failed; will retry');
      },
    );
  }
}

/**
 * The next step towards `target` for the leader `self`, from the group's configuration in force
 * (status().conf) and its followers' progress. Pure apart from reading the replica.
 */
export function nextStep(self: NodeId, replica: Replica, target: readonly NodeId[]): ReassignmentStep {
  const status = replica.status();
  const voters = new Set(status.conf.voters);
  const learners = new Set(status.conf.learners);
  const wanted = new Set(target);
  const matchOf = (id: NodeId): number => status.progress?.get(id)?.match ?? 0;
  if (status.transferee !== undefined) return { kind: 'wait', reason: 'a leadership transfer is under way' };

  for (const id of target) {
    if (learners.has(id) && matchOf(id) >= status.commit) return { kind: 'change', change: { type: ConfChangeType.AddVoter, nodeId: id } };
  }
  for (const id of target) {
    if (!voters.has(id) && !learners.has(id)) return { kind: 'change', change: { type: ConfChangeType.AddLearner, nodeId: id } };
  }
  if (target.some((id) => !voters.has(id))) return { kind: 'wait', reason: 'a learner is catching up' };

  for (const id of learners) if (!wanted.has(id)) return { kind: 'change', change: { type: ConfChangeType.RemoveNode, nodeId: id } };
  for (const id of voters) {
    if (!wanted.has(id) && id !== self) return { kind: 'change', change: { type: ConfChangeType.RemoveNode, nodeId: id } };
  }
  if (!wanted.has(self)) {
    // The first target member (the preferred leader) when it has caught up, else the one furthest along.
    const candidates = target.filter((id) => voters.has(id));
    const caughtUp = candidates.filter((id) => matchOf(id) >= status.commit);
    const pool = caughtUp.length > 0 ? caughtUp : candidates;
    const to = pool.reduce((best, id) => (matchOf(id) > matchOf(best) ? id : best), pool[0]);
    return caughtUp.includes(target[0]) ? { kind: 'transfer', to: target[0] } : { kind: 'transfer', to };
  }
  // Every configuration change before the leader's term committed once an entry of its term has.
  if (replica.log.epochAt(replica.highWatermark - 1) !== status.term) return { kind: 'wait', reason: 'the leader has not committed in its term yet' };
  return { kind: 'done' };
}
