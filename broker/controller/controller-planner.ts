/**
 * How the controller leader turns a write into one command of the controller log: validation
 * (the single broker's error codes and limits), replica placement over the live brokers, group
 * ids. Runs on the leader only, after its metadata applied everything committed before, and with
 * no other write in between: what it checks against the store is what the command meets when it
 * is applied (the store still checks again, deterministically, on every broker).
 */
import { randomUUID } from 'node:crypto';
import type { BrokerConfig } from '../config/broker-config.js';
import { TopicConfigError, topicLogConfig, validateTopicConfigEntries } from '../topics/topic-config.js';
import { TopicError } from '../topics/topic-error.js';
import { internalTopicNameProblem, topicNameProblem } from '../topics/topic-name.js';
import { GROUP_ID_MAX } from '../transport/raft-codec.js';
import type { ClusterStore } from './cluster-store.js';
import type {
  ApplyResult,
  BrokerId,
  BrokerRecord,
  ClusterPartition,
  ClusterTopic,
  ControllerCommand,
  NewPartitionPlacement,
  Reassignment,
} from './controller-types.js';
import { outcomeOf, type ControllerWrite, type PartitionReassignmentRequest, type WriteOutcome } from './controller-write.js';
import { PlacementError, placeReplicas, planDecommission } from './placement.js';

/** Replication factor when neither the request nor the broker config names one: min(this, brokers). */
export const DEFAULT_REPLICATION_FACTOR_CAP = 3;

export interface PlanContext {
  readonly store: ClusterStore;
  readonly config: BrokerConfig;
  /** 0 = min(3, the cluster's brokers that are not decommissioning). */
  readonly defaultReplicationFactor: number;
  /** Every broker of the cluster's configuration (cluster.peers), registered yet or not. */
  readonly configuredBrokers: readonly BrokerId[];
  readonly nowMs: number;
  /** Whether the leader heard from the broker within its lease. */
  readonly leaseCurrent: (brokerId: BrokerId) => boolean;
}

/** What to do with a write: answer at once, or propose a command and answer from its result. */
export type Plan =
  | { readonly kind: 'answer'; readonly outcome: WriteOutcome }
  | { readonly kind: 'propose'; readonly command: ControllerCommand; readonly finish: (result: ApplyResult, offset: number) => WriteOutcome };

/** Plans one write. Throws TopicError when the write is refused. */
export function planWrite(write: ControllerWrite, context: PlanContext): Plan {
  switch (write.kind) {
    case 'createTopic':
      return planCreateTopic(write, context);
    case 'deleteTopic':
      existingTopic(context.store, write.name);
      return propose({ type: 'deleteTopic', name: write.name });
    case 'alterTopicConfigs':
      return planAlterTopicConfigs(write, context);
    case 'createPartitions':
      return planCreatePartitions(write, context);
    case 'reassign':
      return planReassign(write.partitions, context.store);
    case 'decommission':
      return planDecommissionBroker(write.brokerId, context.store);
    case 'reassignmentDone':
      return planReassignmentDone(write.groupId, write.replicas, context.store);
    case 'registerBroker': {
      const known = context.store.broker(write.broker.id);
      const same = known !== undefined && !known.fenced && sameRegistration(known, write.broker);
      return same ? answered() : propose({ type: 'registerBroker', broker: write.broker });
    }
    case 'fence': {
      const known = context.store.broker(write.brokerId);
      // Checked again here: a heartbeat may have arrived while the request waited in the queue.
      const wanted = write.fenced ? !context.leaseCurrent(write.brokerId) : context.leaseCurrent(write.brokerId);
      if (known === undefined || known.fenced === write.fenced || !wanted) return answered();
      return propose({ type: 'fenceBroker', brokerId: write.brokerId, fenced: write.fenced });
    }
    case 'leaderUpdates':
      return write.updates.length === 0 ? answered() : propose({ type: 'leaderUpdates', updates: write.updates });
  }
}

function planCreateTopic(write: Extract<ControllerWrite, { kind: 'createTopic' }>, context: PlanContext): Plan {
  const { spec } = write;
  const { store, config } = context;
  // Brook's own topics (reserved "__" names) are created by brokers only, and only those names.
  const problem = spec.internal === true ? internalTopicNameProblem(spec.name) : topicNameProblem(spec.name);
  if (problem !== null) throw new TopicError('INVALID_TOPIC_EXCEPTION', problem);
  const partitionCount = spec.numPartitions === 0 ? config.defaultPartitions : spec.numPartitions;
  checkPartitionCount(partitionCount, config);
  const candidates = placementCandidates(store.brokers());
  const replicationFactor = spec.replicationFactor === 0 ? defaultReplicationFactor(context) : spec.replicationFactor;
  checkReplicationFactor(replicationFactor, candidates.length);
  checkConfigs(spec.configs, config);
  if (store.topic(spec.name) !== undefined) throw new TopicError('TOPIC_ALREADY_EXISTS', `topic ${spec.name} already exists`);
  if (store.topics().length >= config.topicsMax) throw new TopicError('INVALID_REQUEST', `the cluster holds topics.max=${config.topicsMax} topics already`);
  const partitions = placePartitions(store, candidates, 0, partitionCount, replicationFactor);
  if (write.validateOnly) return answered();
  return propose({ type: 'createTopic', name: spec.name, topicId: randomUUID(), createdMs: context.nowMs, configs: { ...spec.configs }, partitions });
}

