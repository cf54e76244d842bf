/**
 * The Groups service (proto/groups.proto) from the client side: finds each group's coordinator,
 * sends the group's calls there, and follows the coordinator when it moves (NOT_COORDINATOR,
 * COORDINATOR_NOT_AVAILABLE, a lost connection: find it again and retry; COORDINATOR_LOAD_IN_PROGRESS:
 * retry after a backoff), within the retry module's limits. Other group errors come back in the
 * answer for the caller (the consumer's membership state machine) to act on.
 *
 * It rides on a Cluster for the broker list; the Groups channel to a broker is its own gRPC
 * channel beside the Brook one.
 */
import { BrokerConnection } from './broker-connection.js';
import type { Cluster } from './cluster.js';
import { BrookError, isNoError } from './errors.js';
import { GroupError, groupErrorAction } from './group-errors.js';
import { retry, type RetryConfig } from './retry.js';
import type {
  CommittedOffset,
  GroupCallOptions,
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
} from './groups-api.js';
import { loadGroupsProto } from '../proto/groups-proto.js';
import type * as wire from '../proto/groups-types.js';

/** Extra deadline on JoinGroup and SyncGroup beyond the rebalance timeout: the coordinator holds them open. */
export const GROUP_CALL_SLACK_MS = 5_000;
/** The broker's longest initial rebalance delay we allow for on a new group's first join. */
export const INITIAL_REBALANCE_DELAY_ALLOWANCE_MS = 10_000;
/** Groups whose coordinator is remembered; beyond this the cache starts over. */
const COORDINATORS_CACHED_MAX = 10_000;

const NO_RETRY: RetryConfig = { retries: 0, initialRetryMs: 0, maxRetryMs: 0, multiplier: 1, jitterFactor: 0, maxRetryTimeMs: 0 };

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly state: string;
  /** The broker coordinating it. */
  readonly coordinatorId: number;
}

export type GroupDescription = wire.DescribedGroup;

export interface ResetOffsetsOptions {
  readonly groupId: string;
  readonly topics: ReadonlyArray<{ topic: string; partitions?: number[] }>;
  readonly to: 'earliest' | 'latest' | { offset: number } | { timestamp: number };
  readonly dryRun?: boolean;
}

