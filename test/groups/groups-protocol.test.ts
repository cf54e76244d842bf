/**
 * The group protocol against a real single broker process over gRPC: joins, syncs, heartbeats,
 * generation fencing, static membership, commits and fetches, resets, deletes, bad input, and a
 * SIGKILL + restart after which the coordinator rebuilds groups and offsets from its log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeBatch } from '../../record/record-batch.js';
import { makeDataDir, RawClient, removeDir, startBrokerProcess, type BrokerProcess } from '../broker/broker-process.js';
import { GroupsTestClient } from './groups-test-client.js';

const BROKER_ARGS = ['--groups-initial-rebalance-delay-ms', '300', '--groups-min-session-timeout-ms', '200', '--groups-offsets-partitions', '3'];
const TOPIC = 'orders';
const RECORDS_IN_PARTITION_0 = 10;

let dataDir: string;
let broker: BrokerProcess;
let raw: RawClient;
let groups: GroupsTestClient;

async function startAgain(): Promise<void> {
  broker = await startBrokerProcess(dataDir, BROKER_ARGS);
  raw = new RawClient(broker.address);
  groups = new GroupsTestClient(broker.address);
}

before(async () => {
  dataDir = makeDataDir('brook-groups-test-');
  await startAgain();
  const created = await raw.call('CreateTopics', { topics: [{ name: TOPIC, numPartitions: 2 }] });
  assert.equal(created.results[0].errorCode, 'NONE', created.results[0].errorMessage);
  const values = Array.from({ length: RECORDS_IN_PARTITION_0 }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) }));
  const produced = await raw.call('Produce', { acks: 'ACKS_ALL', topics: [{ name: TOPIC, partitions: [{ partition: 0, recordBatch: encodeBatch(values, { nowMs: Date.now() }) }] }] });
  assert.equal(produced.topics[0].partitions[0].errorCode, 'NONE');
});

after(async () => {
  groups?.close();
  raw?.close();
  if (broker !== undefined) await broker.stop('SIGTERM');
  removeDir(dataDir);
});

function commitRequest(groupId: string, generationId: number, memberId: string, offset: number, partition = 0) {
  return { groupId, generationId, memberId, topics: [{ name: TOPIC, partitions: [{ partition, committedOffset: offset, committedMetadata: 'm' }] }] };
}

/** Joins two dynamic members concurrently (one join phase) and syncs them with the leader's assignment. */
async function twoMemberGroup(groupId: string) {
  const [a, b] = await Promise.all([groups.joinDynamic(groupId, 'a', 'meta-a'), groups.joinDynamic(groupId, 'b', 'meta-b')]);
  assert.equal(a.errorCode, 'NONE', a.errorMessage);
  assert.equal(b.errorCode, 'NONE', b.errorMessage);
  assert.equal(a.generationId, b.generationId);
  assert.equal(a.leader, b.leader);
  const leader = a.leader === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  assert.equal(leader.members.length, 2, 'the leader sees every member');
  assert.deepEqual(follower.members, [], 'a follower sees no members');
  assert.deepEqual(leader.members.map((m) => m.metadata.toString()).sort(), ['meta-a', 'meta-b']);
  const assignments = [
    { memberId: leader.memberId, assignment: Buffer.from(`to-${leader.memberId}`) },
    { memberId: follower.memberId, assignment: Buffer.from(`to-${follower.memberId}`) },
  ];
  const sync = (member: typeof a, withAssignments: boolean) =>
    groups.syncGroup({ groupId, generationId: member.generationId, memberId: member.memberId, protocolType: 'consumer', protocolName: 'range', assignments: withAssignments ? assignments : [] });
  // The follower syncs first and waits for the leader's assignments.
  const followerSync = sync(follower, false);
  const leaderSync = await sync(leader, true);
  assert.equal(leaderSync.errorCode, 'NONE', leaderSync.errorMessage);
  assert.equal(leaderSync.assignment.toString(), `to-${leader.memberId}`);
  const followerAnswer = await followerSync;
  assert.equal(followerAnswer.errorCode, 'NONE', followerAnswer.errorMessage);
  assert.equal(followerAnswer.assignment.toString(), `to-${follower.memberId}`);
  return { leader, follower, generationId: a.generationId };
}

