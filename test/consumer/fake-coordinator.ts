/**
 * An in-process group coordinator with the group protocol's semantics (proto/groups.proto), for
 * testing the consumer's membership without brokers: member ids assigned with
 * MEMBER_ID_REQUIRED, a join phase held open until every member rejoined or the rebalance timeout
 * passed, generations, the leader's assignment handed out in SyncGroup, heartbeats answering
 * REBALANCE_IN_PROGRESS, session expiry, static members replaced without a rebalance, commits
 * fenced by generation and never moving backwards. Errors can be injected per method.
 */
import type {
  GroupResult,
  GroupsApi,
  GroupTopicPartition,
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResponse,
  MemberRequest,
  OffsetCommitRequest,
  OffsetFetchResponse,
  PartitionResult,
  SyncGroupRequest,
  SyncGroupResponse,
} from '../../client/groups-api.js';

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

interface Member {
  memberId: string;
  instanceId: string | null;
  protocols: JoinGroupRequest['protocols'];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  assignment: Buffer;
  joinWaiter: ((response: JoinGroupResponse) => void) | null;
  syncWaiter: ((response: SyncGroupResponse) => void) | null;
  sessionTimer: NodeJS.Timeout | null;
}

class Group {
  state: GroupState = 'Empty';
  generation = 0;
  leader = '';
  protocol = '';
  members = new Map<string, Member>();
  pending = new Set<string>();
  statics = new Map<string, string>();
  rebalanceTimer: NodeJS.Timeout | null = null;
  offsets = new Map<string, number>();
}

