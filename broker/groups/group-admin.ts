/**
 * Committed offsets and group administration over the coordinator's routing: OffsetCommit,
 * OffsetFetch, ListGroups, DescribeGroups (with lag), DeleteGroups, ResetOffsets.
 *
 * Commits never move an offset backwards: a commit below the offset in force (or below one being
 * written) is refused with OFFSET_OUT_OF_RANGE and the offset in force is returned, so a client
 * that re-commits an old position after seeking back learns it and is not silently ignored. Only
 * ResetOffsets, on a group without members, moves offsets back. A commit above the partition's
 * high watermark is refused with OFFSET_OUT_OF_RANGE too.
 */
import type { ErrorCode, OffsetSpec } from '../../proto/brook-types.js';
import type {
  DeleteGroupResult,
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribedGroup,
  DescribedOffset,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  GroupState,
  ListGroupsRequest,
  ListGroupsResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchPartition,
  OffsetFetchRequest,
  OffsetFetchResponse,
  PartitionCommitResult,
  ResetOffsetsPartition,
  ResetOffsetsRequest,
  ResetOffsetsResponse,
  ResetSpec,
} from '../../proto/groups-types.js';
import type { ProduceRecord } from '../../record/record.js';
import type { TopicService } from '../api/topic-service.js';
import { ConsumerGroup, offsetKey, type GroupOffset } from './consumer-group.js';
import { checkMember, type GroupCoordinator, type Refusal } from './group-coordinator.js';
import { COMMIT_PARTITIONS_MAX, GROUP_OFFSETS_MAX, GROUPS_PER_REQUEST_MAX, OFFSET_METADATA_BYTES_MAX } from './group-limits.js';
import type { OffsetLookup } from './offset-lookup.js';
import { encodeGroupKey, encodeOffsetKey, encodeOffsetValue } from './offsets-records.js';
import { OffsetsWriteError, type OffsetsShard } from './offsets-shard.js';

interface CommitCandidate {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string;
  /** Where its result goes. */
  readonly result: { errorCode: ErrorCode; errorMessage: string; committedOffset: number };
}

export class GroupAdmin {
  constructor(
    private readonly coordinator: GroupCoordinator,
    private readonly topics: TopicService,
    private readonly lookup: OffsetLookup,
  ) {}

  private get nowMs(): number {
    return this.coordinator.clock.nowMs();
  }

  // ---- OffsetCommit ------------------------------------------------------------------------------

  async offsetCommit(request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    const refused = (refusal: Refusal): OffsetCommitResponse => ({ errorCode: refusal.errorCode, errorMessage: refusal.errorMessage, topics: [] });
    const route = this.coordinator.route(request.groupId);
    if (route.refusal !== undefined) return refused(route.refusal);
    const requested = request.topics ?? [];
    const partitionCount = requested.reduce((sum, topic) => sum + (topic.partitions ?? []).length, 0);
    if (partitionCount > COMMIT_PARTITIONS_MAX) {
      return refused({ errorCode: 'INVALID_COMMIT_OFFSET_SIZE', errorMessage: `a commit names at most ${COMMIT_PARTITIONS_MAX} partitions, this one ${partitionCount}` });
    }
    const shard = route.shard;
    const fenced = this.commitFencing(shard, request);
    if (fenced !== undefined) return refused(fenced);
    const results = requested.map((topic) => ({
      name: topic.name,
      partitions: (topic.partitions ?? []).map((p): PartitionCommitResult => ({ partition: p.partition, errorCode: 'NONE', errorMessage: '', committedOffset: -1 })),
    }));
    const candidates = this.commitCandidates(shard.groups.get(request.groupId), request, results);
    await this.checkHighWatermarks(candidates);
    // The member may have been fenced while the high watermarks were looked up.
    const refencedAfterLookup = this.commitFencing(shard, request);
    if (refencedAfterLookup !== undefined) return refused(refencedAfterLookup);
    const group = this.coordinator.groupOrCreate(shard, request.groupId);
    if (!(group instanceof ConsumerGroup)) return refused(group);
    await this.writeCommits(shard, group, candidates.filter((candidate) => candidate.result.errorCode === 'NONE'), false);
    return { errorCode: 'NONE', errorMessage: '', topics: results };
  }

