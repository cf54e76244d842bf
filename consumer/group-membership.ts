/**
 * A consumer's membership in its group: the client side of the join / sync / heartbeat / leave
 * protocol (proto/groups.proto), as a state machine driven from two places.
 *
 * - The consuming flow calls poll() between handler calls (run(), for await). Everything that
 *   touches the application happens there: revoking partitions (listeners, commit on revoke),
 *   losing them, and applying a new assignment. So a handler never runs while its partition is
 *   being taken away.
 * - The join and sync calls run in the background (a rebalance task started by poll), so with the
 *   cooperative protocol the partitions that stay keep being consumed during a rebalance; the
 *   outcome is applied at the next poll.
 * - Heartbeats run on their own timer while the member is stable, and detect a rebalance
 *   (REBALANCE_IN_PROGRESS), a stale generation, or removal. The same timer enforces the max
 *   poll interval: a handler busy for longer makes the member leave the group (a dynamic member
 *   sends LeaveGroup) and lose its partitions; it rejoins when the handler returns.
 *
 * States, and the moves between them (anything else is a bug and asserts):
 *
 *   from          to
 *   unjoined      rebalancing (poll starts a join), left
 *   rebalancing   stable (synced), unjoined (max poll interval exceeded), left
 *   stable        rebalancing (poll starts a rejoin), unjoined (max poll interval), left
 *   left          (final)
 *
 * Eager protocol: before a rejoin every owned partition is revoked. Cooperative: only the
 * partitions missing from the new assignment are revoked, and then the member rejoins at once so
 * that they can go to their new owners in a follow-up rebalance.
 */
import assert from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrookError, isNoError, RetriesExhaustedError } from '../client/errors.js';
import { GroupError, groupErrorAction } from '../client/group-errors.js';
import type { GroupsApi, JoinGroupResponse } from '../client/groups-api.js';
import { backoffMs, type RetryConfig } from '../client/retry.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './assignors/consumer-protocol.js';
import { comparePartitions, partitionKey, type MemberSubscription, type PartitionAssignor, type RebalanceProtocol, type TopicPartition } from './assignors/partition-assignor.js';

export type MembershipState = 'unjoined' | 'rebalancing' | 'stable' | 'left';

const MEMBERSHIP_TRANSITIONS: Readonly<Record<MembershipState, readonly MembershipState[]>> = {
  unjoined: ['rebalancing', 'left'],
  rebalancing: ['stable', 'unjoined', 'left'],
  stable: ['rebalancing', 'unjoined', 'left'],
  left: [],
};

/** Consecutive failed join attempts after which backoff stops growing. */
const JOIN_BACKOFF_ATTEMPTS_MAX = 10;
/** Deadline of the LeaveGroup sent on the way out: leaving must not hold up a shutdown. */
const LEAVE_TIMEOUT_MS = 5_000;

export interface MembershipConfig {
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxPollIntervalMs: number;
  /** How often the subscription (a RegExp) and, on the leader, partition counts are checked for changes. */
  readonly metadataCheckIntervalMs: number;
  readonly requestTimeoutMs: number;
  /** In order of preference; all share one rebalance protocol. */
  readonly assignors: readonly PartitionAssignor[];
  readonly retry: RetryConfig;
}

/** What the membership needs from its consumer. */
export interface MembershipHost {
  /** The topics subscribed to now (a RegExp subscription resolved against the cluster's topics). */
  subscribedTopics(): Promise<string[]>;
  /** Partition counts of these topics; topics that do not exist are left out. */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
  /** These partitions are taken away: finish with them (commit) and stop delivering them. */
  revoked(partitions: TopicPartition[]): Promise<void>;
  /** These partitions are now this member's: position them and start fetching. */
  assigned(partitions: TopicPartition[]): Promise<void>;
  /** These partitions were lost (another member may own them already): drop them, commit nothing. */
  lost(partitions: TopicPartition[]): Promise<void>;
  /** Something waits to be applied at the next poll(): wake the consuming flow. */
  wake(): void;
  /** Membership events worth a log line. */
  log(message: string): void;
}

