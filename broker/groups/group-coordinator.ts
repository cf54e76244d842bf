/**
 * The group coordinator of one broker: finds which groups it coordinates (those whose offsets
 * partition it leads), loads them from the offsets log when leadership arrives, drops them when
 * it leaves, and runs the membership protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with
 * Kafka's semantics; proto/groups.proto describes the protocol as clients see it. Offsets and
 * administration are in group-admin.ts over the routing here.
 *
 * Time is read from the injected clock; one timer (COORDINATOR_TICK_MS) checks leadership of the
 * offsets partitions, session timeouts, and the deadlines of join and sync phases.
 *
 * What is written to the log: a group's membership (generation, protocol, leader, members with
 * their metadata and assignments) when a generation's assignments are complete, when a static
 * member's id is replaced, and when the group becomes empty; committed offsets on every commit.
 * A join phase in progress is not written: after a coordinator move, members rejoin.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ErrorCode } from '../../proto/brook-types.js';
import type {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupMemberResult,
  LeaveGroupRequest,
  LeaveGroupResponse,
  SyncGroupRequest,
  SyncGroupResponse,
} from '../../proto/groups-types.js';
import { partitionForKey } from '../../producer/murmur2.js';
import { ConsumerGroup, type GroupMember, type MemberProtocol } from './consumer-group.js';
import { groupIdProblem } from './group-id.js';
import {
  CLIENT_ID_LENGTH_MAX,
  COORDINATOR_TICK_MS,
  GROUP_MEMBERS_MAX,
  GROUP_RECORD_BYTES_MAX,
  GROUPS_PER_COORDINATOR_MAX,
  LEAVING_MEMBERS_MAX,
  MEMBER_ASSIGNMENT_BYTES_MAX,
  MEMBER_METADATA_BYTES_MAX,
  PROTOCOL_NAME_LENGTH_MAX,
  PROTOCOLS_PER_MEMBER_MAX,
  REBALANCE_TIMEOUT_MS_MAX,
} from './group-limits.js';
import { encodeGroupKey, encodeGroupValue } from './offsets-records.js';
import { OffsetsShard, OffsetsWriteError } from './offsets-shard.js';
import type { OffsetsTopic } from './offsets-topic.js';

export interface GroupSettings {
  /** A join phase of a group that was empty waits this long for more members. */
  readonly initialRebalanceDelayMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
}

export interface GroupCoordinatorOptions {
  readonly offsetsTopic: OffsetsTopic;
  readonly settings: GroupSettings;
  readonly clock: { nowMs(): number };
  readonly logger: Logger;
  /** Member id suffixes; random UUIDs unless a test hands in something else. */
  readonly uniqueId?: () => string;
}

/** A refusal for a whole request. */
export interface Refusal {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
}

export type GroupRoute = { readonly shard: OffsetsShard; readonly refusal?: undefined } | { readonly shard?: undefined; readonly refusal: Refusal };

const NO_GENERATION = -1;

export class GroupCoordinator {
  private readonly shards = new Map<number, OffsetsShard>();
  private timer: NodeJS.Timeout | undefined;
  private readonly uniqueId: () => string;
  readonly logger: Logger;

  constructor(private readonly options: GroupCoordinatorOptions) {
    this.uniqueId = options.uniqueId ?? randomUUID;
    this.logger = options.logger;
  }

  get clock(): { nowMs(): number } {
    return this.options.clock;
  }

  /** Starts the timer that follows leadership and deadlines. */
  start(): void {
    this.timer = setInterval(() => this.tick(), COORDINATOR_TICK_MS);
    this.timer.unref();
    this.tick();
  }

  /** Stops the timer and answers every waiting call with NOT_COORDINATOR. */
  close(): void {
    clearInterval(this.timer);
    for (const shard of [...this.shards.values()]) this.unload(shard, 'the broker is shutting down');
  }

  // ---- routing ---------------------------------------------------------------------------------

  /** The offsets partition of `groupId` among `partitionCount`: murmur2 as the producer's partitioner. */
  static partitionOf(groupId: string, partitionCount: number): number {
    return partitionForKey(Buffer.from(groupId, 'utf8'), partitionCount);
  }

