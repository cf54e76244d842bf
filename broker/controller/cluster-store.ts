/**
 * The controller's state machine: the cluster metadata (brokers, topics, partitions with their
 * replica sets and Raft group ids, topic configs) in SQLite, changed only by applying the
 * commands of the controller log in log order. Every broker applies the same commands, so every
 * broker's store holds the same metadata at the same applied offset.
 *
 * Apply is deterministic: it reads no clock and no randomness (times and ids arrive inside the
 * commands), and a command that no longer makes sense when applied changes nothing and yields the
 * same error result everywhere. Each apply is one SQLite transaction that also records the
 * command's offset as applied_offset, so after a crash the store is at exactly one applied offset
 * and the apply loop resumes at the next. Everything is also held in memory (loaded at open,
 * updated only after a transaction commits), so reads never touch the database.
 *
 * apply throws only for a broken invariant (an assertion: offsets not increasing, ...) or a
 * storage failure; the store then still holds the state before that command, on disk and in memory.
 *
 * Schema (version 1):
 *   meta(key TEXT PRIMARY KEY, value INTEGER)       -- 'schema_version', 'applied_offset', 'next_group_id'
 *   brokers(id INTEGER PRIMARY KEY, host, port, internal_address, rack, incarnation,
 *           fenced INTEGER, decommissioning INTEGER)
 *   topics(name TEXT PRIMARY KEY, topic_id TEXT UNIQUE, created_ms INTEGER)
 *   partitions(topic, partition, group_id INTEGER UNIQUE,
 *              initial_replicas, replicas, target_replicas,   -- JSON arrays of broker ids; target NULL when none
 *              leader_id, leader_epoch, PRIMARY KEY(topic, partition))
 *   topic_configs(topic, name, value, PRIMARY KEY(topic, name))
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import type { ErrorCode } from '../../proto/brook-types.js';
import {
  APPLIED_OK,
  type ApplyResult,
  type BrokerId,
  type BrokerRecord,
  type BrokerState,
  type ClusterPartition,
  type ClusterTopic,
  type ControllerCommand,
  type GroupNumber,
  type LeaderUpdate,
  type NewPartitionPlacement,
  type Reassignment,
} from './controller-types.js';

export const CLUSTER_STORE_FILE_NAME = 'cluster.sqlite';
const SCHEMA_VERSION = 1;
/** Group ids are uint32 on the peer transport. */
const GROUP_ID_MAX = 0xffff_ffff;
const FIRST_GROUP_ID = 1;

type CommandOf<T extends ControllerCommand['type']> = Extract<ControllerCommand, { type: T }>;

/** One change an apply makes; written to SQLite inside the transaction, then to memory. */
type Change =
  | { readonly kind: 'broker'; readonly broker: BrokerRecord }
  | { readonly kind: 'createTopic'; readonly topic: ClusterTopic }
  | { readonly kind: 'deleteTopic'; readonly name: string }
  | { readonly kind: 'partition'; readonly partition: ClusterPartition }
  | { readonly kind: 'configs'; readonly name: string; readonly configs: Readonly<Record<string, string>> }
  | { readonly kind: 'nextGroupId'; readonly nextGroupId: GroupNumber };

interface Outcome {
  readonly result: ApplyResult;
  readonly changes: readonly Change[];
}

/** A topic as held in memory; `snapshot` is the frozen ClusterTopic handed out, rebuilt after a change. */
interface TopicState {
  readonly name: string;
  readonly topicId: string;
  readonly createdMs: number;
  configs: Readonly<Record<string, string>>;
  readonly partitions: ClusterPartition[];
  snapshot: ClusterTopic | null;
}

/** Load figures derived from the partitions, rebuilt lazily once per version. */
interface Derived {
  readonly version: number;
  readonly replicaCounts: ReadonlyMap<BrokerId, number>;
  readonly leaderCounts: ReadonlyMap<BrokerId, number>;
}

function refused(errorCode: ErrorCode, errorMessage: string): Outcome {
  return { result: { errorCode, errorMessage }, changes: [] };
}

function ok(changes: readonly Change[]): Outcome {
  return { result: APPLIED_OK, changes };
}

export class ClusterStore {
  private readonly brokersById = new Map<BrokerId, BrokerRecord>();
  private readonly topicsByName = new Map<string, TopicState>();
  private readonly partitionsByGroupId = new Map<GroupNumber, ClusterPartition>();
  private brokerList: readonly BrokerRecord[] | null = null;
  private topicList: readonly ClusterTopic[] | null = null;
  private derived: Derived | null = null;
  private applied = -1;
  private nextGroup = FIRST_GROUP_ID;
  private changeCount = 0;