function planAlterTopicConfigs(write: Extract<ControllerWrite, { kind: 'alterTopicConfigs' }>, context: PlanContext): Plan {
  const topic = existingTopic(context.store, write.name);
  const configs: Record<string, string> = { ...topic.configs, ...write.set };
  for (const key of write.remove) {
    if (Object.hasOwn(write.set, key)) throw new TopicError('INVALID_CONFIG', `config ${key} is both set and removed`);
    delete configs[key];
  }
  try {
    validateTopicConfigEntries({ ...write.set });
  } catch (error) {
    if (error instanceof TopicConfigError) throw new TopicError('INVALID_CONFIG', error.message);
    throw error;
  }
  checkConfigs(configs, context.config);
  if (write.validateOnly) return answered();
  return propose({ type: 'alterTopicConfigs', name: write.name, set: { ...write.set }, remove: [...write.remove] });
}

function planCreatePartitions(write: Extract<ControllerWrite, { kind: 'createPartitions' }>, context: PlanContext): Plan {
  const { store, config } = context;
  const topic = existingTopic(store, write.name);
  const current = topic.partitions.length;
  if (!Number.isInteger(write.totalCount) || write.totalCount <= current) {
    throw new TopicError('INVALID_PARTITIONS', `topic ${write.name} has ${current} partitions; the new count ${write.totalCount} must be larger`);
  }
  checkPartitionCount(write.totalCount, config);
  const candidates = placementCandidates(store.brokers());
  const replicationFactor = topic.partitions[0]?.replicas.length ?? 1;
  checkReplicationFactor(replicationFactor, candidates.length);
  const partitions = placePartitions(store, candidates, current, write.totalCount, replicationFactor);
  if (write.validateOnly) return answered();
  return propose({ type: 'addPartitions', name: write.name, partitions });
}

/**
 * Checks each requested reassignment; the valid ones go into one command and take the store's
 * per-reassignment results, the others are answered with their refusal. The answer's results are
 * in request order.
 */
function planReassign(requests: readonly PartitionReassignmentRequest[], store: ClusterStore): Plan {
  const results: (ApplyResult | undefined)[] = [];
  const reassignments: Reassignment[] = [];
  const slots: number[] = [];
  const seen = new Set<number>();
  for (const request of requests) {
    const refusal = reassignmentProblem(request, store, seen);
    if (typeof refusal === 'object' && 'errorCode' in refusal) {
      results.push(refusal);
      continue;
    }
    seen.add(refusal.groupId);
    slots.push(results.length);
    results.push(undefined);
    reassignments.push({ groupId: refusal.groupId, targetReplicas: [...request.replicas] });
  }
  if (reassignments.length === 0) return answered({ results: results as ApplyResult[] });
  return {
    kind: 'propose',
    command: { type: 'reassign', reassignments },
    finish: (result, offset) => {
      const filled = [...results];
      slots.forEach((slot, index) => (filled[slot] = result.items?.[index] ?? { errorCode: result.errorCode, errorMessage: result.errorMessage }));
      return outcomeOf('NONE', '', { appliedOffset: offset, results: filled as ApplyResult[] });
    },
  };
}

function reassignmentProblem(request: PartitionReassignmentRequest, store: ClusterStore, seen: ReadonlySet<number>): ApplyResult | ClusterPartition {
  const refuse = (errorCode: ApplyResult['errorCode'], errorMessage: string): ApplyResult => ({ errorCode, errorMessage });
  const name = `${request.topic}-${request.partition}`;
  const partition = store.topic(request.topic)?.partitions[request.partition];
  if (partition === undefined) return refuse('UNKNOWN_TOPIC_OR_PARTITION', `partition ${name} does not exist`);
  if (seen.has(partition.groupId)) return refuse('INVALID_REQUEST', `partition ${name} is named twice`);
  if (request.replicas.length === 0) return refuse('INVALID_REPLICA_ASSIGNMENT', `the replica list of ${name} is empty`);
  if (new Set(request.replicas).size !== request.replicas.length) return refuse('INVALID_REPLICA_ASSIGNMENT', `the replica list of ${name} names a broker twice`);
  for (const id of request.replicas) {
    const broker = store.broker(id);
    if (broker === undefined) return refuse('INVALID_REPLICA_ASSIGNMENT', `broker ${id} is not registered`);
    if (broker.decommissioning) return refuse('INVALID_REPLICA_ASSIGNMENT', `broker ${id} is being decommissioned`);
  }
  if (partition.targetReplicas !== null) return refuse('REASSIGNMENT_IN_PROGRESS', `partition ${name} is being reassigned to ${partition.targetReplicas.join(',')}`);
  return partition;
}