  /** The shard coordinating `groupId` here, or the refusal to answer with. */
  route(groupId: string): GroupRoute {
    const problem = groupIdProblem(groupId);
    if (problem !== null) return { refusal: { errorCode: 'INVALID_GROUP_ID', errorMessage: problem } };
    const count = this.options.offsetsTopic.partitionCount();
    if (count === undefined) return { refusal: { errorCode: 'COORDINATOR_NOT_AVAILABLE', errorMessage: 'the offsets topic is being created' } };
    const index = GroupCoordinator.partitionOf(groupId, count);
    const shard = this.shards.get(index);
    if (shard === undefined || shard.partition.leadership() !== undefined) {
      const partition = this.options.offsetsTopic.partition(index);
      if (partition !== undefined && partition.leadership() === undefined) {
        return { refusal: { errorCode: 'COORDINATOR_LOAD_IN_PROGRESS', errorMessage: `offsets partition ${index} is being loaded` } };
      }
      return { refusal: { errorCode: 'NOT_COORDINATOR', errorMessage: `this broker does not coordinate group ${groupId} (offsets partition ${index})` } };
    }
    if (shard.status === 'loading') return { refusal: { errorCode: 'COORDINATOR_LOAD_IN_PROGRESS', errorMessage: `offsets partition ${index} is being loaded` } };
    return { shard };
  }

  findCoordinator(request: FindCoordinatorRequest): FindCoordinatorResponse {
    const groupId = request.groupId ?? '';
    const problem = groupIdProblem(groupId);
    if (problem !== null) return { errorCode: 'INVALID_GROUP_ID', errorMessage: problem, coordinator: null, offsetsPartition: -1 };
    const count = this.options.offsetsTopic.partitionCount();
    if (count === undefined) return { errorCode: 'COORDINATOR_NOT_AVAILABLE', errorMessage: 'the offsets topic is being created; retry', coordinator: null, offsetsPartition: -1 };
    const index = GroupCoordinator.partitionOf(groupId, count);
    const answer = this.options.offsetsTopic.coordinator(index);
    if (answer.broker === undefined) return { errorCode: answer.errorCode, errorMessage: answer.errorMessage, coordinator: null, offsetsPartition: index };
    return { errorCode: 'NONE', errorMessage: '', coordinator: answer.broker, offsetsPartition: index };
  }

  /** Loaded shards (ListGroups), and whether any partition led here is still loading. */
  loadedShards(): { shards: OffsetsShard[]; loading: boolean } {
    const shards = [...this.shards.values()];
    return { shards: shards.filter((shard) => shard.status === 'loaded'), loading: shards.some((shard) => shard.status === 'loading') };
  }

  /** Groups held across shards (the groups-per-coordinator limit). */
  groupCount(): number {
    let count = 0;
    for (const shard of this.shards.values()) count += shard.groups.size;
    return count;
  }

  /** The group, created empty when missing and the limit allows; a refusal otherwise. */
  groupOrCreate(shard: OffsetsShard, groupId: string): ConsumerGroup | Refusal {
    const existing = shard.groups.get(groupId);
    if (existing !== undefined) return existing;
    if (this.groupCount() >= GROUPS_PER_COORDINATOR_MAX) {
      return { errorCode: 'POLICY_VIOLATION', errorMessage: `this coordinator holds ${GROUPS_PER_COORDINATOR_MAX} groups already` };
    }
    const group = new ConsumerGroup(groupId, this.clock.nowMs());
    shard.groups.set(groupId, group);
    return group;
  }

  // ---- leadership --------------------------------------------------------------------------------

  private tick(): void {
    try {
      this.followLeadership();
      const nowMs = this.clock.nowMs();
      for (const shard of this.shards.values()) {
        if (shard.status !== 'loaded') continue;
        for (const group of [...shard.groups.values()]) this.checkDeadlines(shard, group, nowMs);
      }
    } catch (error) {
      this.logger.error({ err: error }, 'group coordinator tick failed');
    }
  }

  private followLeadership(): void {
    const count = this.options.offsetsTopic.partitionCount() ?? 0;
    for (const shard of [...this.shards.values()]) {
      if (shard.index >= count) this.unload(shard, 'the offsets partition is gone');
    }
    for (let index = 0; index < count; index++) {
      const partition = this.options.offsetsTopic.partition(index);
      const leading = partition !== undefined && partition.leadership() === undefined;
      const shard = this.shards.get(index);
      if (shard !== undefined && (!leading || shard.partition !== partition || shard.epoch !== partition.leaderEpoch)) {
        this.unload(shard, 'leadership of the offsets partition moved');
      }
      if (leading && !this.shards.has(index)) this.loadShard(index, partition);
    }
  }

  private loadShard(index: number, partition: NonNullable<ReturnType<OffsetsTopic['partition']>>): void {
    const shard = new OffsetsShard(index, partition, partition.leaderEpoch, this.clock, this.logger, (failed) => {
      // The log may hold what memory does not: start over from the log.
      if (this.shards.get(failed.index) === failed) this.unload(failed, 'an offsets write failed');
    });
    this.shards.set(index, shard);
    shard.load().catch((error: unknown) => {
      this.logger.error({ err: error, partition: index }, 'loading an offsets partition failed; retrying');
      if (this.shards.get(index) === shard) this.unload(shard, 'loading failed');
    });
  }