interface CompletedRebalance {
  readonly generationId: number;
  readonly assignment: TopicPartition[];
}

/**
 * Whether joining should go on after `error`. A member keeps trying to reach its coordinator for
 * as long as it runs (retries that ran out on a retriable error start over after a backoff); only
 * errors that no retry can fix end the membership.
 */
function worthRetrying(error: unknown): boolean {
  if (error instanceof GroupError) return error.action !== 'fatal';
  if (error instanceof RetriesExhaustedError) return worthRetrying(error.cause);
  return error instanceof BrookError && error.retriable;
}

function minus(a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] {
  const remove = new Set(b.map((p) => partitionKey(p.topic, p.partition)));
  return a.filter((p) => !remove.has(partitionKey(p.topic, p.partition)));
}

export class GroupMembership {
  memberId = '';
  generationId = -1;
  protocolName = '';
  /** Partitions this member consumes now. */
  owned: TopicPartition[] = [];
  /** Completed rebalances (for tests and metrics). */
  rebalances = 0;
  private current: MembershipState = 'unjoined';
  private rejoinReason: string | null = 'first join';
  private lostPending = false;
  private completed: CompletedRebalance | null = null;
  private rebalanceTask: Promise<void> | null = null;
  private fatal: Error | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatInFlight = false;
  private lastHeartbeatOkMs = 0;
  /** Since when a handler has been running; null while the application waits for messages. */
  private busySinceMs: number | null = null;
  private lastMetadataCheckMs = 0;
  private metadataCheckInFlight = false;
  private joinedTopics: string[] = [];
  /** As leader: the partition counts the assignment was computed from. */
  private leaderCounts: Map<string, number> | null = null;
  /** The assignment of the last generation (an eager member reports it so a sticky leader can keep it). */
  private lastAssignment: TopicPartition[] = [];
  readonly rebalanceProtocol: RebalanceProtocol;

  constructor(
    private readonly config: MembershipConfig,
    private readonly api: GroupsApi,
    private readonly host: MembershipHost,
    private readonly nowMs: () => number = Date.now,
  ) {
    assert(config.assignors.length > 0, 'at least one assignor');
    // One eager assignor makes the whole member eager: it must revoke before every join.
    this.rebalanceProtocol = config.assignors.every((a) => a.rebalanceProtocol === 'cooperative') ? 'cooperative' : 'eager';
  }

  get state(): MembershipState {
    return this.current;
  }

  private moveTo(next: MembershipState): void {
    assert(MEMBERSHIP_TRANSITIONS[this.current].includes(next), `membership cannot go from ${this.current} to ${next}`);
    this.current = next;
  }

  /** Whether the member holds a generation in which it may commit. */
  get inGeneration(): boolean {
    return this.generationId >= 0 && this.memberId !== '' && this.current !== 'left';
  }

  /** Marks the group for a rejoin at the next poll. */
  requestRejoin(reason: string): void {
    if (this.current === 'left') return;
    if (this.rejoinReason === null) this.host.log(`rejoining group ${this.config.groupId}: ${reason}`);
    this.rejoinReason ??= reason;
    this.host.wake();
  }

  /** A handler starts: the max poll interval runs from now until processingEnded(). */
  processingStarted(): void {
    this.busySinceMs ??= this.nowMs();
  }

  processingEnded(): void {
    this.busySinceMs = null;
  }

