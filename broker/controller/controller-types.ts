/**
 * The controller's vocabulary: the records of the cluster metadata (what broker/controller/
 * cluster-store.ts keeps in SQLite) and the commands of the controller's Raft log that change
 * them. Commands are encoded with proto/controller.proto, one per record of the controller log,
 * and applied in log order on every broker, so every broker's SQLite holds the same metadata.
 *
 * Apply is deterministic and validating: a command that no longer makes sense when it is applied
 * (a topic created twice by two leaders of different terms) changes nothing and yields an error
 * result, the same on every broker.
 */
import type { ErrorCode } from '../../proto/brook-types.js';

export type BrokerId = number;
/**
 * LIVE: registered and heartbeating. FENCED: its lease expired. DECOMMISSIONING: its replicas
 * are moving away. DECOMMISSIONED: decommissioning and no partition lists it any more (in
 * replicas or a reassignment target), so it may be shut down for good.
 */
export type BrokerState = 'LIVE' | 'FENCED' | 'DECOMMISSIONING' | 'DECOMMISSIONED';
/** Raft group number on the peer transport; 0 is the controller, partitions get 1, 2, ... */
export type GroupNumber = number;
export const CONTROLLER_GROUP: GroupNumber = 0;

export interface BrokerRecord {
  readonly id: BrokerId;
  /** Where clients reach it. */
  readonly host: string;
  readonly port: number;
  /** host:port of its internal (broker-to-broker) listener. */
  readonly internalAddress: string;
  /** Rack or zone; '' when not configured. */
  readonly rack: string;
  /** Changes with every start of the broker process (its start time in ms). */
  readonly incarnation: number;
  /** Lease expired: the broker is down or cut off. New replicas are not placed on it. */
  readonly fenced: boolean;
  /** Its replicas are being moved away; new replicas are not placed on it. */
  readonly decommissioning: boolean;
}

export interface ClusterPartition {
  readonly topic: string;
  readonly partition: number;
  /** The partition's Raft group on the transport; unique in the cluster, never reused. */
  readonly groupId: GroupNumber;
  /** The group's first configuration: every replica, including ones added later, opens with it. */
  readonly initialReplicas: readonly BrokerId[];
  /** The committed replica set; the first is the preferred leader. */
  readonly replicas: readonly BrokerId[];
  /** While a reassignment runs: the set it moves to (preferred leader first); otherwise null. */
  readonly targetReplicas: readonly BrokerId[] | null;
  /** Last leader reported to the controller (0 = none known) and its epoch (Raft term). */
  readonly leaderId: BrokerId;
  readonly leaderEpoch: number;
}

export interface ClusterTopic {
  readonly name: string;
  readonly topicId: string;
  readonly createdMs: number;
  /** Topic configuration entries set on the topic (not the defaults). */
  readonly configs: Readonly<Record<string, string>>;
  /** In partition order. */
  readonly partitions: readonly ClusterPartition[];
}

export interface NewPartitionPlacement {
  readonly partition: number;
  readonly groupId: GroupNumber;
  readonly replicas: readonly BrokerId[];
}

export interface LeaderUpdate {
  readonly groupId: GroupNumber;
  readonly leaderId: BrokerId;
  readonly leaderEpoch: number;
}

export interface Reassignment {
  readonly groupId: GroupNumber;
  readonly targetReplicas: readonly BrokerId[];
}

/** One command of the controller log. */
export type ControllerCommand =
  | { readonly type: 'registerBroker'; readonly broker: Omit<BrokerRecord, 'fenced' | 'decommissioning'> }
  | { readonly type: 'fenceBroker'; readonly brokerId: BrokerId; readonly fenced: boolean }
  | {
      readonly type: 'createTopic';
      readonly name: string;
      readonly topicId: string;
      readonly createdMs: number;
      readonly configs: Readonly<Record<string, string>>;
      readonly partitions: readonly NewPartitionPlacement[];
    }
  | { readonly type: 'deleteTopic'; readonly name: string }
  | { readonly type: 'addPartitions'; readonly name: string; readonly partitions: readonly NewPartitionPlacement[] }
  | { readonly type: 'alterTopicConfigs'; readonly name: string; readonly set: Readonly<Record<string, string>>; readonly remove: readonly string[] }
  /** Only updates whose epoch is >= the stored one take effect. */
  | { readonly type: 'leaderUpdates'; readonly updates: readonly LeaderUpdate[] }
  | { readonly type: 'reassign'; readonly reassignments: readonly Reassignment[] }
  /** The partition's leader finished a reassignment: replicas := its target, target := null. */
  | { readonly type: 'reassignmentDone'; readonly groupId: GroupNumber; readonly replicas: readonly BrokerId[] }
  /** Marks the broker decommissioning and starts the given reassignments away from it. */
  | { readonly type: 'decommissionBroker'; readonly brokerId: BrokerId; readonly reassignments: readonly Reassignment[] };

/** What applying a command did; the same on every broker. */
export interface ApplyResult {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  /**
   * Only for 'reassign', whose reassignments apply one by one: one result per reassignment, in
   * command order. Those that are NONE took effect even when others were refused; the top-level
   * code is then the first refusal's.
   */
  readonly items?: readonly ApplyResult[];
}

export const APPLIED_OK: ApplyResult = Object.freeze({ errorCode: 'NONE', errorMessage: '' });