  /** Who may commit: a member of the current generation, or an admin when the group has none. */
  private commitFencing(shard: OffsetsShard, request: OffsetCommitRequest): Refusal | undefined {
    const group = shard.groups.get(request.groupId);
    const memberId = request.memberId ?? '';
    const instanceId = request.groupInstanceId ?? '';
    if (request.generationId < 0 && memberId === '' && instanceId === '') {
      if (group !== undefined && group.members.size > 0) {
        return { errorCode: 'UNKNOWN_MEMBER_ID', errorMessage: `group ${request.groupId} has ${group.members.size} members: a commit without generation and member id needs a group without members` };
      }
      return undefined;
    }
    const checked = checkMember(group, memberId, instanceId, request.generationId);
    if ('errorCode' in checked) return checked;
    if (group?.state === 'CompletingRebalance') return { errorCode: 'REBALANCE_IN_PROGRESS', errorMessage: 'the group awaits SyncGroup for its new generation: sync, then commit' };
    checked.member.lastSeenMs = this.nowMs;
    return undefined;
  }

  /** Checks each partition of the request on its own; the ones that pass are returned. */
  private commitCandidates(group: ConsumerGroup | undefined, request: OffsetCommitRequest, results: { name: string; partitions: PartitionCommitResult[] }[]): CommitCandidate[] {
    const candidates: CommitCandidate[] = [];
    const seen = new Set<string>();
    (request.topics ?? []).forEach((topic, topicIndex) => {
      const served = this.topics.get(topic.name);
      (topic.partitions ?? []).forEach((data, partitionIndex) => {
        const result = results[topicIndex].partitions[partitionIndex];
        const key = offsetKey(topic.name, data.partition);
        const inForce = group?.offsets.get(key)?.value.offset ?? -1;
        result.committedOffset = inForce;
        const refuse = (errorCode: ErrorCode, errorMessage: string): void => {
          result.errorCode = errorCode;
          result.errorMessage = errorMessage;
        };
        const metadata = data.committedMetadata ?? '';
        if (seen.has(key)) return refuse('INVALID_REQUEST', `partition ${data.partition} of ${topic.name} appears twice`);
        seen.add(key);
        if (served === undefined || !Number.isInteger(data.partition) || data.partition < 0 || data.partition >= served.partitions.length) {
          return refuse('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} partition ${data.partition} does not exist`);
        }
        if (!Number.isSafeInteger(data.committedOffset) || data.committedOffset < 0) return refuse('OFFSET_OUT_OF_RANGE', `offset ${data.committedOffset} is negative`);
        if (Buffer.byteLength(metadata, 'utf8') > OFFSET_METADATA_BYTES_MAX) return refuse('OFFSET_METADATA_TOO_LARGE', `committed metadata is longer than ${OFFSET_METADATA_BYTES_MAX} bytes`);
        const floor = Math.max(inForce, group?.pendingOffsets.get(key) ?? -1);
        if (data.committedOffset < floor) {
          return refuse('OFFSET_OUT_OF_RANGE', `offset ${data.committedOffset} is below the group's committed offset ${floor}; committed offsets move back only by ResetOffsets`);
        }
        if (group !== undefined && !group.offsets.has(key) && group.offsets.size >= GROUP_OFFSETS_MAX) {
          return refuse('INVALID_COMMIT_OFFSET_SIZE', `group holds ${GROUP_OFFSETS_MAX} committed offsets already`);
        }
        candidates.push({ topic: topic.name, partition: data.partition, offset: data.committedOffset, leaderEpoch: data.committedLeaderEpoch ?? -1, metadata, result });
      });
    });
    return candidates;
  }

  private async checkHighWatermarks(candidates: readonly CommitCandidate[]): Promise<void> {
    const answers = await this.lookup.highWatermarks(candidates.map((c) => ({ topic: c.topic, partition: c.partition, atLeast: c.offset })));
    candidates.forEach((candidate, index) => {
      const answer = answers[index];
      if (answer.errorCode !== 'NONE') {
        candidate.result.errorCode = answer.errorCode;
        candidate.result.errorMessage = `the partition's high watermark could not be checked: ${answer.errorMessage}`;
      } else if (candidate.offset > answer.offset) {
        candidate.result.errorCode = 'OFFSET_OUT_OF_RANGE';
        candidate.result.errorMessage = `offset ${candidate.offset} is past the partition's high watermark ${answer.offset}`;
      }
    });
  }

  /**
   * Writes the offsets (one batch) and applies them once committed. Unless `reset`, each must
   * still be at or above the offset in force; an unchanged offset is acknowledged unwritten.
   */
  private async writeCommits(shard: OffsetsShard, group: ConsumerGroup, candidates: readonly CommitCandidate[], reset: boolean): Promise<void> {
    const nowMs = this.nowMs;
    const writing: CommitCandidate[] = [];
    for (const candidate of candidates) {
      const key = offsetKey(candidate.topic, candidate.partition);
      const inForce = group.offsets.get(key)?.value;
      const floor = Math.max(inForce?.offset ?? -1, group.pendingOffsets.get(key) ?? -1);
      if (!reset && candidate.offset < floor) {
        candidate.result.errorCode = 'OFFSET_OUT_OF_RANGE';
        candidate.result.errorMessage = `offset ${candidate.offset} is below the group's committed offset ${floor}; committed offsets move back only by ResetOffsets`;
        continue;
      }
      if (!reset && inForce !== undefined && !group.pendingOffsets.has(key) && inForce.offset === candidate.offset && inForce.metadata === candidate.metadata) {
        candidate.result.committedOffset = inForce.offset;
        continue;
      }
      writing.push(candidate);
    }
    if (writing.length === 0) return;
    for (const candidate of writing) {
      const key = offsetKey(candidate.topic, candidate.partition);
      group.pendingOffsets.set(key, Math.max(candidate.offset, group.pendingOffsets.get(key) ?? -1));
    }
    const records: ProduceRecord[] = writing.map((candidate) => ({
      key: encodeOffsetKey(group.groupId, candidate.topic, candidate.partition),
      value: encodeOffsetValue({ offset: candidate.offset, leaderEpoch: candidate.leaderEpoch, metadata: candidate.metadata, commitTimestampMs: nowMs }),
    }));
    try {
      await shard.write(records);
      for (const candidate of writing) {
        const value = { offset: candidate.offset, leaderEpoch: candidate.leaderEpoch, metadata: candidate.metadata, commitTimestampMs: nowMs };
        group.offsets.set(offsetKey(candidate.topic, candidate.partition), { topic: candidate.topic, partition: candidate.partition, value });
        candidate.result.committedOffset = candidate.offset;
      }
    } catch (error) {
      const failure = error instanceof OffsetsWriteError ? error : new OffsetsWriteError('UNKNOWN_SERVER_ERROR', String(error));
      for (const candidate of writing) {
        candidate.result.errorCode = failure.errorCode;
        candidate.result.errorMessage = `the offset was not committed: ${failure.message}`;
      }
    } finally {
      for (const candidate of writing) {
        const key = offsetKey(candidate.topic, candidate.partition);
        if (group.pendingOffsets.get(key) === candidate.offset) group.pendingOffsets.delete(key);
      }
    }
  }

  // ---- OffsetFetch -------------------------------------------------------------------------------

  offsetFetch(request: OffsetFetchRequest): OffsetFetchResponse {
    const route = this.coordinator.route(request.groupId);
    if (route.refusal !== undefined) return { ...route.refusal, topics: [] };
    const group = route.shard.groups.get(request.groupId);
    const requested = request.topics ?? [];
    const entry = (topic: string, partition: number): OffsetFetchPartition => {
      const found = group?.offsets.get(offsetKey(topic, partition))?.value;
      return {
        partition,
        committedOffset: found?.offset ?? -1,
        committedLeaderEpoch: found?.leaderEpoch ?? -1,
        committedMetadata: found?.metadata ?? '',
        errorCode: 'NONE',
        errorMessage: '',
      };
    };
    const all = sortedOffsets(group);
    if (requested.length === 0) {
      const names = [...new Set(all.map((offset) => offset.topic))];
      return { errorCode: 'NONE', errorMessage: '', topics: names.map((name) => ({ name, partitions: all.filter((o) => o.topic === name).map((o) => entry(name, o.partition)) })) };
    }
    return {
      errorCode: 'NONE',
      errorMessage: '',
      topics: requested.map((topic) => {
        const partitions = (topic.partitions ?? []).length > 0 ? (topic.partitions as number[]) : all.filter((o) => o.topic === topic.name).map((o) => o.partition);
        return { name: topic.name, partitions: partitions.map((partition) => entry(topic.name, partition)) };
      }),
    };
  }

  // ---- ListGroups / DescribeGroups ---------------------------------------------------------------

  listGroups(request: ListGroupsRequest): ListGroupsResponse {
    const filter = new Set<string>(request.statesFilter ?? []);
    const { shards, loading } = this.coordinator.loadedShards();
    const groups = shards
      .flatMap((shard) => [...shard.groups.values()])
      .filter((group) => filter.size === 0 || filter.has(group.state))
      .map((group) => ({ groupId: group.groupId, protocolType: group.protocolType, state: group.state }))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return loading
      ? { errorCode: 'COORDINATOR_LOAD_IN_PROGRESS', errorMessage: 'some offsets partitions led here are still loading: the list may be incomplete', groups }
      : { errorCode: 'NONE', errorMessage: '', groups };
  }

  async describeGroups(request: DescribeGroupsRequest): Promise<DescribeGroupsResponse> {
    const ids = request.groupIds ?? [];
    if (ids.length > GROUPS_PER_REQUEST_MAX) {
      return { groups: ids.map((groupId) => emptyDescription(groupId, 'INVALID_REQUEST', `at most ${GROUPS_PER_REQUEST_MAX} groups per request`)) };
    }
    return { groups: await Promise.all(ids.map((groupId) => this.describeOne(groupId, request.includeLag ?? false))) };
  }

  private async describeOne(groupId: string, includeLag: boolean): Promise<DescribedGroup> {
    const route = this.coordinator.route(groupId);
    if (route.refusal !== undefined) return emptyDescription(groupId, route.refusal.errorCode, route.refusal.errorMessage);
    const group = route.shard.groups.get(groupId);
    if (group === undefined) return emptyDescription(groupId, 'GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    const offsets = sortedOffsets(group);
    const ends = includeLag ? await this.lookup.lookup(offsets.map((o) => ({ topic: o.topic, partition: o.partition, spec: 'OFFSET_SPEC_LATEST' as const }))) : [];
    const described: DescribedOffset[] = offsets.map((o, index) => {
      const end = ends[index]?.errorCode === 'NONE' ? ends[index].offset : -1;
      return {
        topic: o.topic,
        partition: o.partition,
        committedOffset: o.value.offset,
        committedMetadata: o.value.metadata,
        logEndOffset: end,
        lag: end < 0 ? -1 : Math.max(0, end - o.value.offset),
      };
    });
    const members = [...group.members.values()]
      .map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata: ConsumerGroup.metadataFor(member, group.protocolName),
        assignment: member.assignment,
        sessionTimeoutMs: member.sessionTimeoutMs,
        rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      }))
      .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
    return {
      groupId,
      errorCode: 'NONE',
      errorMessage: '',
      state: group.state,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      generationId: group.generationId,
      leader: group.leaderId,
      members,
      offsets: described,
    };
  }

  // ---- DeleteGroups ------------------------------------------------------------------------------

  async deleteGroups(request: DeleteGroupsRequest): Promise<DeleteGroupsResponse> {
    const ids = request.groupIds ?? [];
    if (ids.length > GROUPS_PER_REQUEST_MAX) {
      return { results: ids.map((groupId) => ({ groupId, errorCode: 'INVALID_REQUEST', errorMessage: `at most ${GROUPS_PER_REQUEST_MAX} groups per request` })) };
    }
    return { results: await Promise.all(ids.map((groupId) => this.deleteOne(groupId))) };
  }

  private async deleteOne(groupId: string): Promise<DeleteGroupResult> {
    const result = (errorCode: ErrorCode, errorMessage = ''): DeleteGroupResult => ({ groupId, errorCode, errorMessage });
    const route = this.coordinator.route(groupId);
    if (route.refusal !== undefined) return result(route.refusal.errorCode, route.refusal.errorMessage);
    const group = route.shard.groups.get(groupId);
    if (group === undefined) return result('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    if (group.members.size > 0 || group.pendingMembers.size > 0) {
      return result('NON_EMPTY_GROUP', `group ${groupId} has ${group.members.size + group.pendingMembers.size} active members: stop them (or wait for their sessions to time out) first`);
    }
    const records: ProduceRecord[] = [...group.offsets.values()].map((o) => ({ key: encodeOffsetKey(groupId, o.topic, o.partition), value: null }));
    records.push({ key: encodeGroupKey(groupId), value: null });
    try {
      await route.shard.write(records);
    } catch (error) {
      const failure = error instanceof OffsetsWriteError ? error : new OffsetsWriteError('UNKNOWN_SERVER_ERROR', String(error));
      return result(failure.errorCode, `the deletion was not committed: ${failure.message}`);
    }
    if (route.shard.groups.get(groupId) === group && group.members.size === 0) route.shard.groups.delete(groupId);
    return result('NONE');
  }

  // ---- ResetOffsets ------------------------------------------------------------------------------

  async resetOffsets(request: ResetOffsetsRequest): Promise<ResetOffsetsResponse> {
    const refused = (errorCode: ErrorCode, errorMessage: string): ResetOffsetsResponse => ({ errorCode, errorMessage, topics: [] });
    const route = this.coordinator.route(request.groupId);
    if (route.refusal !== undefined) return refused(route.refusal.errorCode, route.refusal.errorMessage);
    const spec = request.spec ?? 'RESET_SPEC_EARLIEST';
    const requested = request.topics ?? [];
    if (requested.length === 0) return refused('INVALID_REQUEST', 'name at least one topic to reset');
    if (!RESET_SPECS.includes(spec)) return refused('INVALID_REQUEST', `unknown reset spec ${String(spec)}`);
    if (spec === 'RESET_SPEC_OFFSET' && (!Number.isSafeInteger(request.offset) || (request.offset ?? -1) < 0)) return refused('INVALID_REQUEST', `offset ${request.offset} is not a non-negative integer`);
    const active = this.activeMembers(route.shard, request.groupId);
    if (active !== undefined) return refused('NON_EMPTY_GROUP', active);
    const topics = requested.map((topic) => ({ name: topic.name, partitions: this.resetTargets(topic.name, topic.partitions ?? []) }));
    const all = topics.flatMap((topic) => topic.partitions.filter((p) => p.errorCode === 'NONE').map((p) => ({ topic: topic.name, entry: p })));
    if (all.length > COMMIT_PARTITIONS_MAX) return refused('INVALID_COMMIT_OFFSET_SIZE', `a reset names at most ${COMMIT_PARTITIONS_MAX} partitions`);
    await this.resolveResetOffsets(spec, request, all);
    const group = route.shard.groups.get(request.groupId);
    for (const { topic, entry } of all) entry.previousOffset = group?.offsets.get(offsetKey(topic, entry.partition))?.value.offset ?? -1;
    if (request.dryRun ?? false) return { errorCode: 'NONE', errorMessage: '', topics };
    // Members may have joined while the offsets were looked up.
    const activeNow = this.activeMembers(route.shard, request.groupId);
    if (activeNow !== undefined) return refused('NON_EMPTY_GROUP', activeNow);
    const target = this.coordinator.groupOrCreate(route.shard, request.groupId);
    if (!(target instanceof ConsumerGroup)) return refused(target.errorCode, target.errorMessage);
    const candidates = all
      .filter(({ entry }) => entry.errorCode === 'NONE')
      .map(({ topic, entry }) => ({ topic, partition: entry.partition, offset: entry.newOffset, leaderEpoch: -1, metadata: '', result: { errorCode: 'NONE' as ErrorCode, errorMessage: '', committedOffset: -1 }, entry }));
    await this.writeCommits(route.shard, target, candidates, true);
    for (const candidate of candidates) {
      candidate.entry.errorCode = candidate.result.errorCode;
      candidate.entry.errorMessage = candidate.result.errorMessage;
    }
    return { errorCode: 'NONE', errorMessage: '', topics };
  }

  private activeMembers(shard: OffsetsShard, groupId: string): string | undefined {
    const group = shard.groups.get(groupId);
    const count = group === undefined ? 0 : group.members.size + group.pendingMembers.size;
    if (count === 0) return undefined;
    return `group ${groupId} has ${count} active member${count === 1 ? '' : 's'} (state ${group!.state}): offsets can be reset only while no consumer is in the group; stop them (or wait for their session timeout) and retry`;
  }

  /** The partitions a reset names (all of the topic when none are named), each with its result. */
  private resetTargets(topic: string, partitions: readonly number[]): ResetOffsetsPartition[] {
    const served = this.topics.get(topic);
    const entry = (partition: number, errorCode: ErrorCode = 'NONE', errorMessage = ''): ResetOffsetsPartition => ({ partition, errorCode, errorMessage, previousOffset: -1, newOffset: -1 });
    if (served === undefined) {
      const named = partitions.length > 0 ? partitions : [-1];
      return named.map((partition) => entry(partition, 'UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} does not exist`));
    }
    const named = partitions.length > 0 ? [...partitions] : served.partitions.map((_, index) => index);
    return named.map((partition) =>
      Number.isInteger(partition) && partition >= 0 && partition < served.partitions.length ? entry(partition) : entry(partition, 'UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has no partition ${partition}`),
    );
  }

  private async resolveResetOffsets(spec: ResetSpec, request: ResetOffsetsRequest, all: { topic: string; entry: ResetOffsetsPartition }[]): Promise<void> {
    const ask = (offsetSpec: OffsetSpec, timestampMs = 0) => this.lookup.lookup(all.map(({ topic, entry }) => ({ topic, partition: entry.partition, spec: offsetSpec, timestampMs })));
    const latest = await ask('OFFSET_SPEC_LATEST');
    const second = spec === 'RESET_SPEC_EARLIEST' || spec === 'RESET_SPEC_OFFSET' ? await ask('OFFSET_SPEC_EARLIEST') : spec === 'RESET_SPEC_TIMESTAMP' ? await ask('OFFSET_SPEC_TIMESTAMP', request.timestampMs ?? 0) : latest;
    all.forEach(({ entry }, index) => {
      const failed = [latest[index], second[index]].find((answer) => answer.errorCode !== 'NONE');
      if (failed !== undefined) {
        entry.errorCode = failed.errorCode === 'NOT_LEADER_OR_FOLLOWER' ? 'LEADER_NOT_AVAILABLE' : failed.errorCode;
        entry.errorMessage = `the partition's offsets could not be looked up: ${failed.errorMessage}`;
        return;
      }
      const high = latest[index].offset;
      switch (spec) {
        case 'RESET_SPEC_EARLIEST':
          entry.newOffset = second[index].offset;
          break;
        case 'RESET_SPEC_LATEST':
          entry.newOffset = high;
          break;
        case 'RESET_SPEC_TIMESTAMP':
          entry.newOffset = second[index].offset < 0 ? high : second[index].offset;
          break;
        case 'RESET_SPEC_OFFSET':
          entry.newOffset = Math.min(high, Math.max(second[index].offset, request.offset ?? 0));
          break;
      }
    });
  }
}

const RESET_SPECS: readonly string[] = ['RESET_SPEC_EARLIEST', 'RESET_SPEC_LATEST', 'RESET_SPEC_OFFSET', 'RESET_SPEC_TIMESTAMP'];

function sortedOffsets(group: ConsumerGroup | undefined): GroupOffset[] {
  if (group === undefined) return [];
  return [...group.offsets.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

function emptyDescription(groupId: string, errorCode: ErrorCode, errorMessage: string): DescribedGroup {
  return { groupId, errorCode, errorMessage, state: '' as GroupState | '', protocolType: '', protocolName: '', generationId: 0, leader: '', members: [], offsets: [] };
}