  /**
   * Applies what is pending (lost partitions, a completed rebalance) and starts a rejoin when one
   * is needed. Call from the consuming flow only, between handler calls.
   */
  async poll(): Promise<void> {
    if (this.fatal !== null) throw this.fatal;
    if (this.current === 'left') return;
    if (this.lostPending) {
      this.lostPending = false;
      const lost = this.owned;
      this.owned = [];
      if (lost.length > 0) await this.host.lost(lost);
    }
    if (this.completed !== null) {
      const completed = this.completed;
      this.completed = null;
      await this.apply(completed);
    }
    if (this.rejoinReason !== null && this.rebalanceTask === null) {
      if (this.rebalanceProtocol === 'eager' && this.owned.length > 0) {
        const revoked = this.owned;
        this.owned = [];
        await this.host.revoked(revoked);
      }
      this.rejoinReason = null;
      this.moveTo('rebalancing');
      this.startHeartbeats();
      this.rebalanceTask = this.rebalance().finally(() => {
        this.rebalanceTask = null;
        this.host.wake();
      });
    }
  }

  /** True when poll() has something to do now: the consuming flow should come back to it soon. */
  get pollNeeded(): boolean {
    return this.fatal !== null || this.lostPending || this.completed !== null || (this.rejoinReason !== null && this.rebalanceTask === null);
  }

  private async apply(completed: CompletedRebalance): Promise<void> {
    const assigned = [...completed.assignment].sort(comparePartitions);
    this.lastAssignment = assigned;
    if (this.rebalanceProtocol === 'cooperative') {
      const revoked = minus(this.owned, assigned);
      const added = minus(assigned, this.owned);
      if (revoked.length > 0) {
        this.owned = minus(this.owned, revoked);
        await this.host.revoked(revoked);
        // The revoked partitions go to their new owners in the follow-up rebalance.
        this.requestRejoin('partitions revoked in a cooperative rebalance');
      }
      this.owned = assigned;
      if (added.length > 0) await this.host.assigned(added);
    } else {
      this.owned = assigned;
      await this.host.assigned(assigned);
    }
    this.host.log(`group ${this.config.groupId} generation ${completed.generationId}: ${assigned.length} partitions assigned to ${this.memberId}`);
  }

  /** Joins and syncs until a generation is reached, the member leaves, or a fatal error. */
  private async rebalance(): Promise<void> {
    let failures = 0;
    while (this.current === 'rebalancing') {
      try {
        const outcome = await this.joinAndSync();
        if (outcome === 'done') return;
        if (outcome === 'again') continue;
        failures++;
      } catch (error) {
        if (this.current !== 'rebalancing') return;
        if (!worthRetrying(error)) {
          this.fatal = error instanceof Error ? error : new Error(String(error));
          return;
        }
        failures++;
        this.host.log(`joining group ${this.config.groupId} failed (${error instanceof Error ? error.message : String(error)}); retrying`);
      }
      await sleep(backoffMs(this.config.retry, Math.min(failures, JOIN_BACKOFF_ATTEMPTS_MAX), Math.random()));
    }
  }

  /** One join and sync: 'done' with a generation, 'again' to rejoin at once, 'backoff' to rejoin after a wait. */
  private async joinAndSync(): Promise<'done' | 'again' | 'backoff'> {
    const topics = [...(await this.host.subscribedTopics())].sort();
    this.joinedTopics = topics;
    const claimed = this.lostPending ? [] : this.rebalanceProtocol === 'cooperative' ? this.owned : this.lastAssignment;
    const protocols = this.config.assignors.map((assignor) => ({
      name: assignor.name,
      metadata: encodeSubscription(assignor.metadata({ topics, ownedPartitions: claimed, generation: claimed.length > 0 ? this.generationId : -1 })),
    }));
    const join = await this.api.joinGroup({
      groupId: this.config.groupId,
      memberId: this.memberId,
      groupInstanceId: this.config.groupInstanceId,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      rebalanceTimeoutMs: this.config.rebalanceTimeoutMs,
      protocolType: 'consumer',
      protocols,
    });
    if (this.current !== 'rebalancing') return 'done';
    if (!isNoError(join.errorCode)) {
      if (join.errorCode === 'MEMBER_ID_REQUIRED') {
        this.memberId = join.memberId;
        return 'again';
      }
      return this.onMembershipError(join.errorCode, `JoinGroup: ${join.errorMessage}`);
    }
    this.memberId = join.memberId;
    const assignments = join.leaderId === join.memberId && !join.skipAssignment ? await this.leaderAssign(join) : [];
    const sync = await this.api.syncGroup({
      groupId: this.config.groupId,
      generationId: join.generationId,
      memberId: this.memberId,
      groupInstanceId: this.config.groupInstanceId,
      protocolType: 'consumer',
      protocolName: join.protocolName,
      assignments,
      rebalanceTimeoutMs: this.config.rebalanceTimeoutMs,
    });
    if (this.current !== 'rebalancing') return 'done';
    if (!isNoError(sync.errorCode)) return this.onMembershipError(sync.errorCode, `SyncGroup: ${sync.errorMessage}`);
    this.generationId = join.generationId;
    this.protocolName = join.protocolName;
    this.completed = { generationId: join.generationId, assignment: [...decodeAssignment(sync.assignment).partitions] };
    this.lastHeartbeatOkMs = this.nowMs();
    this.rebalances++;
    this.moveTo('stable');
    return 'done';
  }