describe('group protocol on a single broker', { timeout: 60_000 }, () => {
  it('finds the coordinator and refuses invalid group ids', async () => {
    const found = await groups.findCoordinator({ groupId: 'g-find' });
    assert.equal(found.errorCode, 'NONE', found.errorMessage);
    assert.equal(`${found.coordinator!.host}:${found.coordinator!.port}`, broker.address);
    assert.ok(found.offsetsPartition >= 0 && found.offsetsPartition < 3);
    for (const bad of ['', 'has space', 'x'.repeat(250)]) {
      assert.equal((await groups.findCoordinator({ groupId: bad })).errorCode, 'INVALID_GROUP_ID', `group id ${JSON.stringify(bad)}`);
      const join = await groups.joinGroup({ groupId: bad, sessionTimeoutMs: 1000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
      assert.equal(join.errorCode, 'INVALID_GROUP_ID');
      assert.equal((await groups.offsetCommit(commitRequest(bad, -1, '', 1))).errorCode, 'INVALID_GROUP_ID');
    }
    const badSession = await groups.joinGroup({ groupId: 'g-find', sessionTimeoutMs: 50, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
    assert.equal(badSession.errorCode, 'INVALID_SESSION_TIMEOUT');
  });

  it('joins two members, syncs, heartbeats, and fences stale generations and unknown members', async () => {
    const groupId = 'g-two';
    const { leader, follower, generationId } = await twoMemberGroup(groupId);
    assert.equal((await groups.heartbeat({ groupId, generationId, memberId: follower.memberId })).errorCode, 'NONE');
    assert.equal((await groups.heartbeat({ groupId, generationId: generationId - 1, memberId: follower.memberId })).errorCode, 'ILLEGAL_GENERATION');
    assert.equal((await groups.heartbeat({ groupId, generationId, memberId: 'nobody' })).errorCode, 'UNKNOWN_MEMBER_ID');

    // A third member starts a rebalance: the others hear it in their heartbeats and rejoin.
    const third = groups.joinDynamic(groupId, 'c', 'meta-c');
    let heard = '';
    for (let i = 0; i < 40 && heard !== 'REBALANCE_IN_PROGRESS'; i++) {
      heard = (await groups.heartbeat({ groupId, generationId, memberId: leader.memberId })).errorCode;
      if (heard !== 'REBALANCE_IN_PROGRESS') await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(heard, 'REBALANCE_IN_PROGRESS');
    // A member of the old generation may still commit while the group prepares the rebalance.
    assert.equal((await groups.offsetCommit(commitRequest(groupId, generationId, follower.memberId, 2))).errorCode, 'NONE');
    const rejoin = (member: typeof leader, metadata: string) =>
      groups.joinGroup({ groupId, memberId: member.memberId, sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from(metadata) }] });
    const [l2, f2, c2] = await Promise.all([rejoin(leader, 'meta-a'), rejoin(follower, 'meta-b'), third]);
    for (const answer of [l2, f2, c2]) {
      assert.equal(answer.errorCode, 'NONE', answer.errorMessage);
      assert.equal(answer.generationId, generationId + 1);
    }
    assert.equal(l2.leader, leader.memberId, 'the leader stays leader');
    // The old generation is fenced from commits and syncs.
    const stale = await groups.offsetCommit(commitRequest(groupId, generationId, follower.memberId, 3));
    assert.equal(stale.errorCode, 'ILLEGAL_GENERATION');
    assert.equal((await groups.syncGroup({ groupId, generationId, memberId: follower.memberId })).errorCode, 'ILLEGAL_GENERATION');
    // Before the new generation's SyncGroup, commits wait for it.
    assert.equal((await groups.offsetCommit(commitRequest(groupId, generationId + 1, follower.memberId, 3))).errorCode, 'REBALANCE_IN_PROGRESS');
    const left = await groups.leaveGroup({ groupId, members: [{ memberId: leader.memberId }, { memberId: follower.memberId }, { memberId: c2.memberId }, { memberId: 'ghost' }] });
    assert.deepEqual(left.members.map((m) => m.errorCode), ['NONE', 'NONE', 'NONE', 'UNKNOWN_MEMBER_ID']);
  });

  it('removes a member whose session times out and rebalances the rest', async () => {
    const groupId = 'g-session';
    const [a, b] = await Promise.all([groups.joinDynamic(groupId, 'a', 'meta-a', 600), groups.joinDynamic(groupId, 'b', 'meta-b', 600)]);
    const leader = a.leader === a.memberId ? a : b;
    const follower = leader === a ? b : a;
    const followerSync = groups.syncGroup({ groupId, generationId: a.generationId, memberId: follower.memberId });
    assert.equal((await groups.syncGroup({ groupId, generationId: a.generationId, memberId: leader.memberId, assignments: [] })).errorCode, 'NONE');
    assert.equal((await followerSync).errorCode, 'NONE');
    // Only the leader keeps heartbeating; the follower's session (600 ms) runs out.
    const startedMs = Date.now();
    let heard = 'NONE';
    while (heard === 'NONE' && Date.now() - startedMs < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      heard = (await groups.heartbeat({ groupId, generationId: a.generationId, memberId: leader.memberId })).errorCode;
    }
    assert.equal(heard, 'REBALANCE_IN_PROGRESS');
    assert.ok(Date.now() - startedMs >= 500, 'not before the session timeout');
    assert.equal((await groups.heartbeat({ groupId, generationId: a.generationId, memberId: follower.memberId })).errorCode, 'UNKNOWN_MEMBER_ID');
    const alone = await groups.joinGroup({ groupId, memberId: leader.memberId, sessionTimeoutMs: 600, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('meta-a') }] });
    assert.equal(alone.errorCode, 'NONE');
    assert.equal(alone.generationId, a.generationId + 1);
    assert.deepEqual(alone.members.map((m) => m.memberId), [leader.memberId]);
    assert.equal((await groups.leaveGroup({ groupId, members: [{ memberId: leader.memberId }] })).members[0].errorCode, 'NONE');
  });

  it('commits and fetches offsets; refuses commits backwards or past the log end', async () => {
    const groupId = 'g-offsets';
    const { leader, generationId } = await twoMemberGroup(groupId);
    const committed = await groups.offsetCommit(commitRequest(groupId, generationId, leader.memberId, 5));
    assert.equal(committed.errorCode, 'NONE');
    assert.equal(committed.topics[0].partitions[0].errorCode, 'NONE', committed.topics[0].partitions[0].errorMessage);
    assert.equal(committed.topics[0].partitions[0].committedOffset, 5);
    const backwards = await groups.offsetCommit(commitRequest(groupId, generationId, leader.memberId, 3));
    assert.equal(backwards.topics[0].partitions[0].errorCode, 'OFFSET_OUT_OF_RANGE');
    assert.equal(backwards.topics[0].partitions[0].committedOffset, 5, 'the offset in force is reported');
    const pastEnd = await groups.offsetCommit(commitRequest(groupId, generationId, leader.memberId, RECORDS_IN_PARTITION_0 + 1));
    assert.equal(pastEnd.topics[0].partitions[0].errorCode, 'OFFSET_OUT_OF_RANGE');
    assert.match(pastEnd.topics[0].partitions[0].errorMessage, /high watermark/);
    const atEnd = await groups.offsetCommit(commitRequest(groupId, generationId, leader.memberId, RECORDS_IN_PARTITION_0));
    assert.equal(atEnd.topics[0].partitions[0].errorCode, 'NONE', 'committing the high watermark itself is allowed');
    const unknownTopic = await groups.offsetCommit({ groupId, generationId, memberId: leader.memberId, topics: [{ name: 'nope', partitions: [{ partition: 0, committedOffset: 0 }] }] });
    assert.equal(unknownTopic.topics[0].partitions[0].errorCode, 'UNKNOWN_TOPIC_OR_PARTITION');
    const admin = await groups.offsetCommit(commitRequest(groupId, -1, '', 7));
    assert.equal(admin.errorCode, 'UNKNOWN_MEMBER_ID', 'an admin commit needs a group without members');

    const fetched = await groups.offsetFetch({ groupId, topics: [{ name: TOPIC, partitions: [0, 1] }] });
    assert.equal(fetched.errorCode, 'NONE');
    assert.deepEqual(
      fetched.topics[0].partitions.map((p) => [p.partition, p.committedOffset, p.committedMetadata]),
      [
        [0, RECORDS_IN_PARTITION_0, 'm'],
        [1, -1, ''],
      ],
    );

    const refused = await groups.resetOffsets({ groupId, topics: [{ name: TOPIC }], spec: 'RESET_SPEC_EARLIEST' });
    assert.equal(refused.errorCode, 'NON_EMPTY_GROUP');
    assert.match(refused.errorMessage, /2 active members/);
    assert.equal((await groups.deleteGroups({ groupIds: [groupId] })).results[0].errorCode, 'NON_EMPTY_GROUP');

    const described = await groups.describeGroups({ groupIds: [groupId, 'g-never'], includeLag: true });
    const [group, missing] = described.groups;
    assert.equal(group.state, 'Stable');
    assert.equal(group.members.length, 2);
    assert.ok(group.members.every((m) => m.assignment.toString() === `to-${m.memberId}`));
    assert.deepEqual(group.offsets.map((o) => [o.partition, o.committedOffset, o.logEndOffset, o.lag]), [[0, RECORDS_IN_PARTITION_0, RECORDS_IN_PARTITION_0, 0]]);
    assert.equal(missing.errorCode, 'GROUP_ID_NOT_FOUND');

    const follower = group.members.find((m) => m.memberId !== leader.memberId)!;
    await groups.leaveGroup({ groupId, members: [{ memberId: leader.memberId }, { memberId: follower.memberId }] });
    const reset = await groups.resetOffsets({ groupId, topics: [{ name: TOPIC, partitions: [0] }], spec: 'RESET_SPEC_OFFSET', offset: 4 });
    assert.equal(reset.errorCode, 'NONE', reset.errorMessage);
    assert.deepEqual(reset.topics[0].partitions.map((p) => [p.partition, p.previousOffset, p.newOffset, p.errorCode]), [[0, RECORDS_IN_PARTITION_0, 4, 'NONE']]);
    const lag = await groups.describeGroups({ groupIds: [groupId], includeLag: true });
    assert.equal(lag.groups[0].state, 'Empty');
    assert.deepEqual(lag.groups[0].offsets.map((o) => [o.committedOffset, o.lag]), [[4, RECORDS_IN_PARTITION_0 - 4]]);
    // With no members an admin commit is accepted.
    assert.equal((await groups.offsetCommit(commitRequest(groupId, -1, '', 6))).topics[0].partitions[0].errorCode, 'NONE');
    const listed = await groups.listGroups({});
    assert.ok(listed.groups.some((g) => g.groupId === groupId && g.state === 'Empty'));
    assert.equal((await groups.deleteGroups({ groupIds: [groupId] })).results[0].errorCode, 'NONE');
    assert.equal((await groups.describeGroups({ groupIds: [groupId] })).groups[0].errorCode, 'GROUP_ID_NOT_FOUND');
    const afterDelete = await groups.offsetFetch({ groupId, topics: [{ name: TOPIC, partitions: [0] }] });
    assert.equal(afterDelete.topics[0].partitions[0].committedOffset, -1);
  });

  it('lets a static member restart without a rebalance and fences its old member id', async () => {
    const groupId = 'g-static';
    const join = (memberId: string, metadata: string) =>
      groups.joinGroup({ groupId, memberId, groupInstanceId: 'host-1', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from(metadata) }] });
    const [staticJoin, dynamicJoin] = await Promise.all([join('', 'meta-s'), groups.joinDynamic(groupId, 'd', 'meta-d')]);
    assert.equal(staticJoin.errorCode, 'NONE', 'a static member needs no second join');
    assert.equal(dynamicJoin.errorCode, 'NONE');
    const generationId = staticJoin.generationId;
    const leader = staticJoin.leader === staticJoin.memberId ? staticJoin : dynamicJoin;
    const assignments = [staticJoin, dynamicJoin].map((m) => ({ memberId: m.memberId, assignment: Buffer.from(`part-of-${m === staticJoin ? 'static' : 'dynamic'}`) }));
    const other = leader === staticJoin ? dynamicJoin : staticJoin;
    const otherSync = groups.syncGroup({ groupId, generationId, memberId: other.memberId });
    assert.equal((await groups.syncGroup({ groupId, generationId, memberId: leader.memberId, assignments })).errorCode, 'NONE');
    assert.equal((await otherSync).errorCode, 'NONE');

    // The static member restarts: same instance id, no member id.
    const restarted = await join('', 'meta-s');
    assert.equal(restarted.errorCode, 'NONE', restarted.errorMessage);
    assert.equal(restarted.generationId, generationId, 'no new generation');
    assert.notEqual(restarted.memberId, staticJoin.memberId);
    assert.equal(restarted.skipAssignment, restarted.leader === restarted.memberId);
    const resumed = await groups.syncGroup({ groupId, generationId, memberId: restarted.memberId, groupInstanceId: 'host-1' });
    assert.equal(resumed.errorCode, 'NONE');
    assert.equal(resumed.assignment.toString(), 'part-of-static', 'the instance keeps its assignment');
    assert.equal((await groups.heartbeat({ groupId, generationId, memberId: dynamicJoin.memberId })).errorCode, 'NONE', 'the other member sees no rebalance');
    const old = await groups.heartbeat({ groupId, generationId, memberId: staticJoin.memberId, groupInstanceId: 'host-1' });
    assert.equal(old.errorCode, 'FENCED_INSTANCE_ID');
    const described = await groups.describeGroups({ groupIds: [groupId] });
    assert.equal(described.groups[0].state, 'Stable');
    assert.equal(described.groups[0].generationId, generationId);
    assert.deepEqual(described.groups[0].members.map((m) => m.memberId).sort(), [restarted.memberId, dynamicJoin.memberId].sort());
    const commit = await groups.offsetCommit({ ...commitRequest(groupId, generationId, restarted.memberId, 8), groupInstanceId: 'host-1' });
    assert.equal(commit.topics[0].partitions[0].errorCode, 'NONE');
  });

  it('rebuilds groups and offsets from the log after SIGKILL and restart', async () => {
    const groupId = 'g-durable';
    const { leader, generationId } = await twoMemberGroup(groupId);
    const committed = await groups.offsetCommit({
      groupId,
      generationId,
      memberId: leader.memberId,
      topics: [{ name: TOPIC, partitions: [{ partition: 0, committedOffset: 9, committedMetadata: 'before-kill', committedLeaderEpoch: 0 }, { partition: 1, committedOffset: 0 }] }],
    });
    assert.deepEqual(committed.topics[0].partitions.map((p) => p.errorCode), ['NONE', 'NONE']);
    groups.close();
    raw.close();
    assert.equal(await broker.stop('SIGKILL'), 'SIGKILL');
    await startAgain();
    const fetched = await GroupsTestClient.whileLoading(() => groups.offsetFetch({ groupId, topics: [{ name: TOPIC, partitions: [0, 1] }] }));
    assert.equal(fetched.errorCode, 'NONE', fetched.errorMessage);
    assert.deepEqual(
      fetched.topics[0].partitions.map((p) => [p.committedOffset, p.committedMetadata]),
      [
        [9, 'before-kill'],
        [0, ''],
      ],
    );
    const described = await groups.describeGroups({ groupIds: [groupId, 'g-static'] });
    assert.equal(described.groups[0].generationId, generationId, 'the membership record was loaded');
    assert.equal(described.groups[0].members.length, 2);
    assert.equal(described.groups[1].offsets[0].committedOffset, 8, "another group's offsets too");
    // The members kept heartbeating in their generation as far as they know; still fenced properly.
    assert.equal((await groups.heartbeat({ groupId, generationId, memberId: leader.memberId })).errorCode, 'NONE');
    assert.equal((await groups.offsetCommit(commitRequest(groupId, generationId, leader.memberId, 8))).topics[0].partitions[0].errorCode, 'OFFSET_OUT_OF_RANGE');
  });
});