  private unload(shard: OffsetsShard, reason: string): void {
    shard.close();
    if (this.shards.get(shard.index) === shard) this.shards.delete(shard.index);
    for (const group of shard.groups.values()) {
      for (const member of group.members.values()) {
        answerJoin(member, refusedJoin('NOT_COORDINATOR', `${reason}: find the coordinator again`, member.memberId));
        answerSync(member, refusedSync('NOT_COORDINATOR', `${reason}: find the coordinator again`));
      }
    }
    this.logger.info({ partition: shard.index, reason }, 'offsets partition unloaded');
  }

  // ---- deadlines -----------------------------------------------------------------------------------

  private checkDeadlines(shard: OffsetsShard, group: ConsumerGroup, nowMs: number): void {
    for (const [memberId, expiresMs] of group.pendingMembers) {
      if (nowMs >= expiresMs) group.pendingMembers.delete(memberId);
    }
    for (const member of [...group.members.values()]) {
      // An earlier removal in this loop may have ended a join phase that dropped this one already.
      if (group.members.get(member.memberId) !== member) continue;
      const waiting = member.joinWaiter !== undefined || member.syncWaiter !== undefined;
      if (!waiting && nowMs - member.lastSeenMs > member.sessionTimeoutMs) {
        this.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'member session timed out');
        this.removeMember(group, member, 'session timeout');
      }
    }
    if (group.state === 'PreparingRebalance') {
      if (nowMs >= group.joinDeadlineMs || (nowMs >= group.joinNotBeforeMs && group.allMembersJoined())) this.completeJoin(shard, group);
    } else if (group.state === 'CompletingRebalance' && !group.syncWriting && nowMs >= group.syncDeadlineMs) {
      // Members that never came for their assignment are presumed gone.
      for (const member of [...group.members.values()]) {
        if (member.syncWaiter === undefined) this.dropMember(group, member, 'did not sync within the rebalance timeout');
      }
      this.prepareRebalance(group, 'sync phase timed out');
    }
    if (group.isDeletable && group.generationId === 0 && group.state === 'Empty') shard.groups.delete(group.groupId);
  }

  // ---- membership --------------------------------------------------------------------------------

  async joinGroup(request: JoinGroupRequest, clientHost: string): Promise<JoinGroupResponse> {
    const memberId = request.memberId ?? '';
    const invalid = this.joinRequestProblem(request);
    if (invalid !== undefined) return refusedJoin(invalid.errorCode, invalid.errorMessage, memberId);
    const route = this.route(request.groupId);
    if (route.refusal !== undefined) return refusedJoin(route.refusal.errorCode, route.refusal.errorMessage, memberId);
    const shard = route.shard;
    const known = shard.groups.get(request.groupId);
    if (known === undefined && memberId !== '') return refusedJoin('UNKNOWN_MEMBER_ID', `group ${request.groupId} has no member ${memberId}`, memberId);
    const group = known ?? this.groupOrCreate(shard, request.groupId);
    if (!(group instanceof ConsumerGroup)) return refusedJoin(group.errorCode, group.errorMessage, memberId);
    const protocols: MemberProtocol[] = request.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }));
    const profile: MemberProfile = {
      clientId: (request.clientId ?? '').slice(0, CLIENT_ID_LENGTH_MAX),
      clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: Math.min(REBALANCE_TIMEOUT_MS_MAX, (request.rebalanceTimeoutMs ?? 0) > 0 ? (request.rebalanceTimeoutMs as number) : request.sessionTimeoutMs),
      protocolType: request.protocolType,
      protocols,
    };
    const instanceId = request.groupInstanceId ?? '';
    if (memberId === '' && instanceId !== '') return this.joinStatic(shard, group, instanceId, profile);
    if (memberId === '') return this.joinNew(group, profile);
    return this.joinKnown(group, memberId, instanceId, profile);
  }

  private joinRequestProblem(request: JoinGroupRequest): Refusal | undefined {
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.options.settings;
    const session = request.sessionTimeoutMs;
    if (!Number.isInteger(session) || session < minSessionTimeoutMs || session > maxSessionTimeoutMs) {
      return { errorCode: 'INVALID_SESSION_TIMEOUT', errorMessage: `session_timeout_ms ${session} is outside [${minSessionTimeoutMs}, ${maxSessionTimeoutMs}]` };
    }
    const rebalance = request.rebalanceTimeoutMs ?? 0;
    if (!Number.isInteger(rebalance) || rebalance < 0) return { errorCode: 'INVALID_REQUEST', errorMessage: `rebalance_timeout_ms ${rebalance} is negative` };
    if ((request.protocolType ?? '') === '' || (request.protocols ?? []).length === 0) {
      return { errorCode: 'INCONSISTENT_GROUP_PROTOCOL', errorMessage: 'a join needs a protocol_type and at least one protocol' };
    }
    if (request.protocols.length > PROTOCOLS_PER_MEMBER_MAX) return { errorCode: 'INVALID_REQUEST', errorMessage: `more than ${PROTOCOLS_PER_MEMBER_MAX} protocols` };
    for (const protocol of request.protocols) {
      if (protocol.name.length === 0 || protocol.name.length > PROTOCOL_NAME_LENGTH_MAX) {
        return { errorCode: 'INVALID_REQUEST', errorMessage: `protocol names must be 1 to ${PROTOCOL_NAME_LENGTH_MAX} characters` };
      }
      if (protocol.metadata.length > MEMBER_METADATA_BYTES_MAX) {
        return { errorCode: 'INVALID_REQUEST', errorMessage: `metadata of protocol ${protocol.name} is ${protocol.metadata.length} bytes, more than ${MEMBER_METADATA_BYTES_MAX}` };
      }
    }
    const instanceId = request.groupInstanceId ?? '';
    if (instanceId !== '') {
      const problem = groupIdProblem(instanceId, 'group instance id');
      if (problem !== null) return { errorCode: 'INVALID_REQUEST', errorMessage: problem };
    }
    return undefined;
  }

  /** A dynamic member's first join: hand out a member id to join with (MEMBER_ID_REQUIRED). */
  private joinNew(group: ConsumerGroup, profile: MemberProfile): JoinGroupResponse {
    if (!group.supportsProtocols(profile.protocolType, profile.protocols)) return inconsistentProtocol(group, '');
    if (group.members.size + group.pendingMembers.size >= GROUP_MEMBERS_MAX) {
      return refusedJoin('GROUP_MAX_SIZE_REACHED', `group ${group.groupId} has ${GROUP_MEMBERS_MAX} members`, '');
    }
    const memberId = `${profile.clientId === '' ? 'member' : sanitize(profile.clientId)}-${this.uniqueId()}`;
    group.pendingMembers.set(memberId, this.clock.nowMs() + profile.sessionTimeoutMs);
    return refusedJoin('MEMBER_ID_REQUIRED', 'join again with the member_id given', memberId);
  }

  /** A join with a member id: a pending member's second join, or a member's rejoin. */
  private joinKnown(group: ConsumerGroup, memberId: string, instanceId: string, profile: MemberProfile): Promise<JoinGroupResponse> | JoinGroupResponse {
    if (instanceId !== '' && group.staticMembers.has(instanceId) && group.staticMembers.get(instanceId) !== memberId) {
      return refusedJoin('FENCED_INSTANCE_ID', `group instance ${instanceId} is held by another member id`, memberId);
    }
    if (group.pendingMembers.has(memberId)) {
      if (!group.supportsProtocols(profile.protocolType, profile.protocols)) return inconsistentProtocol(group, memberId);
      group.pendingMembers.delete(memberId);
      const member = this.addMember(group, memberId, instanceId, profile);
      return this.awaitJoin(group, member, `member ${memberId} joined`);
    }
    const member = group.members.get(memberId);
    if (member === undefined) return refusedJoin('UNKNOWN_MEMBER_ID', `group ${group.groupId} has no member ${memberId}`, memberId);
    if (!group.supportsProtocols(profile.protocolType, profile.protocols, memberId)) return inconsistentProtocol(group, memberId);
    const changed = !sameProtocols(member.protocols, profile.protocols);
    updateMember(member, profile, this.clock.nowMs());
    if (group.state === 'PreparingRebalance') return this.awaitJoin(group, member, '');
    // A rejoin that changes nothing while the group is settled: the member lost its answer.
    const settled = group.state === 'CompletingRebalance' || (group.state === 'Stable' && group.leaderId !== memberId);
    if (settled && !changed) return joinAnswer(group, member, false);
    return this.awaitJoin(group, member, `member ${memberId} rejoined${changed ? ' with new metadata' : ''}`);
  }

  /**
   * A static member's join without a member id: a new instance, or a restart of a known one that
   * takes over the instance's membership under a new member id (no rebalance when the group is
   * stable and its protocols are unchanged).
   */
  private async joinStatic(shard: OffsetsShard, group: ConsumerGroup, instanceId: string, profile: MemberProfile): Promise<JoinGroupResponse> {
    const newId = `${instanceId}-${this.uniqueId()}`;
    const oldId = group.staticMembers.get(instanceId);
    const old = oldId === undefined ? undefined : group.members.get(oldId);
    if (old === undefined) {
      if (!group.supportsProtocols(profile.protocolType, profile.protocols)) return inconsistentProtocol(group, '');
      if (group.members.size + group.pendingMembers.size >= GROUP_MEMBERS_MAX) {
        return refusedJoin('GROUP_MAX_SIZE_REACHED', `group ${group.groupId} has ${GROUP_MEMBERS_MAX} members`, '');
      }
      const member = this.addMember(group, newId, instanceId, profile);
      return this.awaitJoin(group, member, `static member ${instanceId} joined`);
    }
    if (!group.supportsProtocols(profile.protocolType, profile.protocols, old.memberId)) return inconsistentProtocol(group, '');
    const fenced = `group instance ${instanceId} was taken over by a newer member`;
    answerJoin(old, refusedJoin('FENCED_INSTANCE_ID', fenced, old.memberId));
    answerSync(old, refusedSync('FENCED_INSTANCE_ID', fenced));
    const unchanged = sameProtocols(old.protocols, profile.protocols) || sameSelected(group, old.protocols, profile.protocols);
    group.members.delete(old.memberId);
    old.memberId = newId;
    group.members.set(newId, old);
    group.staticMembers.set(instanceId, newId);
    if (group.leaderId === oldId) group.leaderId = newId;
    updateMember(old, profile, this.clock.nowMs());
    this.logger.info({ groupId: group.groupId, instanceId, oldMemberId: oldId, memberId: newId }, 'static member replaced');
    if (group.state !== 'Stable' || !unchanged) return this.awaitJoin(group, old, `static member ${instanceId} rejoined`);
    try {
      await this.writeMembership(shard, group);
    } catch (error) {
      const failure = error instanceof OffsetsWriteError ? error : new OffsetsWriteError('UNKNOWN_SERVER_ERROR', String(error));
      return refusedJoin(groupWriteCode(failure), failure.message, newId);
    }
    const member = group.members.get(newId);
    if (member === undefined || group.state !== 'Stable') return refusedJoin('REBALANCE_IN_PROGRESS', 'the group began a rebalance: join again', newId);
    return joinAnswer(group, member, group.leaderId === newId);
  }

  private addMember(group: ConsumerGroup, memberId: string, instanceId: string, profile: MemberProfile): GroupMember {
    if (group.members.size === 0) group.protocolType = profile.protocolType;
    const member: GroupMember = {
      memberId,
      groupInstanceId: instanceId,
      clientId: profile.clientId,
      clientHost: profile.clientHost,
      sessionTimeoutMs: profile.sessionTimeoutMs,
      rebalanceTimeoutMs: profile.rebalanceTimeoutMs,
      protocols: profile.protocols,
      assignment: Buffer.alloc(0),
      lastSeenMs: this.clock.nowMs(),
    };
    group.members.set(memberId, member);
    if (instanceId !== '') group.staticMembers.set(instanceId, memberId);
    return member;
  }

  /** Parks the member's JoinGroup until the join phase completes (starting one if needed). */
  private awaitJoin(group: ConsumerGroup, member: GroupMember, reason: string): Promise<JoinGroupResponse> {
    answerJoin(member, refusedJoin('REBALANCE_IN_PROGRESS', 'superseded by a newer JoinGroup of this member', member.memberId));
    const answered = new Promise<JoinGroupResponse>((resolve) => {
      member.joinWaiter = resolve;
    });
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(group, reason);
    else {
      group.joinDeadlineMs = Math.max(group.joinDeadlineMs, this.clock.nowMs() + member.rebalanceTimeoutMs);
      this.maybeCompleteJoin(group);
    }
    return answered;
  }

  private prepareRebalance(group: ConsumerGroup, reason: string): void {
    const nowMs = this.clock.nowMs();
    if (group.state === 'CompletingRebalance') {
      for (const member of group.members.values()) {
        answerSync(member, refusedSync('REBALANCE_IN_PROGRESS', `a new rebalance began (${reason}): join again`));
      }
    }
    const wasEmpty = group.state === 'Empty';
    const rebalanceMs = group.rebalanceTimeoutMs();
    group.joinNotBeforeMs = wasEmpty ? nowMs + Math.min(this.options.settings.initialRebalanceDelayMs, rebalanceMs) : nowMs;
    group.joinDeadlineMs = nowMs + Math.max(rebalanceMs, group.joinNotBeforeMs - nowMs);
    group.transition('PreparingRebalance', nowMs);
    this.logger.info({ groupId: group.groupId, generationId: group.generationId, reason, members: group.members.size }, 'rebalance started');
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: ConsumerGroup): void {
    if (group.state !== 'PreparingRebalance') return;
    if (this.clock.nowMs() < group.joinNotBeforeMs || !group.allMembersJoined()) return;
    const shard = this.shardOf(group);
    if (shard !== undefined) this.completeJoin(shard, group);
  }

  private shardOf(group: ConsumerGroup): OffsetsShard | undefined {
    for (const shard of this.shards.values()) if (shard.groups.get(group.groupId) === group) return shard;
    return undefined;
  }

  /** Ends the join phase: drops members that did not rejoin, starts the next generation. */
  private completeJoin(shard: OffsetsShard, group: ConsumerGroup): void {
    const nowMs = this.clock.nowMs();
    for (const member of [...group.members.values()]) {
      if (member.joinWaiter === undefined) this.dropMember(group, member, 'did not rejoin within the rebalance timeout');
    }
    group.pendingMembers.clear();
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = '';
      group.leaderId = '';
      group.transition('Empty', nowMs);
      this.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group is empty');
      this.writeMembership(shard, group).catch((error: unknown) => this.logger.warn({ err: error, groupId: group.groupId }, 'writing the empty group failed'));
      return;
    }
    group.protocolName = group.selectProtocol();
    if (!group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value as string;
    group.transition('CompletingRebalance', nowMs);
    group.syncDeadlineMs = nowMs + group.rebalanceTimeoutMs();
    for (const member of group.members.values()) {
      member.assignment = Buffer.alloc(0);
      member.lastSeenMs = nowMs;
      answerJoin(member, joinAnswer(group, member, false));
    }
    this.logger.info({ groupId: group.groupId, generationId: group.generationId, protocol: group.protocolName, members: group.members.size, leader: group.leaderId }, 'join phase complete');
  }

  /** Removes a member without starting a rebalance (the caller decides). */
  private dropMember(group: ConsumerGroup, member: GroupMember, reason: string): void {
    answerJoin(member, refusedJoin('UNKNOWN_MEMBER_ID', `removed from the group: ${reason}`, member.memberId));
    answerSync(member, refusedSync('UNKNOWN_MEMBER_ID', `removed from the group: ${reason}`));
    group.members.delete(member.memberId);
    if (member.groupInstanceId !== '' && group.staticMembers.get(member.groupInstanceId) === member.memberId) group.staticMembers.delete(member.groupInstanceId);
  }

  /** Removes a member and rebalances the rest. */
  private removeMember(group: ConsumerGroup, member: GroupMember, reason: string): void {
    this.dropMember(group, member, reason);
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group, `member ${member.memberId} left (${reason})`);
    else if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
  }

  async syncGroup(request: SyncGroupRequest): Promise<SyncGroupResponse> {
    const route = this.route(request.groupId);
    if (route.refusal !== undefined) return refusedSync(route.refusal.errorCode, route.refusal.errorMessage);
    const group = route.shard.groups.get(request.groupId);
    const checked = checkMember(group, request.memberId, request.groupInstanceId ?? '', request.generationId);
    if ('errorCode' in checked) return refusedSync(checked.errorCode, checked.errorMessage);
    const { member } = checked;
    const g = group as ConsumerGroup;
    if ((request.protocolType ?? '') !== '' && request.protocolType !== g.protocolType) return refusedSync('INCONSISTENT_GROUP_PROTOCOL', `the group's protocol type is ${g.protocolType}`);
    if ((request.protocolName ?? '') !== '' && request.protocolName !== g.protocolName) return refusedSync('INCONSISTENT_GROUP_PROTOCOL', `the generation's protocol is ${g.protocolName}`);
    member.lastSeenMs = this.clock.nowMs();
    switch (g.state) {
      case 'PreparingRebalance':
        return refusedSync('REBALANCE_IN_PROGRESS', 'the group is rebalancing: join again');
      case 'Stable':
        return syncAnswer(g, member);
      case 'CompletingRebalance':
        return this.syncCompleting(route.shard, g, member, request.assignments ?? []);
      default:
        return refusedSync('UNKNOWN_MEMBER_ID', `group ${g.groupId} has no members`);
    }
  }

  private syncCompleting(shard: OffsetsShard, group: ConsumerGroup, member: GroupMember, assignments: NonNullable<SyncGroupRequest['assignments']>): Promise<SyncGroupResponse> | SyncGroupResponse {
    const isLeader = member.memberId === group.leaderId;
    if (!isLeader && assignments.length > 0) return refusedSync('INVALID_REQUEST', 'only the leader sends assignments');
    for (const assignment of assignments) {
      if (assignment.assignment.length > MEMBER_ASSIGNMENT_BYTES_MAX) {
        return refusedSync('INVALID_REQUEST', `the assignment of ${assignment.memberId} is ${assignment.assignment.length} bytes, more than ${MEMBER_ASSIGNMENT_BYTES_MAX}`);
      }
    }
    answerSync(member, refusedSync('REBALANCE_IN_PROGRESS', 'superseded by a newer SyncGroup of this member'));
    const answered = new Promise<SyncGroupResponse>((resolve) => {
      member.syncWaiter = resolve;
    });
    if (isLeader && !group.syncWriting) {
      const byMember = new Map(assignments.map((a) => [a.memberId, Buffer.from(a.assignment)]));
      for (const each of group.members.values()) each.assignment = byMember.get(each.memberId) ?? Buffer.alloc(0);
      this.completeSync(shard, group);
    }
    return answered;
  }

  /** Writes the generation's membership, then hands every waiting member its assignment. */
  private completeSync(shard: OffsetsShard, group: ConsumerGroup): void {
    const generationId = group.generationId;
    group.syncWriting = true;
    this.writeMembership(shard, group).then(
      () => {
        group.syncWriting = false;
        if (group.generationId !== generationId || group.state !== 'CompletingRebalance') return;
        group.transition('Stable', this.clock.nowMs());
        for (const member of group.members.values()) {
          member.lastSeenMs = this.clock.nowMs();
          answerSync(member, syncAnswer(group, member));
        }
        this.logger.info({ groupId: group.groupId, generationId }, 'group stable');
      },
      (error: unknown) => {
        group.syncWriting = false;
        const failure = error instanceof OffsetsWriteError ? error : new OffsetsWriteError('UNKNOWN_SERVER_ERROR', String(error));
        for (const member of group.members.values()) answerSync(member, refusedSync(groupWriteCode(failure), failure.message));
        if (group.generationId === generationId && group.state === 'CompletingRebalance' && failure.errorCode === 'INVALID_REQUEST') {
          this.prepareRebalance(group, 'the assignment could not be stored');
        }
      },
    );
  }

  /** Appends the group's membership record. */
  writeMembership(shard: OffsetsShard, group: ConsumerGroup): Promise<void> {
    const value = encodeGroupValue(group.toStored());
    if (value.length > GROUP_RECORD_BYTES_MAX) {
      return Promise.reject(new OffsetsWriteError('INVALID_REQUEST', `the group's metadata is ${value.length} bytes, more than ${GROUP_RECORD_BYTES_MAX}: smaller assignments or fewer members`));
    }
    return shard.write([{ key: encodeGroupKey(group.groupId), value }]);
  }

  heartbeat(request: HeartbeatRequest): HeartbeatResponse {
    const route = this.route(request.groupId);
    if (route.refusal !== undefined) return { ...route.refusal };
    const group = route.shard.groups.get(request.groupId);
    const checked = checkMember(group, request.memberId, request.groupInstanceId ?? '', request.generationId);
    if ('errorCode' in checked) return checked;
    checked.member.lastSeenMs = this.clock.nowMs();
    if ((group as ConsumerGroup).state === 'PreparingRebalance') return { errorCode: 'REBALANCE_IN_PROGRESS', errorMessage: 'the group is rebalancing: join again' };
    return { errorCode: 'NONE', errorMessage: '' };
  }

  leaveGroup(request: LeaveGroupRequest): LeaveGroupResponse {
    const route = this.route(request.groupId);
    if (route.refusal !== undefined) return { ...route.refusal, members: [] };
    const leaving = request.members ?? [];
    if (leaving.length === 0 || leaving.length > LEAVING_MEMBERS_MAX) {
      return { errorCode: 'INVALID_REQUEST', errorMessage: `a leave names 1 to ${LEAVING_MEMBERS_MAX} members`, members: [] };
    }
    const group = route.shard.groups.get(request.groupId);
    if (group === undefined) return { errorCode: 'GROUP_ID_NOT_FOUND', errorMessage: `group ${request.groupId} does not exist`, members: [] };
    const members = leaving.map((entry): LeaveGroupMemberResult => {
      const memberId = entry.memberId ?? '';
      const instanceId = entry.groupInstanceId ?? '';
      const result = (errorCode: ErrorCode, errorMessage = ''): LeaveGroupMemberResult => ({ memberId, groupInstanceId: instanceId, errorCode, errorMessage });
      let target = memberId;
      if (instanceId !== '') {
        const holder = group.staticMembers.get(instanceId);
        if (holder === undefined) return result('UNKNOWN_MEMBER_ID', `no member holds group instance ${instanceId}`);
        if (memberId !== '' && memberId !== holder) return result('FENCED_INSTANCE_ID', `group instance ${instanceId} is held by another member id`);
        target = holder;
      } else if (group.pendingMembers.delete(memberId)) {
        this.maybeCompleteJoin(group);
        return result('NONE');
      }
      const member = group.members.get(target);
      if (member === undefined) return result('UNKNOWN_MEMBER_ID', `group ${group.groupId} has no member ${target}`);
      this.logger.info({ groupId: group.groupId, memberId: target, reason: (entry.reason ?? '').slice(0, CLIENT_ID_LENGTH_MAX) }, 'member left');
      this.removeMember(group, member, 'left the group');
      return result('NONE');
    });
    return { errorCode: 'NONE', errorMessage: '', members };
  }
}

