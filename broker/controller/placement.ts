/**
 * Where replicas go: pure, deterministic functions (no clock, no randomness) over the brokers and
 * the load they carry, so the controller leader's choice can be explained and tested.
 *
 * The rules, in order of priority, for each new replica of a partition:
 * 1. Racks: a partition's replicas land on distinct racks while the racks allow; with fewer racks
 *    than replicas, on the racks the partition uses least. A broker without a rack is a rack of
 *    its own.
 * 2. Load: the broker holding the fewest replicas (existing ones counted), so replicas per broker
 *    differ by at most one when the counts start equal and racks do not force otherwise; then the
 *    rack with the fewest replicas per broker.
 * 3. Ties: a rotation by the partition's index in the cluster (the existing preferred-leader
 *    count plus its index in the request), so equal brokers take turns instead of the lowest id
 *    taking every tie.
 * The preferred leader (the first replica) is chosen first: among the brokers a least-loaded
 * replica set may contain, the one with the fewest preferred leaderships (existing ones counted),
 * so leaders spread evenly without unbalancing replicas.
 */
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../proto/brook-types.js';
import type { BrokerId, BrokerRecord, ClusterPartition, ClusterTopic, Reassignment } from './controller-types.js';

/** Placement is impossible as asked (more replicas than brokers, no broker to move to, ...). */
export class PlacementError extends Error {
  override readonly name = 'PlacementError';
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface PlacementInput {
  /** Candidates: the caller passes live brokers that are not decommissioning. */
  readonly brokers: readonly BrokerRecord[];
  /** Replicas each broker holds now (absent = 0), to balance across topics. */
  readonly replicaCounts: ReadonlyMap<BrokerId, number>;
  /** Preferred leaderships each broker holds now (absent = 0). */
  readonly leaderCounts: ReadonlyMap<BrokerId, number>;
  /** How many new partitions. */
  readonly partitions: number;
  readonly replicationFactor: number;
}

/** The load bookkeeping of one planning run; the caller's maps are never modified. */
class Load {
  private readonly replicas: Map<BrokerId, number>;
  private readonly leaders: Map<BrokerId, number>;

  constructor(replicaCounts: ReadonlyMap<BrokerId, number>, leaderCounts: ReadonlyMap<BrokerId, number>) {
    this.replicas = new Map(replicaCounts);
    this.leaders = new Map(leaderCounts);
  }

  replicasOf(id: BrokerId): number {
    return this.replicas.get(id) ?? 0;
  }

  leadersOf(id: BrokerId): number {
    return this.leaders.get(id) ?? 0;
  }

  addReplica(id: BrokerId): void {
    this.replicas.set(id, this.replicasOf(id) + 1);
  }