const ok = { errorCode: 'NONE', errorMessage: '' };
const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class FakeCoordinator implements GroupsApi {
  readonly groups = new Map<string, Group>();
  private nextId = 1;
  private readonly injected = new Map<string, string[]>();
  /** Completed join phases, per group. */
  readonly generations: Array<{ groupId: string; generation: number; members: string[] }> = [];
  closed = false;

  /** The next `times` calls of `method` answer `code`. */
  failNext(method: 'joinGroup' | 'syncGroup' | 'heartbeat' | 'offsetCommit' | 'offsetFetch', code: string, times = 1): void {
    this.injected.set(method, [...(this.injected.get(method) ?? []), ...Array(times).fill(code)]);
  }

  private injectedError(method: string): string | undefined {
    return this.injected.get(method)?.shift();
  }

  group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (group === undefined) this.groups.set(groupId, (group = new Group()));
    return group;
  }

  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
      for (const member of group.members.values()) if (member.sessionTimer) clearTimeout(member.sessionTimer);
    }
  }

  private touch(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (member.joinWaiter !== null || this.closed) return;
      this.remove(group, member.memberId);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private remove(group: Group, memberId: string): void {
    const member = group.members.get(memberId);
    if (member === undefined) return;
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    group.members.delete(memberId);
    if (member.instanceId !== null && group.statics.get(member.instanceId) === memberId) group.statics.delete(member.instanceId);
    member.syncWaiter?.({ errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: 'removed', assignment: Buffer.alloc(0) });
    member.joinWaiter?.(this.errorJoin('UNKNOWN_MEMBER_ID', memberId));
    if (group.members.size === 0) {
      group.state = 'Empty';
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
      group.rebalanceTimer = null;
      return;
    }
    this.prepareRebalance(group);
    this.maybeCompleteJoin(group);
  }

  private errorJoin(code: string, memberId: string): JoinGroupResponse {
    return { errorCode: code, errorMessage: '', generationId: -1, protocolName: '', leaderId: '', memberId, members: [], skipAssignment: false };
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'PreparingRebalance') return;
    if (group.state === 'CompletingRebalance') {
      for (const member of group.members.values()) {
        member.syncWaiter?.({ errorCode: 'REBALANCE_IN_PROGRESS', errorMessage: '', assignment: Buffer.alloc(0) });
        member.syncWaiter = null;
      }
    }
    group.state = 'PreparingRebalance';
    const timeoutMs = Math.max(...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), timeoutMs);
    group.rebalanceTimer.unref();
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    if ([...group.members.values()].every((m) => m.joinWaiter !== null)) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    for (const member of [...group.members.values()]) if (member.joinWaiter === null) this.removeQuietly(group, member);
    if (group.members.size === 0) {
      group.state = 'Empty';
      return;
    }
    group.generation++;
    const members = [...group.members.values()];
    if (!group.members.has(group.leader)) group.leader = members[0].memberId;
    const leader = group.members.get(group.leader)!;
    group.protocol = leader.protocols.map((p) => p.name).find((name) => members.every((m) => m.protocols.some((p) => p.name === name))) ?? '';
    group.state = 'CompletingRebalance';
    this.generations.push({ groupId: [...this.groups].find(([, g]) => g === group)![0], generation: group.generation, members: members.map((m) => m.memberId) });
    for (const member of members) {
      const waiter = member.joinWaiter!;
      member.joinWaiter = null;
      this.touch(group, member);
      waiter(this.joinAnswer(group, member, false));
    }
  }

  private removeQuietly(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    if (member.instanceId !== null && group.statics.get(member.instanceId) === member.memberId) group.statics.delete(member.instanceId);
  }

  private joinAnswer(group: Group, member: Member, skipAssignment: boolean): JoinGroupResponse {
    const isLeader = member.memberId === group.leader;
    return {
      ...ok,
      generationId: group.generation,
      protocolName: group.protocol,
      leaderId: group.leader,
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.instanceId, metadata: m.protocols.find((p) => p.name === group.protocol)?.metadata ?? Buffer.alloc(0) }))
        : [],
      skipAssignment,
    };
  }

  async joinGroup(request: JoinGroupRequest): Promise<JoinGroupResponse> {
    const injected = this.injectedError('joinGroup');
    if (injected) return this.errorJoin(injected, request.memberId);
    const group = this.group(request.groupId);
    let memberId = request.memberId;
    if (memberId === '' && request.groupInstanceId !== null) {
      const previous = group.statics.get(request.groupInstanceId);
      memberId = `${request.groupInstanceId}-${this.nextId++}`;
      if (previous !== undefined) {
        const member = group.members.get(previous)!;
        group.members.delete(previous);
        member.memberId = memberId;
        if (group.leader === previous) group.leader = memberId;
        group.members.set(memberId, member);
        group.statics.set(request.groupInstanceId, memberId);
        const same = JSON.stringify(member.protocols.map((p) => [p.name])) === JSON.stringify(request.protocols.map((p) => [p.name]));
        if (group.state === 'Stable' && same) {
          this.touch(group, member);
          return this.joinAnswer(group, member, member.memberId === group.leader);
        }
      } else {
        group.statics.set(request.groupInstanceId, memberId);
        group.pending.add(memberId);
      }
    } else if (memberId === '') {
      memberId = `member-${this.nextId++}`;
      group.pending.add(memberId);
      return this.errorJoin('MEMBER_ID_REQUIRED', memberId);
    }
    let member = group.members.get(memberId);
    if (member === undefined) {
      if (!group.pending.delete(memberId)) {
        const fenced = request.groupInstanceId !== null && group.statics.has(request.groupInstanceId);
        return this.errorJoin(fenced ? 'FENCED_INSTANCE_ID' : 'UNKNOWN_MEMBER_ID', memberId);
      }
      member = { memberId, instanceId: request.groupInstanceId, protocols: request.protocols, sessionTimeoutMs: request.sessionTimeoutMs, rebalanceTimeoutMs: request.rebalanceTimeoutMs, assignment: Buffer.alloc(0), joinWaiter: null, syncWaiter: null, sessionTimer: null };
      group.members.set(memberId, member);
    }
    member.protocols = request.protocols;
    const answer = new Promise<JoinGroupResponse>((resolve) => {
      member!.joinWaiter = resolve;
    });
    this.prepareRebalance(group);
    this.maybeCompleteJoin(group);
    return answer;
  }

  async syncGroup(request: SyncGroupRequest): Promise<SyncGroupResponse> {
    const injected = this.injectedError('syncGroup');
    if (injected) return { errorCode: injected, errorMessage: '', assignment: Buffer.alloc(0) };
    const group = this.group(request.groupId);
    const member = group.members.get(request.memberId);
    if (member === undefined) return { errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: '', assignment: Buffer.alloc(0) };
    if (request.generationId !== group.generation) return { errorCode: 'ILLEGAL_GENERATION', errorMessage: '', assignment: Buffer.alloc(0) };
    if (group.state === 'PreparingRebalance') return { errorCode: 'REBALANCE_IN_PROGRESS', errorMessage: '', assignment: Buffer.alloc(0) };
    this.touch(group, member);
    if (group.state === 'Stable') return { ...ok, assignment: member.assignment };
    if (request.memberId === group.leader) {
      for (const m of group.members.values()) m.assignment = Buffer.alloc(0);
      for (const a of request.assignments) {
        const m = group.members.get(a.memberId);
        if (m !== undefined) m.assignment = a.assignment;
      }
      group.state = 'Stable';
      for (const m of group.members.values()) {
        m.syncWaiter?.({ ...ok, assignment: m.assignment });
        m.syncWaiter = null;
      }
      return { ...ok, assignment: member.assignment };
    }
    return new Promise((resolve) => {
      member.syncWaiter = resolve;
    });
  }

  async heartbeat(request: HeartbeatRequest): Promise<GroupResult> {
    const injected = this.injectedError('heartbeat');
    if (injected) return { errorCode: injected, errorMessage: '' };
    const group = this.group(request.groupId);
    const member = group.members.get(request.memberId);
    if (member === undefined) {
      const fenced = request.groupInstanceId !== null && group.statics.has(request.groupInstanceId);
      return { errorCode: fenced ? 'FENCED_INSTANCE_ID' : 'UNKNOWN_MEMBER_ID', errorMessage: '' };
    }
    if (request.generationId !== group.generation) return { errorCode: 'ILLEGAL_GENERATION', errorMessage: '' };
    this.touch(group, member);
    if (group.state === 'PreparingRebalance') return { errorCode: 'REBALANCE_IN_PROGRESS', errorMessage: '' };
    return ok;
  }

  async leaveGroup(request: MemberRequest): Promise<GroupResult> {
    const group = this.group(request.groupId);
    if (!group.members.has(request.memberId)) return { errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: '' };
    this.remove(group, request.memberId);
    return ok;
  }

  async offsetCommit(request: OffsetCommitRequest): Promise<GroupResult & { partitions: readonly PartitionResult[] }> {
    const injected = this.injectedError('offsetCommit');
    if (injected) return { errorCode: injected, errorMessage: '', partitions: [] };
    const group = this.group(request.groupId);
    if (request.memberId !== '' || request.generationId !== -1) {
      if (!group.members.has(request.memberId)) return { errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: '', partitions: [] };
      if (request.generationId !== group.generation) return { errorCode: 'ILLEGAL_GENERATION', errorMessage: '', partitions: [] };
      if (group.state === 'CompletingRebalance') return { errorCode: 'REBALANCE_IN_PROGRESS', errorMessage: '', partitions: [] };
    }
    const partitions = request.offsets.map((o) => {
      const current = group.offsets.get(key(o.topic, o.partition)) ?? -1;
      if (o.offset < current) return { topic: o.topic, partition: o.partition, errorCode: 'OFFSET_OUT_OF_RANGE', errorMessage: `below ${current}` };
      group.offsets.set(key(o.topic, o.partition), o.offset);
      return { topic: o.topic, partition: o.partition, ...ok };
    });
    return { ...ok, partitions };
  }

  async offsetFetch(request: { groupId: string; partitions: readonly GroupTopicPartition[] | null }): Promise<OffsetFetchResponse> {
    const injected = this.injectedError('offsetFetch');
    if (injected) return { errorCode: injected, errorMessage: '', partitions: [] };
    const group = this.group(request.groupId);
    const asked = request.partitions ?? [...group.offsets.keys()].map((k) => ({ topic: k.split('\u0000')[0], partition: Number(k.split('\u0000')[1]) }));
    return { ...ok, partitions: asked.map((p) => ({ topic: p.topic, partition: p.partition, offset: group.offsets.get(key(p.topic, p.partition)) ?? -1, metadata: '', ...ok })) };
  }
}