/** What a join says about the member. */
interface MemberProfile {
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: MemberProtocol[];
}

function updateMember(member: GroupMember, profile: MemberProfile, nowMs: number): void {
  member.clientId = profile.clientId;
  member.clientHost = profile.clientHost;
  member.sessionTimeoutMs = profile.sessionTimeoutMs;
  member.rebalanceTimeoutMs = profile.rebalanceTimeoutMs;
  member.protocols = profile.protocols;
  member.lastSeenMs = nowMs;
}

/**
 * The member behind a sync, heartbeat or commit, checked as Kafka does: fenced instance, unknown
 * member, stale generation.
 */
export function checkMember(
  group: ConsumerGroup | undefined,
  memberId: string,
  instanceId: string,
  generationId: number,
): { member: GroupMember } | Refusal {
  if (group === undefined || group.state === 'Empty') return { errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: `the group has no member ${memberId}` };
  if (instanceId !== '' && group.staticMembers.has(instanceId) && group.staticMembers.get(instanceId) !== memberId) {
    return { errorCode: 'FENCED_INSTANCE_ID', errorMessage: `group instance ${instanceId} is held by another member id` };
  }
  const member = group.members.get(memberId);
  if (member === undefined) return { errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: `group ${group.groupId} has no member ${memberId}: join again` };
  if (generationId !== group.generationId) {
    return { errorCode: 'ILLEGAL_GENERATION', errorMessage: `generation ${generationId} is not the group's current generation ${group.generationId}: join again` };
  }
  return { member };
}