  moveLeader(from: BrokerId | undefined, to: BrokerId): void {
    if (from !== undefined) this.leaders.set(from, this.leadersOf(from) - 1);
    this.leaders.set(to, this.leadersOf(to) + 1);
  }
}

/** A broker's rack for placement: brokers without one are each a rack of their own. */
function rackOf(broker: BrokerRecord): string {
  return broker.rack === '' ? `\u0000broker-${broker.id}` : `rack:${broker.rack}`;
}

/**
 * Places the replicas of `partitions` new partitions: one replica list per partition, preferred
 * leader first, rack-aware and balanced against the current load (see the file comment).
 * @throws PlacementError INVALID_REPLICATION_FACTOR when the factor is below 1 or above the
 *   number of candidate brokers.
 */
export function placeReplicas(input: PlacementInput): number[][] {
  const brokers = [...input.brokers].sort((a, b) => a.id - b.id);
  assert.equal(new Set(brokers.map((broker) => broker.id)).size, brokers.length, 'candidate broker ids are distinct');
  const { replicationFactor, partitions } = input;
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > brokers.length) {
    throw new PlacementError('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} must be in [1, ${brokers.length}] (the brokers that can take replicas)`);
  }
  if (!Number.isInteger(partitions) || partitions < 0) throw new PlacementError('INVALID_PARTITIONS', `cannot place ${partitions} partitions`);
  const load = new Load(input.replicaCounts, input.leaderCounts);
  // The cluster's partition count so far, so a new topic continues the rotation rather than restarting it.
  let rotation = brokers.reduce((sum, broker) => sum + load.leadersOf(broker.id), 0);
  const placed: number[][] = [];
  for (let index = 0; index < partitions; index++, rotation++) {
    const leader = preferredLeader(brokers, load, replicationFactor, rotation);
    const chosen: BrokerRecord[] = [leader];
    load.addReplica(leader.id);
    load.moveLeader(undefined, leader.id);
    while (chosen.length < replicationFactor) {
      const replica = leastLoaded(brokers, chosen, load, rotation);
      assert.ok(replica !== undefined, 'the factor was checked against the candidates');
      chosen.push(replica);
      load.addReplica(replica.id);
    }
    placed.push(chosen.map((broker) => broker.id));
  }
  return placed;
}

/**
 * The preferred leader of a new partition: of the brokers that belong to some least-loaded set of
 * `replicationFactor` brokers (load at most the factor-th smallest, so replica balance does not
 * suffer), the one with the fewest preferred leaderships, then fewest replicas, then the rotation.
 */
function preferredLeader(brokers: readonly BrokerRecord[], load: Load, replicationFactor: number, rotation: number): BrokerRecord {
  const loads = brokers.map((broker) => load.replicasOf(broker.id)).sort((a, b) => a - b);
  const loadMax = loads[replicationFactor - 1];
  const rackLoads = averageLoadPerRack(brokers, load);
  return best(brokers, (broker, position) =>
    load.replicasOf(broker.id) > loadMax
      ? null
      : [load.leadersOf(broker.id), load.replicasOf(broker.id), rackLoads.get(rackOf(broker))!, turn(position, rotation, brokers.length)],
  )!;
}

/**
 * The best candidate outside `chosen` for one more replica of a partition whose other replicas
 * are `chosen`: fewest of them on its rack, then fewest replicas, then the least loaded rack
 * (so a rack is not left with brokers only one partition at a time can use), then the most
 * preferred leaderships (so brokers that lead little stay light enough to lead the next
 * partitions), then the rotation.
 */
function leastLoaded(candidates: readonly BrokerRecord[], chosen: readonly BrokerRecord[], load: Load, rotation: number): BrokerRecord | undefined {
  const racksUsed = new Map<string, number>();
  for (const broker of chosen) racksUsed.set(rackOf(broker), (racksUsed.get(rackOf(broker)) ?? 0) + 1);
  const rackLoads = averageLoadPerRack(candidates, load);
  return best(candidates, (broker, position) =>
    chosen.some((member) => member.id === broker.id)
      ? null
      : [racksUsed.get(rackOf(broker)) ?? 0, load.replicasOf(broker.id), rackLoads.get(rackOf(broker))!, -load.leadersOf(broker.id), turn(position, rotation, candidates.length)],
  );
}

/** The broker with the smallest key (compared element by element); a null key rules a broker out. */
function best(brokers: readonly BrokerRecord[], keyOf: (broker: BrokerRecord, position: number) => readonly number[] | null): BrokerRecord | undefined {
  let found: BrokerRecord | undefined;
  let foundKey: readonly number[] = [];
  brokers.forEach((broker, position) => {
    const key = keyOf(broker, position);
    if (key !== null && (found === undefined || lessThan(key, foundKey))) {
      found = broker;
      foundKey = key;
    }
  });
  return found;
}

function averageLoadPerRack(brokers: readonly BrokerRecord[], load: Load): Map<string, number> {
  const totals = new Map<string, { replicas: number; brokers: number }>();
  for (const broker of brokers) {
    const total = totals.get(rackOf(broker)) ?? { replicas: 0, brokers: 0 };
    total.replicas += load.replicasOf(broker.id);
    total.brokers++;
    totals.set(rackOf(broker), total);
  }
  return new Map([...totals].map(([rack, total]) => [rack, total.replicas / total.brokers]));
}

/** A broker's place in the rotation: 0 for the broker whose turn it is. */
function turn(position: number, rotation: number, count: number): number {
  return (((position - rotation) % count) + count) % count;
}

function lessThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return false;
}

