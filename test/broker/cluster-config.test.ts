/** The cluster settings: cluster.peers and controller.voters parsing, defaults, and the refusals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BROKER_SETTINGS, isClusterMode, loadBrokerConfig, parsePeers } from '../../broker/config/broker-config.js';
import { parseBrokerArgs } from '../../broker/main.js';

const PEERS = '1@127.0.0.1:19093,2@127.0.0.1:19094,3@127.0.0.1:19095';

function load(flags: Record<string, string | number | boolean>) {
  return loadBrokerConfig({ flags, env: {} });
}

describe('cluster settings', () => {
  it('a broker without peers is a single broker, with the documented defaults', () => {
    const config = load({});
    assert.equal(isClusterMode(config), false);
    assert.equal(config.peers.size, 0);
    assert.deepEqual(config.controllerVoterIds, []);
    assert.equal(config.clusterId, 'brook');
    assert.equal(config.raftTickMs, 50);
    assert.equal(config.raftElectionTicks, 12);
    assert.equal(config.raftHeartbeatTicks, 3);
    assert.equal(config.brokerHeartbeatIntervalMs, 500);
    assert.equal(config.brokerLeaseMs, 9000);
    assert.equal(config.leaderBalanceIntervalMs, 10_000);
    assert.equal(config.defaultReplicationFactor, 0);
  });

  it('parses --peers into a map of id to internal address, and defaults the voters to the lowest ids', () => {
    const config = loadBrokerConfig({ flags: parseBrokerArgs(['--node-id', '2', '--peers', PEERS, '--rack', 'zone-b']), env: {} });
    assert.equal(isClusterMode(config), true);
    assert.deepEqual([...config.peers], [[1, '127.0.0.1:19093'], [2, '127.0.0.1:19094'], [3, '127.0.0.1:19095']]);
    assert.deepEqual(config.controllerVoterIds, [1, 2, 3]);
    assert.equal(config.rack, 'zone-b');
    const seven = [...Array(7).keys()].map((i) => `${10 - i}@10.0.0.${i + 1}:9093`).join(',');
    assert.deepEqual(load({ 'node-id': 4, peers: seven }).controllerVoterIds, [4, 5, 6, 7, 8], 'at most five, the lowest ids');
  });

  it('reads the peers from the environment and the voters from a flag', () => {
    const config = loadBrokerConfig({ flags: { 'node.id': 3, 'controller-voters': '3, 1' }, env: { BROOK_CLUSTER_PEERS: PEERS } });
    assert.deepEqual(config.controllerVoterIds, [1, 3]);
    assert.equal(config.clusterPeers, PEERS);
  });

  it('refuses a malformed peer list, naming the entry', () => {
    const cases: Array<[string, RegExp]> = [
      ['1@127.0.0.1:19093,2-127.0.0.1:19094', /"2-127\.0\.0\.1:19094" must be id@host:port/],
      ['1@127.0.0.1', /"127\.0\.0\.1" is not host:port/],
      ['0@127.0.0.1:1', /id in \[1, /],
      ['1@127.0.0.1:19093,,2@127.0.0.1:19094', /"" must be id@host:port/],
      ['1@127.0.0.1:0', /port 0/],
      ['1@127.0.0.1:19093,1@127.0.0.1:19094', /names broker 1 twice/],
      ['1@127.0.0.1:19093,2@127.0.0.1:19093', /gives 127\.0\.0\.1:19093 to two brokers/],
    ];
    for (const [peers, message] of cases) assert.throws(() => load({ 'node-id': 1, peers }), message, peers);
    assert.equal(parsePeers('').size, 0);
  });

  it('refuses a peer list without this broker, and voters outside the peers', () => {
    assert.throws(() => load({ 'node-id': 4, peers: PEERS }), /must list this broker \(node\.id 4\); it lists 1, 2, 3/);
    assert.throws(() => load({ 'node-id': 1, peers: PEERS, 'controller-voters': '1,2,5' }), /names broker 5, which cluster\.peers does not list/);
    assert.throws(() => load({ 'node-id': 1, peers: PEERS, 'controller-voters': '1,1' }), /names broker 1 twice/);
    assert.throws(() => load({ 'node-id': 1, peers: PEERS, 'controller-voters': '1;2' }), /broker ids separated by commas/);
  });

  it('refuses settings that contradict each other', () => {
    assert.throws(() => load({ 'controller-voters': '1' }), /need cluster\.peers/);
    assert.throws(() => load({ 'internal-listen': '127.0.0.1:19093' }), /need cluster\.peers/);
    assert.throws(() => load({ 'node-id': 1, peers: PEERS, 'internal-listen': 'nowhere' }), /listen must be host:port/);
    assert.throws(() => load({ 'raft-election-ticks': 3, 'raft-heartbeat-ticks': 3 }), /raft\.heartbeat\.ticks \(3\) must be below raft\.election\.ticks \(3\)/);
    assert.throws(() => load({ 'broker-lease-ms': 500 }), /broker\.heartbeat\.interval\.ms \(500\) must be below broker\.lease\.ms \(500\)/);
    assert.throws(() => load({ 'node-id': 1, peers: PEERS, 'default-replication-factor': 4 }), /exceeds the 3 brokers/);
    assert.throws(() => load({ 'cluster-id': 'a b' }), /cluster\.id must be/);
  });

  it('every cluster setting is in the table with its flag and environment variable', () => {
    const byName = new Map(BROKER_SETTINGS.map((item) => [item.name, item]));
    const expected: Array<[string, string, string]> = [
      ['cluster.peers', '--peers', 'BROOK_CLUSTER_PEERS'],
      ['internal.listen', '--internal-listen', 'BROOK_INTERNAL_LISTEN'],
      ['controller.voters', '--controller-voters', 'BROOK_CONTROLLER_VOTERS'],
      ['rack', '--rack', 'BROOK_RACK'],
      ['cluster.id', '--cluster-id', 'BROOK_CLUSTER_ID'],
      ['raft.tick.ms', '--raft-tick-ms', 'BROOK_RAFT_TICK_MS'],
      ['raft.election.ticks', '--raft-election-ticks', 'BROOK_RAFT_ELECTION_TICKS'],
      ['raft.heartbeat.ticks', '--raft-heartbeat-ticks', 'BROOK_RAFT_HEARTBEAT_TICKS'],
      ['broker.heartbeat.interval.ms', '--broker-heartbeat-interval-ms', 'BROOK_BROKER_HEARTBEAT_INTERVAL_MS'],
      ['broker.lease.ms', '--broker-lease-ms', 'BROOK_BROKER_LEASE_MS'],
      ['leader.balance.interval.ms', '--leader-balance-interval-ms', 'BROOK_LEADER_BALANCE_INTERVAL_MS'],
      ['default.replication.factor', '--default-replication-factor', 'BROOK_DEFAULT_REPLICATION_FACTOR'],
    ];
    for (const [name, flag, env] of expected) {
      assert.equal(byName.get(name)?.flag, flag, name);
      assert.equal(byName.get(name)?.env, env, name);
    }
  });
});
