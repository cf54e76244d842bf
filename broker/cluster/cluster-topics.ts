/**
 * The TopicService of a cluster broker: topics as the controller's metadata (its ClusterStore,
 * the same on every broker) shows them, partitions as the replicas this broker holds serve them.
 * Admin changes go to the controller, which forwards them to its leader and resolves once this
 * broker's store applied them; reads are synchronous and come from memory.
 *
 * Leaders: for a partition held here the local replica's view is the freshest (it follows the
 * Raft group directly); for one held elsewhere the metadata's last reported leader is used.
 * A partition whose leader is unknown, or on a fenced broker, reports LEADER_NOT_AVAILABLE.
 */
import type { Logger } from 'pino';
import type {
  BrokerInfo,
  ClusterBroker,
  ClusterBrokerState,
  DescribeClusterResponse,
  LeaderHint,
  PartitionMetadata,
  ReassignmentResult,
} from '../../proto/brook-types.js';
import type {
  DecommissionOutcome,
  LeadershipRefusal,
  NewTopicSpec,
  ReassignmentSpec,
  ServedPartition,
  ServedTopic,
  TopicService,
} from '../api/topic-service.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { ApplyResult, BrokerRecord, BrokerState, ClusterPartition, ClusterTopic } from '../controller/controller-types.js';
import { TopicError } from '../topics/topic-error.js';
import { topicNameProblem } from '../topics/topic-name.js';

/** Leader id reported when none is known (proto: -1 when unknown). */
const NO_LEADER_ID = -1;
/** Topic auto-creations waiting at once; more are refused (retriable) rather than queued without bound. */
export const AUTO_CREATES_IN_FLIGHT_MAX = 256;

/** What ClusterTopics reads and asks of the controller (broker/controller/controller.ts). */
export interface ClusterMetadataSource {
  readonly store: {
    topics(): readonly ClusterTopic[];
    topic(name: string): ClusterTopic | undefined;
    brokers(): readonly BrokerRecord[];
    broker(id: number): BrokerRecord | undefined;
    brokerState(id: number): BrokerState | undefined;
    replicaCounts(): ReadonlyMap<number, number>;
  };
  /** The controller's leader, 0 when none is known. */
  readonly leaderId: number;
  createTopic(spec: NewTopicSpec, validateOnly: boolean): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  alterTopicConfigs(name: string, set: Readonly<Record<string, string>>, remove: readonly string[], validateOnly: boolean): Promise<void>;
  createPartitions(name: string, totalCount: number, validateOnly: boolean): Promise<void>;
  reassign(list: readonly ReassignmentSpec[]): Promise<readonly ApplyResult[]>;
  decommission(brokerId: number): Promise<{ partitionsMoved: number }>;
}

/** The replicas this broker holds (broker/cluster/replica-manager.ts). */
export interface LocalReplicas {
  partition(topic: string, index: number): ServedPartition | undefined;
  /** Changes whenever a replica is opened or closed here (views built from partition() are stale then). */
  readonly version: number;
  /** Settles once a reconcile pass that started after the call has finished. */
  reconcile(): Promise<void>;
}

export interface ClusterTopicsOptions {
  readonly config: BrokerConfig;
  readonly controller: ClusterMetadataSource;
  readonly replicas: LocalReplicas;
  /** Where clients reach this broker, reported until the metadata holds its registration. */
  readonly advertised: () => { host: string; port: number };
  readonly logger: Logger;
}

export class ClusterTopics implements TopicService {
  /** Auto-creations in progress, so concurrent produces to a new topic create it once. */
  private readonly creating = new Map<string, Promise<ServedTopic>>();
  /** Handler views by metadata snapshot; a snapshot replaced by a change is dropped with it. */
  private readonly views = new WeakMap<ClusterTopic, { readonly replicasVersion: number; readonly view: ServedTopic }>();

  constructor(private readonly options: ClusterTopicsOptions) {}

  get clusterId(): string {
    return this.options.config.clusterId;
  }

  private get store(): ClusterMetadataSource['store'] {
    return this.options.controller.store;
  }

  get(name: string): ServedTopic | undefined {
    const topic = this.store.topic(name);
    return topic === undefined ? undefined : this.served(topic);
  }

  partition(topic: string, index: number): ServedPartition | undefined {
    // A replica of a deleted topic lingers until the replica manager's next reconcile.
    return this.store.topic(topic) === undefined ? undefined : this.options.replicas.partition(topic, index);
  }

  list(): readonly ServedTopic[] {
    return this.store.topics().map((topic) => this.served(topic));
  }

  partitionCount(): number {
    let count = 0;
    for (const topic of this.store.topics()) count += topic.partitions.length;
    return count;
  }

