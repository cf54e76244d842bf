/**
 * A typed promise wrapper over the brook.v1.Groups client for the broker-side group tests, and
 * small helpers that drive the join protocol the way a consumer does.
 */
import * as grpc from '@grpc/grpc-js';
import { loadGroupsProto } from '../../proto/groups-proto.js';
import type {
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  ResetOffsetsRequest,
  ResetOffsetsResponse,
  SyncGroupRequest,
  SyncGroupResponse,
} from '../../proto/groups-types.js';

export class GroupsTestClient {
  private readonly client: grpc.Client & Record<string, unknown>;

  constructor(address: string) {
    const { Client } = loadGroupsProto();
    this.client = new Client(address, grpc.credentials.createInsecure()) as GroupsTestClient['client'];
  }

  private call<Res>(method: string, request: object, deadlineMs = 20_000): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const fn = this.client[method] as (req: object, options: grpc.CallOptions, cb: (error: grpc.ServiceError | null, res: Res) => void) => void;
      fn.call(this.client, request, { deadline: Date.now() + deadlineMs }, (error, response) => (error === null ? resolve(response) : reject(error)));
    });
  }

  findCoordinator(request: FindCoordinatorRequest): Promise<FindCoordinatorResponse> {
    return this.call('FindCoordinator', request);
  }
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResponse> {
    return this.call('JoinGroup', request, 60_000);
  }
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResponse> {
    return this.call('SyncGroup', request, 60_000);
  }
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call('Heartbeat', request);
  }
  leaveGroup(request: LeaveGroupRequest): Promise<LeaveGroupResponse> {
    return this.call('LeaveGroup', request);
  }
  offsetCommit(request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    return this.call('OffsetCommit', request);
  }
  offsetFetch(request: OffsetFetchRequest): Promise<OffsetFetchResponse> {
    return this.call('OffsetFetch', request);
  }
  listGroups(request: ListGroupsRequest): Promise<ListGroupsResponse> {
    return this.call('ListGroups', request);
  }
  describeGroups(request: DescribeGroupsRequest): Promise<DescribeGroupsResponse> {
    return this.call('DescribeGroups', request);
  }
  deleteGroups(request: DeleteGroupsRequest): Promise<DeleteGroupsResponse> {
    return this.call('DeleteGroups', request);
  }
  resetOffsets(request: ResetOffsetsRequest): Promise<ResetOffsetsResponse> {
    return this.call('ResetOffsets', request);
  }

  /**
   * A dynamic member's full join: the first JoinGroup (MEMBER_ID_REQUIRED), then the join with
   * the id given, which the coordinator holds until the join phase completes.
   */
  async joinDynamic(groupId: string, clientId: string, metadata: string, sessionTimeoutMs = 5000): Promise<JoinGroupResponse> {
    const base = { groupId, sessionTimeoutMs, rebalanceTimeoutMs: 5000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from(metadata) }], clientId };
    const first = await this.joinGroup(base);
    if (first.errorCode !== 'MEMBER_ID_REQUIRED') throw new Error(`first join answered ${first.errorCode}: ${first.errorMessage}`);
    return this.joinGroup({ ...base, memberId: first.memberId });
  }

  /** Retries `work` while it answers COORDINATOR_LOAD_IN_PROGRESS (a coordinator just started). */
  static async whileLoading<T extends { errorCode: string }>(work: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await work();
      if ((answer.errorCode !== 'COORDINATOR_LOAD_IN_PROGRESS' && answer.errorCode !== 'COORDINATOR_NOT_AVAILABLE') || Date.now() > deadline) return answer;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.client.close();
  }
}
