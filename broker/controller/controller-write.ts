/**
 * The writes a broker asks of the controller leader, as values (what Controller's public methods
 * build, what the leader's queue holds) and as proto/controller-service.proto messages (what a
 * follower forwards). Decoding a forwarded request checks every limit, so the leader never plans
 * with an oversized or malformed request.
 */
import { ERROR_CODE_VALUES, type ErrorCode } from '../../proto/brook-types.js';
import { TopicError } from '../topics/topic-error.js';
import {
  ADDRESS_TEXT_LENGTH_MAX,
  CONFIG_ENTRIES_MAX,
  CONFIG_TEXT_LENGTH_MAX,
  LEADER_UPDATES_PER_COMMAND_MAX,
  REASSIGN_PARTITIONS_MAX,
  REPLICAS_PER_PARTITION_MAX,
} from './controller-limits.js';
import type { ApplyResult, BrokerRecord, LeaderUpdate } from './controller-types.js';

export interface NewTopicRequest {
  readonly name: string;
  /** 0 = the broker default (num.partitions). */
  readonly numPartitions: number;
  /** 0 = default.replication.factor, or min(3, brokers) when that is 0. */
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  /** One of Brook's own reserved topics (INTERNAL_TOPIC_NAMES), created by the broker itself, never by a client. */
  readonly internal?: boolean;
}

export interface PartitionReassignmentRequest {
  readonly topic: string;
  readonly partition: number;
  /** The new replica set, preferred leader first. */
  readonly replicas: readonly number[];
}

/** One write, handled by the controller leader one at a time. */
export type ControllerWrite =
  | { readonly kind: 'createTopic'; readonly spec: NewTopicRequest; readonly validateOnly: boolean }
  | { readonly kind: 'deleteTopic'; readonly name: string }
  | {
      readonly kind: 'alterTopicConfigs';
      readonly name: string;
      readonly set: Readonly<Record<string, string>>;
      readonly remove: readonly string[];
      readonly validateOnly: boolean;
    }
  | { readonly kind: 'createPartitions'; readonly name: string; readonly totalCount: number; readonly validateOnly: boolean }
  | { readonly kind: 'reassign'; readonly partitions: readonly PartitionReassignmentRequest[] }
  | { readonly kind: 'decommission'; readonly brokerId: number }
  | { readonly kind: 'reassignmentDone'; readonly groupId: number; readonly replicas: readonly number[] }
  | { readonly kind: 'registerBroker'; readonly broker: Omit<BrokerRecord, 'fenced' | 'decommissioning'> }
  /** The leader's own: fence a broker whose lease expired, or unfence one that is back. */
  | { readonly kind: 'fence'; readonly brokerId: number; readonly fenced: boolean }
  /** The leader's own: leaderships reported by heartbeats that differ from the metadata. */
  | { readonly kind: 'leaderUpdates'; readonly updates: readonly LeaderUpdate[] };

/** Writes a broker may forward; fence and leaderUpdates arise on the leader only. */
export type ForwardableWrite = Exclude<ControllerWrite, { kind: 'fence' } | { kind: 'leaderUpdates' }>;

/** What the leader answers. */
export interface WriteOutcome {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  /** Controller log offset of the applied command; -1 when nothing was proposed. */
  readonly appliedOffset: number;
  /** Reassign: one result per requested partition, in request order. */
  readonly results: readonly ApplyResult[];
  /** Decommission: partitions now moving away from the broker. */
  readonly partitionsMoved: number;
}

export function outcomeOf(errorCode: ErrorCode, errorMessage: string, extra: Partial<Omit<WriteOutcome, 'errorCode' | 'errorMessage'>> = {}): WriteOutcome {
  return { errorCode, errorMessage, appliedOffset: extra.appliedOffset ?? -1, results: extra.results ?? [], partitionsMoved: extra.partitionsMoved ?? 0 };
}

// ---- wire shapes (proto-loader: lowerCamelCase, longs as Number, oneofs as a virtual field) ----