  /** What an error answer to JoinGroup or SyncGroup means for the next attempt. */
  private onMembershipError(code: string, detail: string): 'again' | 'backoff' {
    const action = groupErrorAction(code);
    switch (action) {
      case 'rejoin':
        if (code === 'ILLEGAL_GENERATION') this.loseGeneration(false);
        return 'again';
      case 'reset-member':
        this.loseGeneration(true);
        return 'again';
      case 'retry':
      case 'find-coordinator':
        return 'backoff';
      case 'fatal':
        throw new GroupError(code, `group ${this.config.groupId}: ${detail}`);
    }
  }

  /** The member's generation is gone: what it owns is lost; with `resetMember`, its id too. */
  private loseGeneration(resetMember: boolean): void {
    if (resetMember) this.memberId = '';
    this.generationId = -1;
    if (this.owned.length > 0) this.lostPending = true;
    this.host.wake();
  }

  /** The leader's assignment for every member of the generation. */
  private async leaderAssign(join: JoinGroupResponse): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const assignor = this.config.assignors.find((a) => a.name === join.protocolName);
    if (assignor === undefined) throw new GroupError('INCONSISTENT_GROUP_PROTOCOL', `the group chose ${join.protocolName}, which this member does not have`);
    const members: MemberSubscription[] = join.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, ...decodeSubscription(m.metadata) }));
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    const counts = await this.host.partitionCounts(topics);
    this.leaderCounts = counts;
    const result = assignor.assign({ members, partitionCounts: counts });
    return members.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ partitions: result.get(m.memberId) ?? [], userData: null }) }));
  }

  // ---- heartbeats ------------------------------------------------------------------------------

  private startHeartbeats(): void {
    if (this.heartbeatTimer !== null) return;
    this.heartbeatTimer = setInterval(() => void this.heartbeatTick(), this.config.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async heartbeatTick(): Promise<void> {
    const nowMs = this.nowMs();
    if (this.current === 'left' || this.current === 'unjoined') return;
    if (this.busySinceMs !== null && nowMs - this.busySinceMs > this.config.maxPollIntervalMs) {
      await this.pollIntervalExceeded(nowMs - this.busySinceMs);
      return;
    }
    if (this.current !== 'stable') return;
    if (nowMs - this.lastMetadataCheckMs >= this.config.metadataCheckIntervalMs) void this.checkMetadata(nowMs);
    if (this.heartbeatInFlight) return;
    this.heartbeatInFlight = true;
    try {
      const answer = await this.api.heartbeat(
        { groupId: this.config.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.config.groupInstanceId },
        { patient: false, timeoutMs: Math.min(this.config.requestTimeoutMs, this.config.sessionTimeoutMs) },
      );
      this.onHeartbeat(answer.errorCode, answer.errorMessage);
    } catch (error) {
      // The coordinator is gone or moving; the next heartbeat finds it again. Past the session
      // timeout the coordinator has surely dropped this member.
      if (this.current === 'stable' && this.nowMs() - this.lastHeartbeatOkMs > this.config.sessionTimeoutMs) {
        this.loseGeneration(false);
        this.requestRejoin(`no heartbeat got through for the session timeout (${error instanceof Error ? error.message : String(error)})`);
      }
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private onHeartbeat(code: string, message: string): void {
    if (this.current !== 'stable') return;
    if (isNoError(code) || code === 'REBALANCE_IN_PROGRESS') this.lastHeartbeatOkMs = this.nowMs();
    if (isNoError(code)) return;
    switch (groupErrorAction(code)) {
      case 'rejoin':
        if (code === 'ILLEGAL_GENERATION') this.loseGeneration(false);
        this.requestRejoin(code === 'REBALANCE_IN_PROGRESS' ? 'the group is rebalancing' : 'stale generation');
        return;
      case 'reset-member':
        this.loseGeneration(true);
        this.requestRejoin('the coordinator no longer knows this member');
        return;
      case 'fatal':
        this.fatal = new GroupError(code, `heartbeat of group ${this.config.groupId}: ${message}`);
        this.host.wake();
        return;
      default:
        return;
    }
  }

  /** A handler ran past the max poll interval: leave so the group can go on without this member. */
  private async pollIntervalExceeded(busyMs: number): Promise<void> {
    this.host.log(`a handler has run ${busyMs} ms, past maxPollIntervalMs ${this.config.maxPollIntervalMs}: leaving group ${this.config.groupId}; it rejoins when the handler returns`);
    const memberId = this.memberId;
    this.moveTo('unjoined');
    this.loseGeneration(this.config.groupInstanceId === null);
    this.lostPending = this.owned.length > 0;
    this.rejoinReason ??= 'max poll interval exceeded';
    // A static member does not leave: its instance id keeps its place until the session expires.
    if (this.config.groupInstanceId === null && memberId !== '') await this.sendLeave(memberId);
  }

  /** On the leader, or for a RegExp subscription: rejoin when topics or partition counts change. */
  private async checkMetadata(nowMs: number): Promise<void> {
    if (this.metadataCheckInFlight) return;
    this.metadataCheckInFlight = true;
    this.lastMetadataCheckMs = nowMs;
    try {
      const topics = [...(await this.host.subscribedTopics())].sort();
      if (topics.join('\u0000') !== this.joinedTopics.join('\u0000')) {
        this.requestRejoin('the subscribed topics changed');
        return;
      }
      if (this.leaderCounts !== null) {
        const counts = await this.host.partitionCounts([...this.leaderCounts.keys()]);
        for (const [topic, count] of this.leaderCounts) {
          if (counts.get(topic) !== count) {
            this.requestRejoin(`partition count of ${topic} changed`);
            return;
          }
        }
      }
    } catch {
      // Metadata unavailable now: check again next interval.
    } finally {
      this.metadataCheckInFlight = false;
    }
  }

  // ---- leaving ---------------------------------------------------------------------------------

  /**
   * Leaves for good: revokes what is owned (the host commits), then a dynamic member sends
   * LeaveGroup so the group rebalances at once; a static member stays registered until its
   * session times out, so a restart within it causes no rebalance.
   */
  async leave(): Promise<void> {
    if (this.current === 'left') return;
    const owned = this.owned;
    this.owned = [];
    if (owned.length > 0 && !this.lostPending && this.fatal === null) await this.host.revoked(owned);
    const memberId = this.memberId;
    this.moveTo('left');
    this.stopHeartbeats();
    if (this.config.groupInstanceId === null && memberId !== '') await this.sendLeave(memberId);
  }

  private async sendLeave(memberId: string): Promise<void> {
    try {
      await this.api.leaveGroup({ groupId: this.config.groupId, memberId, groupInstanceId: this.config.groupInstanceId }, { patient: false, timeoutMs: LEAVE_TIMEOUT_MS });
    } catch {
      // The coordinator will drop the member when its session times out.
    }
  }
}