/**
 * Reassignments that move every replica of `brokerId` elsewhere. For each partition listing it,
 * the broker is replaced by the least-loaded eligible broker (live, not decommissioning, not
 * already a replica), rack-aware as in placeReplicas; the other replicas keep their order. When
 * the broker was the preferred leader, the replica (kept or new) with the fewest preferred
 * leaderships becomes the first, a kept one on ties; the others follow in their order, the
 * newcomer last.
 * Partitions already moving away from the broker need nothing; `brokers` is every registered
 * broker (its records give the racks of the kept replicas).
 * @throws PlacementError INVALID_REPLICATION_FACTOR when no broker can take one of the replicas;
 *   REASSIGNMENT_IN_PROGRESS when a running reassignment moves a partition onto the broker.
 */
export function planDecommission(topics: readonly ClusterTopic[], brokers: readonly BrokerRecord[], brokerId: BrokerId): Reassignment[] {
  const eligible = brokers.filter((broker) => broker.id !== brokerId && !broker.fenced && !broker.decommissioning).sort((a, b) => a.id - b.id);
  const byId = new Map(brokers.map((broker) => [broker.id, broker]));
  const load = currentLoad(topics);
  const reassignments: Reassignment[] = [];
  let rotation = 0;
  for (const topic of topics) {
    for (const partition of topic.partitions) {
      if (partition.targetReplicas !== null) {
        if (partition.targetReplicas.includes(brokerId)) {
          throw new PlacementError('REASSIGNMENT_IN_PROGRESS', `${topic.name}-${partition.partition} is moving onto broker ${brokerId}; wait until it finishes`);
        }
        continue;
      }
      if (!partition.replicas.includes(brokerId)) continue;
      reassignments.push({ groupId: partition.groupId, targetReplicas: replaceReplica(partition, brokerId, eligible, byId, load, rotation++) });
    }
  }
  return reassignments;
}

function replaceReplica(
  partition: ClusterPartition,
  brokerId: BrokerId,
  eligible: readonly BrokerRecord[],
  byId: ReadonlyMap<BrokerId, BrokerRecord>,
  load: Load,
  rotation: number,
): BrokerId[] {
  const kept = partition.replicas.filter((id) => id !== brokerId);
  // Kept replicas on brokers that are gone from the records still occupy a rack of their own.
  const keptRecords = kept.map((id) => byId.get(id) ?? unknownBroker(id));
  const candidates = eligible.filter((broker) => !kept.includes(broker.id));
  const replacement = leastLoaded(candidates, keptRecords, load, rotation);
  if (replacement === undefined) {
    throw new PlacementError(
      'INVALID_REPLICATION_FACTOR',
      `no broker can take the replica of ${partition.topic}-${partition.partition} from broker ${brokerId} (replicas ${partition.replicas.join(',')})`,
    );
  }
  load.addReplica(replacement.id);
  if (partition.replicas[0] !== brokerId) return partition.replicas.map((id) => (id === brokerId ? replacement.id : id));
  // Kept replicas first on ties: they hold the data already.
  const leader = [...kept, replacement.id].reduce((best, id) => (load.leadersOf(id) < load.leadersOf(best) ? id : best));
  load.moveLeader(brokerId, leader);
  return [leader, ...[...kept, replacement.id].filter((id) => id !== leader)];
}

function unknownBroker(id: BrokerId): BrokerRecord {
  return { id, host: '', port: 0, internalAddress: '', rack: '', incarnation: 0, fenced: true, decommissioning: false };
}

/** Replicas (current and reassignment targets) and preferred leaderships per broker. */
function currentLoad(topics: readonly ClusterTopic[]): Load {
  const replicaCounts = new Map<BrokerId, number>();
  const leaderCounts = new Map<BrokerId, number>();
  for (const topic of topics) {
    for (const partition of topic.partitions) {
      for (const id of new Set([...partition.replicas, ...(partition.targetReplicas ?? [])])) replicaCounts.set(id, (replicaCounts.get(id) ?? 0) + 1);
      const preferred = (partition.targetReplicas ?? partition.replicas)[0];
      leaderCounts.set(preferred, (leaderCounts.get(preferred) ?? 0) + 1);
    }
  }
  return new Load(replicaCounts, leaderCounts);
}