export interface WireWriteRequest {
  clusterId: string;
  fromBrokerId: number;
  request?: string;
  createTopic?: { name: string; numPartitions: number; replicationFactor: number; configs: Record<string, string>; validateOnly: boolean; internal?: boolean };
  deleteTopic?: { name: string };
  alterTopicConfigs?: { name: string; set: Record<string, string>; remove: string[]; validateOnly: boolean };
  createPartitions?: { name: string; totalCount: number; validateOnly: boolean };
  reassign?: { partitions: { topic: string; partition: number; replicas: number[] }[] };
  decommission?: { brokerId: number };
  reassignmentDone?: { groupId: number; replicas: number[] };
  registerBroker?: { brokerId: number; host: string; port: number; internalAddress: string; rack: string; incarnation: number };
}

export interface WireResult {
  errorCode: number;
  errorMessage: string;
}

export interface WireWriteResponse {
  errorCode: number;
  errorMessage: string;
  leaderHint: number;
  appliedOffset: number;
  results: WireResult[];
  partitionsMoved: number;
}

const ERROR_CODE_BY_VALUE: ReadonlyMap<number, ErrorCode> = new Map(Object.entries(ERROR_CODE_VALUES).map(([name, value]) => [value, name as ErrorCode]));

/** An error code from its wire number; unknown numbers read as UNKNOWN_SERVER_ERROR. */
export function errorCodeOf(value: number): ErrorCode {
  return ERROR_CODE_BY_VALUE.get(value) ?? 'UNKNOWN_SERVER_ERROR';
}

export function writeToWire(write: ForwardableWrite, clusterId: string, fromBrokerId: number): WireWriteRequest {
  const base = { clusterId, fromBrokerId };
  switch (write.kind) {
    case 'createTopic':
      return { ...base, createTopic: { ...write.spec, configs: { ...write.spec.configs }, validateOnly: write.validateOnly } };
    case 'deleteTopic':
      return { ...base, deleteTopic: { name: write.name } };
    case 'alterTopicConfigs':
      return { ...base, alterTopicConfigs: { name: write.name, set: { ...write.set }, remove: [...write.remove], validateOnly: write.validateOnly } };
    case 'createPartitions':
      return { ...base, createPartitions: { name: write.name, totalCount: write.totalCount, validateOnly: write.validateOnly } };
    case 'reassign':
      return { ...base, reassign: { partitions: write.partitions.map((item) => ({ topic: item.topic, partition: item.partition, replicas: [...item.replicas] })) } };
    case 'decommission':
      return { ...base, decommission: { brokerId: write.brokerId } };
    case 'reassignmentDone':
      return { ...base, reassignmentDone: { groupId: write.groupId, replicas: [...write.replicas] } };
    case 'registerBroker': {
      const { id, ...rest } = write.broker;
      return { ...base, registerBroker: { brokerId: id, ...rest } };
    }
  }
}

/** The write a forwarded request carries; throws TopicError(INVALID_REQUEST) when it carries none. */
export function writeFromWire(wire: WireWriteRequest): ForwardableWrite {
  switch (wire.request) {
    case 'createTopic': {
      const body = present(wire.createTopic);
      return {
        kind: 'createTopic',
        spec: { name: body.name, numPartitions: body.numPartitions, replicationFactor: body.replicationFactor, configs: body.configs, internal: body.internal === true },
        validateOnly: body.validateOnly,
      };
    }
    case 'deleteTopic':
      return { kind: 'deleteTopic', name: present(wire.deleteTopic).name };
    case 'alterTopicConfigs': {
      const body = present(wire.alterTopicConfigs);
      return { kind: 'alterTopicConfigs', name: body.name, set: body.set, remove: body.remove, validateOnly: body.validateOnly };
    }
    case 'createPartitions': {
      const body = present(wire.createPartitions);
      return { kind: 'createPartitions', name: body.name, totalCount: body.totalCount, validateOnly: body.validateOnly };
    }
    case 'reassign':
      return { kind: 'reassign', partitions: present(wire.reassign).partitions };
    case 'decommission':
      return { kind: 'decommission', brokerId: present(wire.decommission).brokerId };
    case 'reassignmentDone': {
      const body = present(wire.reassignmentDone);
      return { kind: 'reassignmentDone', groupId: body.groupId, replicas: body.replicas };
    }
    case 'registerBroker': {
      const body = present(wire.registerBroker);
      return {
        kind: 'registerBroker',
        broker: { id: body.brokerId, host: body.host, port: body.port, internalAddress: body.internalAddress, rack: body.rack, incarnation: body.incarnation },
      };
    }
    default:
      throw invalid(`unknown controller write ${JSON.stringify(wire.request)}`);
  }
}