function sameProtocols(a: readonly MemberProtocol[], b: readonly MemberProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata));
}

/** Whether the member's metadata for the group's current protocol is unchanged. */
function sameSelected(group: ConsumerGroup, before: readonly MemberProtocol[], after: readonly MemberProtocol[]): boolean {
  const name = group.protocolName;
  const was = before.find((p) => p.name === name);
  const now = after.find((p) => p.name === name);
  return was !== undefined && now !== undefined && was.metadata.equals(now.metadata);
}

function sanitize(clientId: string): string {
  return clientId.replace(/[^a-zA-Z0-9._-]/g, '_');
}

function answerJoin(member: GroupMember, response: JoinGroupResponse): void {
  const waiter = member.joinWaiter;
  if (waiter === undefined) return;
  member.joinWaiter = undefined;
  waiter(response);
}

function answerSync(member: GroupMember, response: SyncGroupResponse): void {
  const waiter = member.syncWaiter;
  if (waiter === undefined) return;
  member.syncWaiter = undefined;
  waiter(response);
}

function joinAnswer(group: ConsumerGroup, member: GroupMember, skipAssignment: boolean): JoinGroupResponse {
  const isLeader = member.memberId === group.leaderId;
  return {
    errorCode: 'NONE',
    errorMessage: '',
    generationId: group.generationId,
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    leader: group.leaderId,
    memberId: member.memberId,
    members: isLeader
      ? [...group.members.values()].map((each) => ({
          memberId: each.memberId,
          groupInstanceId: each.groupInstanceId,
          metadata: ConsumerGroup.metadataFor(each, group.protocolName),
        }))
      : [],
    skipAssignment,
  };
}

function syncAnswer(group: ConsumerGroup, member: GroupMember): SyncGroupResponse {
  return { errorCode: 'NONE', errorMessage: '', protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
}

export function refusedJoin(errorCode: ErrorCode, errorMessage: string, memberId: string): JoinGroupResponse {
  return { errorCode, errorMessage, generationId: NO_GENERATION, protocolType: '', protocolName: '', leader: '', memberId, members: [], skipAssignment: false };
}

export function refusedSync(errorCode: ErrorCode, errorMessage: string): SyncGroupResponse {
  return { errorCode, errorMessage, protocolType: '', protocolName: '', assignment: Buffer.alloc(0) };
}

function inconsistentProtocol(group: ConsumerGroup, memberId: string): JoinGroupResponse {
  return refusedJoin('INCONSISTENT_GROUP_PROTOCOL', `group ${group.groupId} (protocol type ${group.protocolType}) has no protocol in common with this member`, memberId);
}

/** The code a membership request hears when its group record could not be written. */
function groupWriteCode(error: OffsetsWriteError): ErrorCode {
  if (error.errorCode === 'NOT_COORDINATOR' || error.errorCode === 'INVALID_REQUEST') return error.errorCode;
  return 'COORDINATOR_NOT_AVAILABLE';
}