function planDecommissionBroker(brokerId: BrokerId, store: ClusterStore): Plan {
  const broker = store.broker(brokerId);
  if (broker === undefined) throw new TopicError('INVALID_REQUEST', `broker ${brokerId} is not registered`);
  if (broker.decommissioning) return answered();
  const reassignments = placementGuarded(() => planDecommission(store.topics(), store.brokers(), brokerId));
  return {
    kind: 'propose',
    command: { type: 'decommissionBroker', brokerId, reassignments },
    finish: (result, offset) => outcomeOf(result.errorCode, result.errorMessage, { appliedOffset: offset, partitionsMoved: result.errorCode === 'NONE' ? reassignments.length : 0 }),
  };
}

function planReassignmentDone(groupId: number, replicas: readonly BrokerId[], store: ClusterStore): Plan {
  const partition = store.partitionByGroup(groupId);
  if (partition === undefined) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `no partition has group ${groupId}`);
  // A repeated report (the first one's answer was lost) finds the reassignment already finished.
  if (partition.targetReplicas === null && sameSet(partition.replicas, replicas)) return answered();
  return propose({ type: 'reassignmentDone', groupId, replicas: [...replicas] });
}

// ---- helpers ----

function propose(command: ControllerCommand): Plan {
  return { kind: 'propose', command, finish: (result, offset) => outcomeOf(result.errorCode, result.errorMessage, { appliedOffset: offset }) };
}

function answered(extra: Parameters<typeof outcomeOf>[2] = {}): Plan {
  return { kind: 'answer', outcome: outcomeOf('NONE', '', extra) };
}

function existingTopic(store: ClusterStore, name: string): ClusterTopic {
  const topic = store.topic(name);
  if (topic === undefined) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
  return topic;
}

/** Brokers new replicas may go to: heard from recently and staying. */
function placementCandidates(brokers: readonly BrokerRecord[]): BrokerRecord[] {
  return brokers.filter((broker) => !broker.fenced && !broker.decommissioning);
}

function defaultReplicationFactor(context: PlanContext): number {
  if (context.defaultReplicationFactor > 0) return context.defaultReplicationFactor;
  // Counted from the configuration too, not only from registrations: a topic auto-created while
  // brokers are still starting must not quietly get fewer replicas than the cluster will have.
  const ids = new Set([...context.configuredBrokers, ...context.store.brokers().map((broker) => broker.id)]);
  const staying = [...ids].filter((id) => context.store.broker(id)?.decommissioning !== true).length;
  return Math.max(1, Math.min(DEFAULT_REPLICATION_FACTOR_CAP, staying));
}

function checkPartitionCount(count: number, config: BrokerConfig): void {
  if (!Number.isInteger(count) || count < 1 || count > config.topicPartitionsMax) {
    throw new TopicError('INVALID_PARTITIONS', `partition count must be in [1, ${config.topicPartitionsMax}], got ${count}`);
  }
}

function checkReplicationFactor(replicationFactor: number, liveBrokers: number): void {
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > liveBrokers) {
    throw new TopicError('INVALID_REPLICATION_FACTOR', `replication factor must be in [1, ${liveBrokers}] (the live brokers), got ${replicationFactor}`);
  }
}

function checkConfigs(configs: Readonly<Record<string, string>>, config: BrokerConfig): void {
  try {
    topicLogConfig(configs, config);
  } catch (error) {
    if (error instanceof TopicConfigError) throw new TopicError('INVALID_CONFIG', error.message);
    throw error;
  }
}

/** Replicas and group ids for partitions `from` .. `to` - 1, balanced against the current load. */
function placePartitions(store: ClusterStore, candidates: readonly BrokerRecord[], from: number, to: number, replicationFactor: number): NewPartitionPlacement[] {
  const firstGroupId = store.nextGroupId();
  if (firstGroupId + (to - from) - 1 > GROUP_ID_MAX) throw new TopicError('INVALID_REQUEST', 'the cluster ran out of partition group ids');
  const lists = placementGuarded(() =>
    placeReplicas({ brokers: candidates, replicaCounts: store.replicaCounts(), leaderCounts: store.preferredLeaderCounts(), partitions: to - from, replicationFactor }),
  );
  return lists.map((replicas, index) => ({ partition: from + index, groupId: firstGroupId + index, replicas }));
}

function placementGuarded<T>(place: () => T): T {
  try {
    return place();
  } catch (error) {
    if (error instanceof PlacementError) throw new TopicError(error.errorCode, error.message);
    throw error;
  }
}

function sameRegistration(known: BrokerRecord, wanted: Omit<BrokerRecord, 'fenced' | 'decommissioning'>): boolean {
  return (
    known.incarnation === wanted.incarnation &&
    known.host === wanted.host &&
    known.port === wanted.port &&
    known.internalAddress === wanted.internalAddress &&
    known.rack === wanted.rack
  );
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((id) => set.has(id));
}
