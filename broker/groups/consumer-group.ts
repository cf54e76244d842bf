/**
 * One group as its coordinator holds it in memory: membership (members, generation, leader,
 * chosen protocol, state) and committed offsets. The membership protocol that changes it lives in
 * group-coordinator.ts; this file holds the data and the rules that need nothing else.
 *
 * States (Kafka's classic group protocol):
 *
 * | state               | means                                               | next                                  |
 * | ------------------- | --------------------------------------------------- | ------------------------------------- |
 * | Empty               | no members (maybe committed offsets)                | PreparingRebalance (a join)           |
 * | PreparingRebalance  | join phase: waiting for members to (re)join         | CompletingRebalance, Empty (none left) |
 * | CompletingRebalance | joined; waiting for the leader's assignments        | Stable, PreparingRebalance            |
 * | Stable              | assignments handed out; members heartbeat           | PreparingRebalance                    |
 */
import type { GroupState, JoinGroupResponse, SyncGroupResponse } from '../../proto/groups-types.js';
import type { CommittedOffset, StoredGroup, StoredMember } from './offsets-records.js';

export interface MemberProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

/** A member of a group. */
export interface GroupMember {
  memberId: string;
  readonly groupInstanceId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** The protocols it offers, in its order of preference. */
  protocols: MemberProtocol[];
  /** Its assignment in the current generation (empty until the leader's SyncGroup). */
  assignment: Buffer;
  /** Last request from it (join, sync, heartbeat, commit): its session runs from here. */
  lastSeenMs: number;
  /** Its JoinGroup waiting for the join phase to complete. */
  joinWaiter?: (response: JoinGroupResponse) => void;
  /** Its SyncGroup waiting for the leader's assignments. */
  syncWaiter?: (response: SyncGroupResponse) => void;
}

/** A committed offset with where it applies. */
export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  readonly value: CommittedOffset;
}

export class ConsumerGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType = '';
  protocolName = '';
  leaderId = '';
  stateTimestampMs: number;
  readonly members = new Map<string, GroupMember>();
  /** group_instance_id -> the member id that holds it now. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined with: id -> expiry time. */
  readonly pendingMembers = new Map<string, number>();
  /** Committed offsets by offsetKey(topic, partition). */
  readonly offsets = new Map<string, GroupOffset>();
  /** Highest offset per partition whose commit is being written, so commits never go back. */
  readonly pendingOffsets = new Map<string, number>();
  /** PreparingRebalance: the join phase ends here at the latest. */
  joinDeadlineMs = 0;
  /** PreparingRebalance of a group that was empty: not before this (more members may come). */
  joinNotBeforeMs = 0;
  /** CompletingRebalance: members that have not synced by then are removed. */
  syncDeadlineMs = 0;
  /** A metadata write for the current generation is under way (the leader's SyncGroup). */
  syncWriting = false;

  constructor(
    readonly groupId: string,
    nowMs: number,
  ) {
    this.stateTimestampMs = nowMs;
  }

  transition(state: GroupState, nowMs: number): void {
    this.state = state;
    this.stateTimestampMs = nowMs;
  }

  /** True when the group holds nothing worth keeping: no members, offsets or pending work. */
  get isDeletable(): boolean {
    return this.members.size === 0 && this.pendingMembers.size === 0 && this.offsets.size === 0 && this.pendingOffsets.size === 0;
  }

  /** Whether every member has rejoined and no handed-out member id is still expected. */
  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.members.values()) if (member.joinWaiter === undefined) return false;
    return true;
  }

  /** The longest rebalance timeout of the members: how long the join and sync phases wait. */
  rebalanceTimeoutMs(): number {
    let longest = 0;
    for (const member of this.members.values()) longest = Math.max(longest, member.rebalanceTimeoutMs);
    return longest;
  }

  /**
   * Whether a member offering `protocols` could join: the group is empty, or the protocol type
   * matches and at least one protocol is offered by every member.
   */
  supportsProtocols(protocolType: string, protocols: readonly MemberProtocol[], exceptMemberId = ''): boolean {
    const others = [...this.members.values()].filter((member) => member.memberId !== exceptMemberId);
    if (others.length === 0) return true;
    if (protocolType !== this.protocolType) return false;
    return protocols.some((offered) => others.every((member) => member.protocols.some((p) => p.name === offered.name)));
  }

  /**
   * The protocol for a new generation: among those every member offers, the one most members
   * rank first; ties go to the one the earliest-joined member ranks higher.
   */
  selectProtocol(): string {
    const members = [...this.members.values()];
    const common = members[0].protocols.map((p) => p.name).filter((name) => members.every((member) => member.protocols.some((p) => p.name === name)));
    if (common.length === 0) return '';
    let best = common[0];
    let bestVotes = -1;
    for (const name of common) {
      let votes = 0;
      for (const member of members) {
        const first = member.protocols.find((p) => common.includes(p.name));
        if (first?.name === name) votes++;
      }
      if (votes > bestVotes) {
        best = name;
        bestVotes = votes;
      }
    }
    return best;
  }

  /** The member's metadata for the group's protocol (empty when it offers none of that name). */
  static metadataFor(member: GroupMember, protocolName: string): Buffer {
    return member.protocols.find((p) => p.name === protocolName)?.metadata ?? Buffer.alloc(0);
  }

  /** The membership as its metadata record stores it. */
  toStored(): StoredGroup {
    return {
      protocolType: this.protocolType,
      generationId: this.generationId,
      protocolName: this.protocolName,
      leaderId: this.leaderId,
      stateTimestampMs: this.stateTimestampMs,
      members: [...this.members.values()].map(
        (member): StoredMember => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          rebalanceTimeoutMs: member.rebalanceTimeoutMs,
          sessionTimeoutMs: member.sessionTimeoutMs,
          metadata: ConsumerGroup.metadataFor(member, this.protocolName),
          assignment: member.assignment,
        }),
      ),
    };
  }

  /**
   * Replaces the membership with a stored one (loading the log). Members come back Stable with a
   * fresh session from `nowMs`: they keep heartbeating to the new coordinator, or time out.
   */
  restore(stored: StoredGroup | undefined, nowMs: number): void {
    this.members.clear();
    this.staticMembers.clear();
    this.pendingMembers.clear();
    if (stored === undefined) {
      this.generationId = 0;
      this.protocolType = '';
      this.protocolName = '';
      this.leaderId = '';
      this.transition('Empty', nowMs);
      return;
    }
    this.generationId = stored.generationId;
    this.protocolType = stored.protocolType;
    this.protocolName = stored.protocolName;
    this.leaderId = stored.leaderId;
    for (const member of stored.members) {
      this.members.set(member.memberId, {
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        sessionTimeoutMs: member.sessionTimeoutMs,
        rebalanceTimeoutMs: member.rebalanceTimeoutMs,
        protocols: [{ name: stored.protocolName, metadata: member.metadata }],
        assignment: member.assignment,
        lastSeenMs: nowMs,
      });
      if (member.groupInstanceId !== '') this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    this.transition(this.members.size === 0 ? 'Empty' : 'Stable', nowMs);
  }
}

/** The key of a partition in ConsumerGroup.offsets. */
export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