  /**
   * The topic, created through the controller with the defaults when missing and auto-creation is
   * on. Resolves once this broker's store shows it and the replica manager opened the replicas
   * assigned here; partitions held elsewhere are answered with NOT_LEADER_OR_FOLLOWER or
   * LEADER_NOT_AVAILABLE by notHeldHere.
   */
  async getOrAutoCreate(name: string): Promise<ServedTopic> {
    // A creation in progress first: the store may show the topic before its replicas are open here.
    const pending = this.creating.get(name);
    if (pending !== undefined) return pending;
    const existing = this.get(name);
    if (existing !== undefined) return existing;
    const problem = topicNameProblem(name);
    if (problem !== null) throw new TopicError('INVALID_TOPIC_EXCEPTION', problem);
    if (!this.options.config.autoCreateTopics) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist (auto.create.topics is off)`);
    if (this.creating.size >= AUTO_CREATES_IN_FLIGHT_MAX) {
      throw new TopicError('LEADER_NOT_AVAILABLE', `${AUTO_CREATES_IN_FLIGHT_MAX} topic auto-creations are in progress already; retry`);
    }
    const created = this.autoCreate(name);
    this.creating.set(name, created);
    try {
      return await created;
    } finally {
      this.creating.delete(name);
    }
  }

  private async autoCreate(name: string): Promise<ServedTopic> {
    try {
      await this.options.controller.createTopic({ name, numPartitions: 0, replicationFactor: 0, configs: {} }, false);
      this.options.logger.info({ topic: name }, 'topic auto-created');
    } catch (error) {
      // Lost a race with another broker's creation of it: the topic is there, which is all we wanted.
      if (!(error instanceof TopicError && error.errorCode === 'TOPIC_ALREADY_EXISTS')) throw error;
    }
    const topic = this.store.topic(name);
    if (topic === undefined) throw new TopicError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} was deleted right after it was created`);
    const self = this.options.config.nodeId;
    const heldHere = topic.partitions.some((partition) => isAssigned(partition, self));
    if (heldHere) await this.options.replicas.reconcile();
    return this.served(topic);
  }

  async createTopic(spec: NewTopicSpec, validateOnly: boolean): Promise<void> {
    await this.options.controller.createTopic(spec, validateOnly);
  }

  deleteTopic(name: string): Promise<void> {
    return this.options.controller.deleteTopic(name);
  }

  alterTopicConfigs(name: string, set: Readonly<Record<string, string>>, remove: readonly string[], validateOnly: boolean): Promise<void> {
    return this.options.controller.alterTopicConfigs(name, set, remove, validateOnly);
  }

  createPartitions(name: string, totalCount: number, validateOnly: boolean): Promise<void> {
    return this.options.controller.createPartitions(name, totalCount, validateOnly);
  }

  describe(name: string): PartitionMetadata[] | undefined {
    const topic = this.store.topic(name);
    if (topic === undefined) return undefined;
    return topic.partitions.map((partition) => this.describePartition(topic.name, partition));
  }

  private describePartition(topic: string, assignment: ClusterPartition): PartitionMetadata {
    const leader = this.leaderOf(topic, assignment);
    const local = this.options.replicas.partition(topic, assignment.partition);
    const available = leader.leaderId > 0 && this.brokerServes(leader.leaderId);
    return {
      errorCode: available ? 'NONE' : 'LEADER_NOT_AVAILABLE',
      partition: assignment.partition,
      leaderId: available ? leader.leaderId : NO_LEADER_ID,
      leaderEpoch: leader.leaderEpoch,
      replicaIds: [...assignment.replicas],
      // Without the leader's own view, the replicas on brokers that are not fenced stand in for it.
      inSyncReplicaIds: [...(local?.inSyncReplicaIds?.() ?? assignment.replicas.filter((id) => this.brokerServes(id)))],
      targetReplicaIds: [...(assignment.targetReplicas ?? [])],
    };
  }

  /** The partition's leader: the local replica's view when held here, else the metadata's. */
  private leaderOf(topic: string, assignment: ClusterPartition): { leaderId: number; leaderEpoch: number } {
    const local = this.options.replicas.partition(topic, assignment.partition);
    if (local === undefined) return { leaderId: assignment.leaderId, leaderEpoch: assignment.leaderEpoch };
    const refusal = local.leadership();
    if (refusal === undefined) return { leaderId: this.options.config.nodeId, leaderEpoch: local.leaderEpoch };
    return { leaderId: refusal.currentLeader?.leaderId ?? 0, leaderEpoch: local.leaderEpoch };
  }

  notHeldHere(topic: string, index: number): LeadershipRefusal {
    const assignment = this.store.topic(topic)?.partitions[index];
    if (assignment === undefined) return { errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `topic ${topic} partition ${index} does not exist` };
    const self = this.options.config.nodeId;
    const where = `${topic}-${index}`;
    if (isAssigned(assignment, self)) {
      return { errorCode: 'LEADER_NOT_AVAILABLE', errorMessage: `${where}: broker ${self} is opening its replica` };
    }
    const hint = this.hintFor(assignment);
    if (hint === undefined) {
      return { errorCode: 'LEADER_NOT_AVAILABLE', errorMessage: `${where}: no leader is known (replicas ${assignment.replicas.join(',')})` };
    }
    return { errorCode: 'NOT_LEADER_OR_FOLLOWER', errorMessage: `${where}: broker ${self} holds no replica; broker ${hint.leaderId} leads it`, currentLeader: hint };
  }

  /** The metadata's leader of a partition as a hint, when it is known, serving, and has an address. */
  private hintFor(assignment: ClusterPartition): LeaderHint | undefined {
    const leaderId = assignment.leaderId;
    if (leaderId <= 0 || !this.brokerServes(leaderId)) return undefined;
    const broker = this.store.broker(leaderId);
    if (broker === undefined) return undefined;
    return { leaderId, leaderEpoch: assignment.leaderEpoch, address: clientAddress(broker) };
  }

  /** Registered and not fenced (a decommissioning broker still serves what it holds). */
  private brokerServes(id: number): boolean {
    const broker = this.store.broker(id);
    return broker !== undefined && !broker.fenced;
  }

  brokers(): BrokerInfo[] {
    const self = this.options.config.nodeId;
    const brokers: BrokerInfo[] = this.store
      .brokers()
      .filter((broker) => !broker.fenced)
      .map((broker) => ({ nodeId: broker.id, host: broker.host, port: broker.port, rack: broker.rack }));
    // Until its registration is applied, this broker still answers clients: list it.
    if (!brokers.some((broker) => broker.nodeId === self)) {
      const { host, port } = this.options.advertised();
      brokers.push({ nodeId: self, host, port, rack: this.options.config.rack });
      brokers.sort((a, b) => a.nodeId - b.nodeId);
    }
    return brokers;
  }

  controllerId(): number {
    const leaderId = this.options.controller.leaderId;
    return leaderId > 0 ? leaderId : NO_LEADER_ID;
  }

  describeCluster(): DescribeClusterResponse {
    const replicaCounts = this.store.replicaCounts();
    const leaderCounts = new Map<number, number>();
    for (const topic of this.store.topics()) {
      for (const partition of topic.partitions) {
        if (partition.leaderId > 0) leaderCounts.set(partition.leaderId, (leaderCounts.get(partition.leaderId) ?? 0) + 1);
      }
    }
    const brokers: ClusterBroker[] = this.store.brokers().map((broker) => ({
      broker: { nodeId: broker.id, host: broker.host, port: broker.port, rack: broker.rack },
      state: (this.store.brokerState(broker.id) ?? 'FENCED') as ClusterBrokerState,
      replicaCount: replicaCounts.get(broker.id) ?? 0,
      leaderCount: leaderCounts.get(broker.id) ?? 0,
      internalAddress: broker.internalAddress,
    }));
    return { clusterId: this.clusterId, controllerId: this.controllerId(), controllerVoterIds: [...this.options.config.controllerVoterIds], brokers };
  }

  async reassign(list: readonly ReassignmentSpec[]): Promise<ReassignmentResult[]> {
    if (list.length === 0) return [];
    const results = await this.options.controller.reassign(list);
    return list.map((item, index) => ({
      topic: item.topic,
      partition: item.partition,
      errorCode: results[index]?.errorCode ?? 'UNKNOWN_SERVER_ERROR',
      errorMessage: results[index]?.errorMessage ?? 'the controller gave no result for this partition',
    }));
  }

  async decommission(brokerId: number): Promise<DecommissionOutcome> {
    const { partitionsMoved } = await this.options.controller.decommission(brokerId);
    return { errorCode: 'NONE', errorMessage: '', partitionsMoved };
  }

  /**
   * The topic as the handlers see it. Built once per metadata snapshot (the store hands out the
   * same frozen topic until a command changes it) and per set of replicas held here, not for every
   * request: a produce to a topic of a thousand partitions would otherwise look each one up.
   */
  private served(topic: ClusterTopic): ServedTopic {
    const replicas = this.options.replicas;
    const cached = this.views.get(topic);
    if (cached !== undefined && cached.replicasVersion === replicas.version) return cached.view;
    const view: ServedTopic = {
      name: topic.name,
      topicId: topic.topicId,
      configs: topic.configs,
      partitions: topic.partitions.map((partition) => replicas.partition(topic.name, partition.partition)),
    };
    this.views.set(topic, { replicasVersion: replicas.version, view });
    return view;
  }
}

/** Whether the broker is in the partition's replica set or its reassignment target. */
function isAssigned(partition: ClusterPartition, brokerId: number): boolean {
  return partition.replicas.includes(brokerId) || (partition.targetReplicas?.includes(brokerId) ?? false);
}

function clientAddress(broker: BrokerRecord): string {
  return broker.host.includes(':') ? `[${broker.host}]:${broker.port}` : `${broker.host}:${broker.port}`;
}