export interface ResetPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly previousOffset: number;
  readonly newOffset: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export class GroupsClient implements GroupsApi {
  private readonly coordinators = new Map<string, string>();
  private readonly connections = new Map<string, BrokerConnection>();
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly clientId: string = cluster.config.clientId,
  ) {}

  private get retryConfig(): RetryConfig {
    return this.cluster.config.retry;
  }

  private get timeoutMs(): number {
    return this.cluster.config.requestTimeoutMs;
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private connectionTo(address: string): BrokerConnection {
    let connection = this.connections.get(address);
    if (connection === undefined || this.closed) {
      if (this.closed) throw new BrookError('the groups client is closed', { code: 'CONNECTION_ERROR', retriable: false });
      connection = new BrokerConnection(address, loadGroupsProto().Client);
      this.connections.set(address, connection);
    }
    return connection;
  }

  /** Address ("host:port") of the group's coordinator, asked of any broker when not cached. */
  async coordinatorOf(groupId: string): Promise<string> {
    const cached = this.coordinators.get(groupId);
    if (cached !== undefined) return cached;
    const address = this.cluster.anyConnection().address;
    const answer = await this.connectionTo(address).call<wire.FindCoordinatorResponse>('FindCoordinator', { groupId }, this.timeoutMs);
    if (!isNoError(answer.errorCode)) throw new GroupError(answer.errorCode, `finding the coordinator of ${groupId}: ${answer.errorMessage}`);
    const broker = answer.coordinator!;
    const found = broker.host.includes(':') ? `[${broker.host}]:${broker.port}` : `${broker.host}:${broker.port}`;
    if (this.coordinators.size >= COORDINATORS_CACHED_MAX) this.coordinators.clear();
    this.coordinators.set(groupId, found);
    return found;
  }

  /**
   * Calls `method` on the group's coordinator. Coordinator errors (`codeOf` the answer) and lost
   * connections forget the coordinator and, when `patient`, retry after finding it again.
   */
  private async onCoordinator<Response>(groupId: string, method: string, request: unknown, codeOf: (response: Response) => string, options: GroupCallOptions = {}, timeoutMs = this.timeoutMs): Promise<Response> {
    const attempt = async (): Promise<Response> => {
      const address = await this.coordinatorOf(groupId);
      let response: Response;
      try {
        response = await this.connectionTo(address).call<Response>(method, request, options.timeoutMs ?? timeoutMs);
      } catch (error) {
        if (error instanceof BrookError && error.retriable) this.forget(groupId, address);
        throw error;
      }
      const code = codeOf(response);
      const action = isNoError(code) ? 'none' : groupErrorAction(code);
      if (action === 'find-coordinator') this.forget(groupId, address);
      if (action === 'find-coordinator' || code === 'COORDINATOR_LOAD_IN_PROGRESS') throw new GroupError(code, `${method} for group ${groupId}`);
      return response;
    };
    const budget = options.retryTimeMs === undefined ? this.retryConfig : { ...this.retryConfig, maxRetryTimeMs: Math.min(options.retryTimeMs, this.retryConfig.maxRetryTimeMs) };
    return retry(attempt, options.patient === false ? NO_RETRY : budget);
  }

  private forget(groupId: string, address: string): void {
    if (this.coordinators.get(groupId) === address) this.coordinators.delete(groupId);
  }

  // ---- membership (GroupsApi) --------------------------------------------------------------

  async joinGroup(request: JoinGroupRequest, options?: GroupCallOptions): Promise<JoinGroupResponse> {
    const message: wire.JoinGroupRequest = {
      groupId: request.groupId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? '',
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      clientId: this.clientId,
    };
    const timeoutMs = request.rebalanceTimeoutMs + INITIAL_REBALANCE_DELAY_ALLOWANCE_MS + GROUP_CALL_SLACK_MS;
    const raw = await this.onCoordinator<wire.JoinGroupResponse>(request.groupId, 'JoinGroup', message, (r) => r.errorCode, options, timeoutMs);
    return {
      errorCode: raw.errorCode,
      errorMessage: raw.errorMessage,
      generationId: raw.generationId,
      protocolName: raw.protocolName,
      leaderId: raw.leader,
      memberId: raw.memberId,
      members: raw.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId === '' ? null : m.groupInstanceId, metadata: m.metadata })),
      skipAssignment: raw.skipAssignment,
    };
  }

  async syncGroup(request: SyncGroupRequest, options?: GroupCallOptions): Promise<SyncGroupResponse> {
    const message: wire.SyncGroupRequest = {
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? '',
      protocolType: request.protocolType,
      protocolName: request.protocolName,
      assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    };
    const timeoutMs = (request.rebalanceTimeoutMs ?? this.timeoutMs) + GROUP_CALL_SLACK_MS;
    const raw = await this.onCoordinator<wire.SyncGroupResponse>(request.groupId, 'SyncGroup', message, (r) => r.errorCode, options, timeoutMs);
    return { errorCode: raw.errorCode, errorMessage: raw.errorMessage, assignment: raw.assignment };
  }

  async heartbeat(request: HeartbeatRequest, options?: GroupCallOptions): Promise<GroupResult> {
    const message: wire.HeartbeatRequest = { groupId: request.groupId, generationId: request.generationId, memberId: request.memberId, groupInstanceId: request.groupInstanceId ?? '' };
    return this.onCoordinator<wire.HeartbeatResponse>(request.groupId, 'Heartbeat', message, (r) => r.errorCode, options);
  }

  async leaveGroup(request: MemberRequest, options?: GroupCallOptions): Promise<GroupResult> {
    const message: wire.LeaveGroupRequest = { groupId: request.groupId, members: [{ memberId: request.memberId, groupInstanceId: request.groupInstanceId ?? '', reason: 'the consumer is leaving' }] };
    const raw = await this.onCoordinator<wire.LeaveGroupResponse>(request.groupId, 'LeaveGroup', message, (r) => r.errorCode, options);
    const member = raw.members[0];
    if (!isNoError(raw.errorCode) || member === undefined) return { errorCode: raw.errorCode, errorMessage: raw.errorMessage };
    return { errorCode: member.errorCode, errorMessage: member.errorMessage };
  }

  async offsetCommit(request: OffsetCommitRequest, options?: GroupCallOptions): Promise<GroupResult & { partitions: readonly PartitionResult[] }> {
    const topics = new Map<string, wire.OffsetCommitPartition[]>();
    for (const item of request.offsets) {
      let list = topics.get(item.topic);
      if (list === undefined) topics.set(item.topic, (list = []));
      list.push({ partition: item.partition, committedOffset: item.offset, committedLeaderEpoch: -1, committedMetadata: item.metadata });
    }
    const message: wire.OffsetCommitRequest = {
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? '',
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    };
    const raw = await this.onCoordinator<wire.OffsetCommitResponse>(request.groupId, 'OffsetCommit', message, (r) => {
      if (!isNoError(r.errorCode)) return r.errorCode;
      // A partition the coordinator could not commit because it lost the group is a coordinator error too.
      for (const topic of r.topics) for (const p of topic.partitions) if (p.errorCode === 'NOT_COORDINATOR') return p.errorCode;
      return r.errorCode;
    }, options);
    const partitions: PartitionResult[] = [];
    for (const topic of raw.topics) for (const p of topic.partitions) partitions.push({ topic: topic.name, partition: p.partition, errorCode: p.errorCode, errorMessage: p.errorMessage });
    return { errorCode: raw.errorCode, errorMessage: raw.errorMessage, partitions };
  }

  async offsetFetch(request: { groupId: string; partitions: readonly GroupTopicPartition[] | null }, options?: GroupCallOptions): Promise<OffsetFetchResponse> {
    let topics: wire.OffsetFetchTopic[] = [];
    if (request.partitions !== null) {
      const byTopic = new Map<string, number[]>();
      for (const { topic, partition } of request.partitions) {
        let list = byTopic.get(topic);
        if (list === undefined) byTopic.set(topic, (list = []));
        list.push(partition);
      }
      topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    }
    const raw = await this.onCoordinator<wire.OffsetFetchResponse>(request.groupId, 'OffsetFetch', { groupId: request.groupId, topics }, (r) => r.errorCode, options);
    const partitions: CommittedOffset[] = [];
    for (const topic of raw.topics) {
      for (const p of topic.partitions) {
        partitions.push({ topic: topic.name, partition: p.partition, offset: p.committedOffset, metadata: p.committedMetadata, errorCode: p.errorCode, errorMessage: p.errorMessage });
      }
    }
    return { errorCode: raw.errorCode, errorMessage: raw.errorMessage, partitions };
  }

  // ---- administration ------------------------------------------------------------------------

  /** Every group of the cluster: each broker lists the groups it coordinates; merged, sorted by id. */
  async listGroups(): Promise<ListedGroup[]> {
    await this.cluster.refreshMetadata();
    const all = new Map<string, ListedGroup>();
    for (const broker of this.cluster.brokers()) {
      const address = `${broker.host}:${broker.port}`;
      const raw = await retry(() => this.connectionTo(address).call<wire.ListGroupsResponse>('ListGroups', {}, this.timeoutMs), this.retryConfig);
      for (const group of raw.groups) all.set(group.groupId, { groupId: group.groupId, protocolType: group.protocolType, state: group.state, coordinatorId: broker.id });
    }
    return [...all.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  /** State, members (with decoded assignments left to the caller), committed offsets, log end offsets and lag. */
  async describeGroup(groupId: string, includeLag = true): Promise<GroupDescription> {
    const raw = await this.onCoordinator<wire.DescribeGroupsResponse>(groupId, 'DescribeGroups', { groupIds: [groupId], includeLag }, (r) => r.groups[0]?.errorCode ?? 'NONE');
    const group = raw.groups[0];
    if (group === undefined) throw new GroupError('UNKNOWN_SERVER_ERROR', `no description of ${groupId} came back`);
    if (!isNoError(group.errorCode)) throw new GroupError(group.errorCode, `${groupId}: ${group.errorMessage}`);
    return group;
  }

  /** Deletes groups without members (and their committed offsets); throws naming every group refused. */
  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    const failures: string[] = [];
    let firstCode = '';
    for (const groupId of groupIds) {
      const raw = await this.onCoordinator<wire.DeleteGroupsResponse>(groupId, 'DeleteGroups', { groupIds: [groupId] }, (r) => r.results[0]?.errorCode ?? 'NONE');
      const result = raw.results[0];
      if (result !== undefined && !isNoError(result.errorCode)) {
        firstCode ||= result.errorCode;
        failures.push(`${groupId}: ${result.errorCode}${result.errorMessage ? ` (${result.errorMessage})` : ''}`);
      }
    }
    if (failures.length > 0) throw new GroupError(firstCode, `deleteGroups failed for ${failures.join('; ')}`);
  }

  /** Moves a memberless group's committed offsets; refused (NON_EMPTY_GROUP) while it has members. */
  async resetOffsets(options: ResetOffsetsOptions): Promise<ResetPartitionResult[]> {
    const to = options.to;
    const request: wire.ResetOffsetsRequest = {
      groupId: options.groupId,
      topics: options.topics.map((t) => ({ name: t.topic, partitions: t.partitions ?? [] })),
      spec: to === 'earliest' ? 'RESET_SPEC_EARLIEST' : to === 'latest' ? 'RESET_SPEC_LATEST' : 'offset' in to ? 'RESET_SPEC_OFFSET' : 'RESET_SPEC_TIMESTAMP',
      offset: typeof to === 'object' && 'offset' in to ? to.offset : 0,
      timestampMs: typeof to === 'object' && 'timestamp' in to ? to.timestamp : 0,
      dryRun: options.dryRun ?? false,
    };
    const raw = await this.onCoordinator<wire.ResetOffsetsResponse>(options.groupId, 'ResetOffsets', request, (r) => r.errorCode);
    if (!isNoError(raw.errorCode)) throw new GroupError(raw.errorCode, `resetting offsets of ${options.groupId}: ${raw.errorMessage}`);
    const results: ResetPartitionResult[] = [];
    for (const topic of raw.topics) {
      for (const p of topic.partitions) results.push({ topic: topic.name, partition: p.partition, previousOffset: p.previousOffset, newOffset: p.newOffset, errorCode: p.errorCode, errorMessage: p.errorMessage });
    }
    return results;
  }
}