export function outcomeToWire(outcome: WriteOutcome): WireWriteResponse {
  return {
    errorCode: ERROR_CODE_VALUES[outcome.errorCode],
    errorMessage: outcome.errorMessage,
    leaderHint: 0,
    appliedOffset: outcome.appliedOffset,
    results: outcome.results.map((result) => ({ errorCode: ERROR_CODE_VALUES[result.errorCode], errorMessage: result.errorMessage })),
    partitionsMoved: outcome.partitionsMoved,
  };
}

export function outcomeFromWire(wire: WireWriteResponse): WriteOutcome {
  return {
    errorCode: errorCodeOf(wire.errorCode),
    errorMessage: wire.errorMessage,
    appliedOffset: wire.appliedOffset,
    results: wire.results.map((result) => ({ errorCode: errorCodeOf(result.errorCode), errorMessage: result.errorMessage })),
    partitionsMoved: wire.partitionsMoved,
  };
}

/**
 * Throws TopicError(INVALID_REQUEST) when a write exceeds a request limit: forwarded writes and
 * local ones alike are checked before they reach the leader's queue. Whether names and values
 * are valid is the planner's to say.
 */
export function checkWriteLimits(write: ControllerWrite): void {
  switch (write.kind) {
    case 'createTopic':
      checkConfigs(write.spec.configs);
      return;
    case 'alterTopicConfigs':
      checkConfigs(write.set);
      if (write.remove.length > CONFIG_ENTRIES_MAX) throw invalid(`more than ${CONFIG_ENTRIES_MAX} config names to remove`);
      for (const name of write.remove) checkText(name, CONFIG_TEXT_LENGTH_MAX, 'config name');
      return;
    case 'reassign':
      if (write.partitions.length > REASSIGN_PARTITIONS_MAX) throw invalid(`a reassignment may name at most ${REASSIGN_PARTITIONS_MAX} partitions, got ${write.partitions.length}`);
      for (const item of write.partitions) checkReplicaList(item.replicas);
      return;
    case 'reassignmentDone':
      checkReplicaList(write.replicas);
      return;
    case 'registerBroker':
      checkText(write.broker.host, ADDRESS_TEXT_LENGTH_MAX, 'host');
      checkText(write.broker.internalAddress, ADDRESS_TEXT_LENGTH_MAX, 'internal address');
      checkText(write.broker.rack, ADDRESS_TEXT_LENGTH_MAX, 'rack');
      return;
    case 'leaderUpdates':
      if (write.updates.length > LEADER_UPDATES_PER_COMMAND_MAX) throw invalid(`more than ${LEADER_UPDATES_PER_COMMAND_MAX} leader updates`);
      return;
    case 'deleteTopic':
    case 'createPartitions':
    case 'decommission':
    case 'fence':
      return;
  }
}

function checkConfigs(configs: Readonly<Record<string, string>>): void {
  const entries = Object.entries(configs);
  if (entries.length > CONFIG_ENTRIES_MAX) throw invalid(`more than ${CONFIG_ENTRIES_MAX} config entries`);
  for (const [name, value] of entries) {
    checkText(name, CONFIG_TEXT_LENGTH_MAX, 'config name');
    checkText(value, CONFIG_TEXT_LENGTH_MAX, `value of config ${name}`);
  }
}

function checkReplicaList(replicas: readonly number[]): void {
  if (replicas.length > REPLICAS_PER_PARTITION_MAX) throw invalid(`a replica list may name at most ${REPLICAS_PER_PARTITION_MAX} brokers, got ${replicas.length}`);
}

function checkText(text: string, lengthMax: number, what: string): void {
  if (typeof text !== 'string' || text.length > lengthMax) throw invalid(`${what} longer than ${lengthMax} characters`);
}

function present<T>(body: T | undefined | null): T {
  if (body === undefined || body === null) throw invalid('the request names a write but carries none');
  return body;
}

function invalid(message: string): TopicError {
  return new TopicError('INVALID_REQUEST', message);
}