  private constructor(private readonly db: Database.Database) {}

  /** Opens (creating when missing) the store at `path` and loads all of it into memory. */
  static open(path: string): ClusterStore {
    const db = new Database(path);
    try {
      // WAL: readers never block the writer; synchronous=FULL: a committed apply survives power loss.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      createSchema(db);
      const store = new ClusterStore(db);
      store.load();
      return store;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Offset of the last applied command; -1 before the first. */
  get appliedOffset(): number {
    return this.applied;
  }

  /** Increments on every apply (also on refused commands): a cheap "did anything change". */
  get version(): number {
    return this.changeCount;
  }

  /** The next group id a proposer may use; never reused (deleted topics' ids neither). First is 1. */
  nextGroupId(): GroupNumber {
    return this.nextGroup;
  }

  /**
   * Applies the command at `offset` of the controller log: one transaction holding the change and
   * applied_offset = offset. Refusals are results (the offset is applied all the same).
   */
  apply(offset: number, command: ControllerCommand): ApplyResult {
    assert.ok(Number.isSafeInteger(offset) && offset >= 0, `offset ${offset} must be a non-negative integer`);
    assert.ok(offset > this.applied, `offset ${offset} must be above the applied offset ${this.applied}`);
    const outcome = this.decide(command);
    const writes = this.prepareWrites();
    this.db.transaction(() => {
      for (const change of outcome.changes) writes(change);
      this.writeMeta('applied_offset', offset);
    })();
    for (const change of outcome.changes) this.applyToMemory(change);
    this.applied = offset;
    this.changeCount++;
    return outcome.result;
  }

  /** Registered brokers by id (fenced and decommissioning ones included). */
  brokers(): readonly BrokerRecord[] {
    this.brokerList ??= Object.freeze([...this.brokersById.values()].sort((a, b) => a.id - b.id));
    return this.brokerList;
  }

  broker(id: BrokerId): BrokerRecord | undefined {
    return this.brokersById.get(id);
  }

  /** The broker's state (see BrokerState), undefined when it never registered. */
  brokerState(id: BrokerId): BrokerState | undefined {
    const broker = this.brokersById.get(id);
    if (broker === undefined) return undefined;
    if (broker.decommissioning) return (this.replicaCounts().get(id) ?? 0) > 0 ? 'DECOMMISSIONING' : 'DECOMMISSIONED';
    return broker.fenced ? 'FENCED' : 'LIVE';
  }

  /** Topics by name, each with its partitions in order. Cheap: rebuilt only after a change. */
  topics(): readonly ClusterTopic[] {
    this.topicList ??= Object.freeze([...this.topicsByName.keys()].sort().map((name) => this.snapshotOf(this.topicsByName.get(name)!)));
    return this.topicList;
  }

  topic(name: string): ClusterTopic | undefined {
    const state = this.topicsByName.get(name);
    return state === undefined ? undefined : this.snapshotOf(state);
  }

  partitionByGroup(groupId: GroupNumber): ClusterPartition | undefined {
    return this.partitionsByGroupId.get(groupId);
  }

  /**
   * Replicas per broker, counting each partition's replicas and reassignment target together (the
   * load a broker holds now or is about to). Every registered broker has an entry.
   */
  replicaCounts(): ReadonlyMap<BrokerId, number> {
    return this.derive().replicaCounts;
  }

  /**
   * Preferred leaderships per broker: the first of each partition's target while it is reassigned,
   * else of its replicas. Every registered broker has an entry.
   */
  preferredLeaderCounts(): ReadonlyMap<BrokerId, number> {
    return this.derive().leaderCounts;
  }

  close(): void {
    this.db.close();
  }

  // ---- decisions: validate a command against the current state, list its changes ----

  private decide(command: ControllerCommand): Outcome {
    switch (command.type) {
      case 'registerBroker':
        return this.decideRegisterBroker(command);
      case 'fenceBroker':
        return this.decideFenceBroker(command);
      case 'createTopic':
        return this.decideCreateTopic(command);
      case 'deleteTopic':
        return this.topicsByName.has(command.name)
          ? ok([{ kind: 'deleteTopic', name: command.name }])
          : refused('UNKNOWN_TOPIC_OR_PARTITION', `topic ${command.name} does not exist`);
      case 'addPartitions':
        return this.decideAddPartitions(command);
      case 'alterTopicConfigs':
        return this.decideAlterTopicConfigs(command);
      case 'leaderUpdates':
        return this.decideLeaderUpdates(command.updates);
      case 'reassign':
        return this.decideReassign(command.reassignments);
      case 'reassignmentDone':
        return this.decideReassignmentDone(command);
      case 'decommissionBroker':
        return this.decideDecommission(command);
    }
  }

  private decideRegisterBroker({ broker }: CommandOf<'registerBroker'>): Outcome {
    if (!isBrokerId(broker.id)) return refused('INVALID_REQUEST', `broker id ${broker.id} must be at least 1`);
    const decommissioning = this.brokersById.get(broker.id)?.decommissioning ?? false;
    return ok([{ kind: 'broker', broker: Object.freeze({ ...broker, fenced: false, decommissioning }) }]);
  }

  private decideFenceBroker({ brokerId, fenced }: CommandOf<'fenceBroker'>): Outcome {
    const broker = this.brokersById.get(brokerId);
    if (broker === undefined) return refused('BROKER_NOT_AVAILABLE', `broker ${brokerId} is not registered`);
    return ok([{ kind: 'broker', broker: Object.freeze({ ...broker, fenced }) }]);
  }

  private decideCreateTopic(command: CommandOf<'createTopic'>): Outcome {
    const { name, topicId, partitions } = command;
    if (name === '') return refused('INVALID_TOPIC_EXCEPTION', 'the topic name is empty');
    if (this.topicsByName.has(name)) return refused('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    if (topicId === '' || [...this.topicsByName.values()].some((topic) => topic.topicId === topicId)) {
      return refused('INVALID_REQUEST', `topic id '${topicId}' is empty or in use`);
    }
    const refusal = this.checkNewPartitions(name, 0, partitions);
    if (refusal !== null) return refusal;
    const topic: ClusterTopic = {
      name,
      topicId,
      createdMs: command.createdMs,
      configs: sortedRecord(command.configs),
      partitions: partitions.map((placement) => newPartition(name, placement)),
    };
    return ok([{ kind: 'createTopic', topic }, this.nextGroupIdChange(partitions)]);
  }

  private decideAddPartitions({ name, partitions }: CommandOf<'addPartitions'>): Outcome {
    const topic = this.topicsByName.get(name);
    if (topic === undefined) return refused('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    const refusal = this.checkNewPartitions(name, topic.partitions.length, partitions);
    if (refusal !== null) return refusal;
    const changes: Change[] = partitions.map((placement) => ({ kind: 'partition', partition: newPartition(name, placement) }));
    changes.push(this.nextGroupIdChange(partitions));
    return ok(changes);
  }

  /** New partitions number on from `firstPartition`, name valid replicas and fresh, distinct group ids. */
  private checkNewPartitions(name: string, firstPartition: number, partitions: readonly NewPartitionPlacement[]): Outcome | null {
    if (partitions.length === 0) return refused('INVALID_PARTITIONS', `no partitions given for topic ${name}`);
    const groupIds = new Set<GroupNumber>();
    for (const [index, placement] of partitions.entries()) {
      if (placement.partition !== firstPartition + index) {
        return refused('INVALID_PARTITIONS', `partition ${placement.partition} of topic ${name} should be ${firstPartition + index}`);
      }
      const replicaRefusal = this.checkReplicaList(placement.replicas, `replicas of ${name}-${placement.partition}`);
      if (replicaRefusal !== null) return refused('INVALID_REPLICA_ASSIGNMENT', replicaRefusal);
      const { groupId } = placement;
      if (!Number.isInteger(groupId) || groupId < this.nextGroup || groupId > GROUP_ID_MAX || groupIds.has(groupId)) {
        return refused('INVALID_REQUEST', `group id ${groupId} of ${name}-${placement.partition} is used, repeated or below the next group id ${this.nextGroup}`);
      }
      groupIds.add(groupId);
    }
    return null;
  }

  private nextGroupIdChange(partitions: readonly NewPartitionPlacement[]): Change {
    return { kind: 'nextGroupId', nextGroupId: Math.max(...partitions.map((placement) => placement.groupId)) + 1 };
  }

  /**
   * Why a replica list is not acceptable, or null: non-empty, distinct, registered brokers. A
   * reassignment target (`target` given) also names no decommissioning broker nor the one leaving.
   */
  private checkReplicaList(replicas: readonly BrokerId[], what: string, target?: { readonly leaving: BrokerId }): string | null {
    if (replicas.length === 0) return `${what} are empty`;
    if (new Set(replicas).size !== replicas.length) return `${what} repeat a broker: ${replicas.join(',')}`;
    for (const id of replicas) {
      const broker = this.brokersById.get(id);
      if (broker === undefined) return `${what} name broker ${id}, which is not registered`;
      if (target !== undefined && (broker.decommissioning || id === target.leaving)) {
        return `${what} name broker ${id}, which is decommissioning`;
      }
    }
    return null;
  }

  private decideAlterTopicConfigs({ name, set, remove }: CommandOf<'alterTopicConfigs'>): Outcome {
    const topic = this.topicsByName.get(name);
    if (topic === undefined) return refused('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    const configs = new Map(Object.entries(topic.configs));
    for (const key of remove) configs.delete(key);
    for (const [key, value] of Object.entries(set)) configs.set(key, value);
    return ok([{ kind: 'configs', name, configs: sortedRecord(Object.fromEntries(configs)) }]);
  }

  private decideLeaderUpdates(updates: readonly LeaderUpdate[]): Outcome {
    const pending = new Map<GroupNumber, ClusterPartition>();
    for (const update of updates) {
      const partition = pending.get(update.groupId) ?? this.partitionsByGroupId.get(update.groupId);
      // A group deleted since the leader reported it, or an older term: nothing to learn.
      if (partition === undefined || update.leaderEpoch < partition.leaderEpoch) continue;
      if (partition.leaderId === update.leaderId && partition.leaderEpoch === update.leaderEpoch) continue;
      pending.set(update.groupId, { ...partition, leaderId: update.leaderId, leaderEpoch: update.leaderEpoch });
    }
    return ok([...pending.values()].map((partition) => ({ kind: 'partition', partition })));
  }

  /** Each reassignment applies on its own; see ApplyResult.items. */
  private decideReassign(reassignments: readonly Reassignment[]): Outcome {
    const pending = new Map<GroupNumber, ClusterPartition>();
    const items: ApplyResult[] = [];
    for (const reassignment of reassignments) {
      const partition = pending.get(reassignment.groupId) ?? this.partitionsByGroupId.get(reassignment.groupId);
      const refusal = this.checkReassignment(partition, reassignment, undefined);
      if (refusal !== null) {
        items.push(refusal.result);
      } else {
        if (!sameList(partition!.replicas, reassignment.targetReplicas)) {
          pending.set(reassignment.groupId, { ...partition!, targetReplicas: [...reassignment.targetReplicas] });
        }
        items.push(APPLIED_OK);
      }
    }
    const firstRefusal = items.find((item) => item.errorCode !== 'NONE') ?? APPLIED_OK;
    return {
      result: { errorCode: firstRefusal.errorCode, errorMessage: firstRefusal.errorMessage, items },
      changes: [...pending.values()].map((partition) => ({ kind: 'partition', partition })),
    };
  }

  /** Why a reassignment cannot start, or null. `leaving` is a broker the target must not name. */
  private checkReassignment(partition: ClusterPartition | undefined, reassignment: Reassignment, leaving: BrokerId | undefined): Outcome | null {
    if (partition === undefined) return refused('UNKNOWN_TOPIC_OR_PARTITION', `no partition has group id ${reassignment.groupId}`);
    const what = `${partition.topic}-${partition.partition}`;
    if (partition.targetReplicas !== null) {
      return refused('REASSIGNMENT_IN_PROGRESS', `${what} is moving to ${partition.targetReplicas.join(',')} already`);
    }
    const refusal = this.checkReplicaList(reassignment.targetReplicas, `target replicas of ${what}`, { leaving: leaving ?? 0 });
    return refusal === null ? null : refused('INVALID_REPLICA_ASSIGNMENT', refusal);
  }

  private decideReassignmentDone({ groupId, replicas }: CommandOf<'reassignmentDone'>): Outcome {
    const partition = this.partitionsByGroupId.get(groupId);
    if (partition === undefined) return refused('UNKNOWN_TOPIC_OR_PARTITION', `no partition has group id ${groupId}`);
    const what = `${partition.topic}-${partition.partition}`;
    const target = partition.targetReplicas;
    if (target === null) return refused('INVALID_REQUEST', `${what} is not being reassigned`);
    if (!sameSet(target, replicas)) {
      return refused('INVALID_REPLICA_ASSIGNMENT', `${what} moves to ${target.join(',')}, not to ${replicas.join(',')}`);
    }
    return ok([{ kind: 'partition', partition: { ...partition, replicas: target, targetReplicas: null } }]);
  }

  /** All or nothing: the broker is marked and every reassignment starts, or nothing changes. */
  private decideDecommission({ brokerId, reassignments }: CommandOf<'decommissionBroker'>): Outcome {
    const broker = this.brokersById.get(brokerId);
    if (broker === undefined) return refused('BROKER_NOT_AVAILABLE', `broker ${brokerId} is not registered`);
    const changes: Change[] = [];
    const groupIds = new Set<GroupNumber>();
    for (const reassignment of reassignments) {
      if (groupIds.has(reassignment.groupId)) return refused('INVALID_REQUEST', `group ${reassignment.groupId} is reassigned twice`);
      groupIds.add(reassignment.groupId);
      const partition = this.partitionsByGroupId.get(reassignment.groupId);
      const refusal = this.checkReassignment(partition, reassignment, brokerId);
      if (refusal !== null) return refusal;
      if (!sameList(partition!.replicas, reassignment.targetReplicas)) {
        changes.push({ kind: 'partition', partition: { ...partition!, targetReplicas: [...reassignment.targetReplicas] } });
      }
    }
    changes.push({ kind: 'broker', broker: Object.freeze({ ...broker, decommissioning: true }) });
    return ok(changes);
  }

  // ---- writing: SQLite inside the transaction, then memory ----

  private prepareWrites(): (change: Change) => void {
    const db = this.db;
    const putPartition = db.prepare(
      `INSERT INTO partitions (topic, partition, group_id, initial_replicas, replicas, target_replicas, leader_id, leader_epoch)
       VALUES (@topic, @partition, @groupId, @initialReplicas, @replicas, @targetReplicas, @leaderId, @leaderEpoch)
       ON CONFLICT(topic, partition) DO UPDATE SET group_id = excluded.group_id, initial_replicas = excluded.initial_replicas,
         replicas = excluded.replicas, target_replicas = excluded.target_replicas,
         leader_id = excluded.leader_id, leader_epoch = excluded.leader_epoch`,
    );
    const writePartition = (partition: ClusterPartition): void => {
      checkPartitionInvariants(partition);
      putPartition.run({
        ...partition,
        initialReplicas: JSON.stringify(partition.initialReplicas),
        replicas: JSON.stringify(partition.replicas),
        targetReplicas: partition.targetReplicas === null ? null : JSON.stringify(partition.targetReplicas),
      });
    };
    const writeConfigs = (name: string, configs: Readonly<Record<string, string>>): void => {
      db.prepare('DELETE FROM topic_configs WHERE topic = ?').run(name);
      const insert = db.prepare('INSERT INTO topic_configs (topic, name, value) VALUES (?, ?, ?)');
      for (const [key, value] of Object.entries(configs)) insert.run(name, key, value);
    };
    return (change) => {
      switch (change.kind) {
        case 'broker': {
          const { broker } = change;
          db.prepare(
            `INSERT OR REPLACE INTO brokers (id, host, port, internal_address, rack, incarnation, fenced, decommissioning)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(broker.id, broker.host, broker.port, broker.internalAddress, broker.rack, broker.incarnation, Number(broker.fenced), Number(broker.decommissioning));
          return;
        }
        case 'createTopic':
          db.prepare('INSERT INTO topics (name, topic_id, created_ms) VALUES (?, ?, ?)').run(change.topic.name, change.topic.topicId, change.topic.createdMs);
          change.topic.partitions.forEach(writePartition);
          writeConfigs(change.topic.name, change.topic.configs);
          return;
        case 'deleteTopic':
          db.prepare('DELETE FROM topics WHERE name = ?').run(change.name);
          return;
        case 'partition':
          writePartition(change.partition);
          return;
        case 'configs':
          writeConfigs(change.name, change.configs);
          return;
        case 'nextGroupId':
          this.writeMeta('next_group_id', change.nextGroupId);
          return;
      }
    };
  }

  private writeMeta(key: string, value: number): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  private applyToMemory(change: Change): void {
    switch (change.kind) {
      case 'broker':
        this.brokersById.set(change.broker.id, change.broker);
        this.brokerList = null;
        break;
      case 'createTopic': {
        const { topic } = change;
        this.topicsByName.set(topic.name, { ...topic, partitions: [], snapshot: null });
        for (const partition of topic.partitions) this.putPartition(partition);
        break;
      }
      case 'deleteTopic':
        for (const partition of this.topicsByName.get(change.name)!.partitions) this.partitionsByGroupId.delete(partition.groupId);
        this.topicsByName.delete(change.name);
        break;
      case 'partition':
        this.putPartition(change.partition);
        break;
      case 'configs': {
        const topic = this.topicsByName.get(change.name)!;
        topic.configs = change.configs;
        topic.snapshot = null;
        break;
      }
      case 'nextGroupId':
        assert.ok(change.nextGroupId > this.nextGroup, 'the next group id only grows');
        this.nextGroup = change.nextGroupId;
        break;
    }
    this.topicList = null;
  }

  private putPartition(value: ClusterPartition): void {
    const partition = freezePartition(value);
    const topic = this.topicsByName.get(partition.topic);
    assert.ok(topic !== undefined, `partition of unknown topic ${partition.topic}`);
    assert.ok(partition.partition <= topic.partitions.length, `partitions of ${partition.topic} are numbered without gaps`);
    const previous = this.partitionsByGroupId.get(partition.groupId);
    assert.ok(previous === undefined || (previous.topic === partition.topic && previous.partition === partition.partition), `group id ${partition.groupId} is unique`);
    topic.partitions[partition.partition] = partition;
    topic.snapshot = null;
    this.partitionsByGroupId.set(partition.groupId, partition);
  }

  private snapshotOf(state: TopicState): ClusterTopic {
    state.snapshot ??= Object.freeze({
      name: state.name,
      topicId: state.topicId,
      createdMs: state.createdMs,
      configs: state.configs,
      partitions: Object.freeze(state.partitions.slice()),
    });
    return state.snapshot;
  }

  private derive(): Derived {
    if (this.derived?.version === this.changeCount) return this.derived;
    const replicaCounts = new Map<BrokerId, number>();
    const leaderCounts = new Map<BrokerId, number>();
    for (const id of this.brokersById.keys()) {
      replicaCounts.set(id, 0);
      leaderCounts.set(id, 0);
    }
    for (const partition of this.partitionsByGroupId.values()) {
      const members = new Set([...partition.replicas, ...(partition.targetReplicas ?? [])]);
      for (const id of members) replicaCounts.set(id, (replicaCounts.get(id) ?? 0) + 1);
      const preferred = (partition.targetReplicas ?? partition.replicas)[0];
      leaderCounts.set(preferred, (leaderCounts.get(preferred) ?? 0) + 1);
    }
    this.derived = { version: this.changeCount, replicaCounts, leaderCounts };
    return this.derived;
  }

  // ---- loading ----

  private load(): void {
    const meta = new Map((this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: number }[]).map((row) => [row.key, row.value]));
    if (meta.get('schema_version') !== SCHEMA_VERSION) {
      throw new Error(`cluster store schema version ${meta.get('schema_version')} is not supported (expected ${SCHEMA_VERSION})`);
    }
    this.applied = meta.get('applied_offset')!;
    this.nextGroup = meta.get('next_group_id')!;
    for (const row of this.db.prepare('SELECT * FROM brokers ORDER BY id').all() as BrokerRow[]) {
      this.brokersById.set(row.id, brokerFromRow(row));
    }
    const configs = new Map<string, Record<string, string>>();
    for (const row of this.db.prepare('SELECT topic, name, value FROM topic_configs ORDER BY topic, name').all() as ConfigRow[]) {
      const entries = configs.get(row.topic) ?? {};
      entries[row.name] = row.value;
      configs.set(row.topic, entries);
    }
    for (const row of this.db.prepare('SELECT name, topic_id, created_ms FROM topics').all() as TopicRow[]) {
      const topicConfigs = Object.freeze(configs.get(row.name) ?? {});
      this.topicsByName.set(row.name, { name: row.name, topicId: row.topic_id, createdMs: row.created_ms, configs: topicConfigs, partitions: [], snapshot: null });
    }
    for (const row of this.db.prepare('SELECT * FROM partitions ORDER BY topic, partition').all() as PartitionRow[]) {
      assert.ok(row.group_id < this.nextGroup, `group id ${row.group_id} is below the next group id ${this.nextGroup}`);
      this.putPartition(partitionFromRow(row));
    }
  }
}

function createSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS brokers (
      id INTEGER PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL, internal_address TEXT NOT NULL,
      rack TEXT NOT NULL, incarnation INTEGER NOT NULL, fenced INTEGER NOT NULL, decommissioning INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS topics (
      name TEXT PRIMARY KEY, topic_id TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS partitions (
      topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
      partition INTEGER NOT NULL, group_id INTEGER NOT NULL UNIQUE,
      initial_replicas TEXT NOT NULL, replicas TEXT NOT NULL, target_replicas TEXT,
      leader_id INTEGER NOT NULL, leader_epoch INTEGER NOT NULL, PRIMARY KEY (topic, partition));
    CREATE TABLE IF NOT EXISTS topic_configs (
      topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
      name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (topic, name));
  `);
  db.pragma('foreign_keys = ON');
  const insert = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
  db.transaction(() => {
    insert.run('schema_version', SCHEMA_VERSION);
    insert.run('applied_offset', -1);
    insert.run('next_group_id', FIRST_GROUP_ID);
  })();
}

interface BrokerRow {
  id: number;
  host: string;
  port: number;
  internal_address: string;
  rack: string;
  incarnation: number;
  fenced: number;
  decommissioning: number;
}

interface TopicRow {
  name: string;
  topic_id: string;
  created_ms: number;
}

interface PartitionRow {
  topic: string;
  partition: number;
  group_id: number;
  initial_replicas: string;
  replicas: string;
  target_replicas: string | null;
  leader_id: number;
  leader_epoch: number;
}

interface ConfigRow {
  topic: string;
  name: string;
  value: string;
}

function brokerFromRow(row: BrokerRow): BrokerRecord {
  return Object.freeze({
    id: row.id,
    host: row.host,
    port: row.port,
    internalAddress: row.internal_address,
    rack: row.rack,
    incarnation: row.incarnation,
    fenced: row.fenced !== 0,
    decommissioning: row.decommissioning !== 0,
  });
}

function partitionFromRow(row: PartitionRow): ClusterPartition {
  return {
    topic: row.topic,
    partition: row.partition,
    groupId: row.group_id,
    initialReplicas: JSON.parse(row.initial_replicas) as number[],
    replicas: JSON.parse(row.replicas) as number[],
    targetReplicas: row.target_replicas === null ? null : (JSON.parse(row.target_replicas) as number[]),
    leaderId: row.leader_id,
    leaderEpoch: row.leader_epoch,
  };
}

function newPartition(topic: string, placement: NewPartitionPlacement): ClusterPartition {
  return {
    topic,
    partition: placement.partition,
    groupId: placement.groupId,
    initialReplicas: [...placement.replicas],
    replicas: [...placement.replicas],
    targetReplicas: null,
    leaderId: 0,
    leaderEpoch: 0,
  };
}

function checkPartitionInvariants(partition: ClusterPartition): void {
  assert.ok(partition.replicas.length > 0, `${partition.topic}-${partition.partition} has replicas`);
  assert.equal(new Set(partition.replicas).size, partition.replicas.length, `replicas of ${partition.topic}-${partition.partition} are distinct`);
  if (partition.targetReplicas !== null) {
    assert.ok(partition.targetReplicas.length > 0, `target of ${partition.topic}-${partition.partition} is not empty`);
    assert.equal(new Set(partition.targetReplicas).size, partition.targetReplicas.length, `target of ${partition.topic}-${partition.partition} is distinct`);
  }
  assert.ok(partition.groupId >= FIRST_GROUP_ID && partition.groupId <= GROUP_ID_MAX, `group id ${partition.groupId} is in range`);
}

function freezePartition(partition: ClusterPartition): ClusterPartition {
  return Object.freeze({
    ...partition,
    initialReplicas: Object.freeze([...partition.initialReplicas]),
    replicas: Object.freeze([...partition.replicas]),
    targetReplicas: partition.targetReplicas === null ? null : Object.freeze([...partition.targetReplicas]),
  });
}

function isBrokerId(id: number): boolean {
  return Number.isInteger(id) && id >= 1;
}

/** The same entries with keys in sorted order, frozen (so every store lists them alike). */
function sortedRecord(record: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return Object.freeze(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const set = new Set(a);
  return set.size === a.length && a.length === b.length && new Set(b).size === b.length && b.every((id) => set.has(id));
}
