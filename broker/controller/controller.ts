/**
 * The controller runtime of one broker: this broker's member of the controller Raft group (a
 * Replica over `<dir>/log`, group 0 on the peer transport), the ClusterStore that applies the
 * group's committed commands (`<dir>/cluster.sqlite`), and the broker's side of liveness
 * (registration, heartbeats). On the broker that leads the group it is also the controller
 * proper: it validates and places writes one at a time, proposes them as commands, fences
 * brokers whose lease ran out and records the partition leaderships that heartbeats report.
 *
 * A write made on any broker goes to the leader (locally, or forwarded over the internal
 * listener's ControllerService), and resolves only once this broker's own store applied it, so
 * the caller reads its own write. See README.md "Controller runtime".
 *
 * Threading: everything runs on the event loop. The broker's Raft clock ticks the replica (it is
 * registered in the shared GroupIdRegistry); the controller never ticks it itself.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import { NotLeaderError, ReplicaBusyError, ReplicaClosedError } from '../partition/replica-errors.js';
import { Replica } from '../partition/replica.js';
import type { FileHandleCache } from '../storage/file-handle-cache.js';
import { resolveLogConfig, RETENTION_BYTES_UNBOUNDED, RETENTION_MS_FOREVER } from '../storage/log-config.js';
import type { GroupIdRegistry } from '../transport/group-id-registry.js';
import type { PeerService, PeerTransport } from '../transport/peer-transport.js';
import { TopicError } from '../topics/topic-error.js';
import { ConfChangeType, NO_NODE, type RaftConfig } from '../../raft/types.js';
import { baseOffsetNumberAt } from '../../record/batch-header.js';
import { decodeRecords, encodeBatch, iterateBatches } from '../../record/record-batch.js';
import { BrokerLiveness } from './broker-liveness.js';
import { ClusterStore, CLUSTER_STORE_FILE_NAME } from './cluster-store.js';
import { ControllerCodecError, decodeCommand, encodeCommand } from './controller-codec.js';
import {
  APPLY_READ_BYTES_MAX,
  APPLY_WAITERS_MAX,
  COMMAND_BYTES_MAX,
  CONTROLLER_BATCH_BYTES_MAX,
  CONTROLLER_SEGMENT_BYTES,
  CONTROLLER_TAIL_CACHE_BYTES,
  FORWARD_TIMEOUT_MS_DEFAULT,
  HEARTBEAT_INTERVAL_MS_DEFAULT,
  HEARTBEAT_LEADERSHIPS_MAX,
  LEADER_QUEUE_LENGTH_MAX,
  LEADER_UPDATE_LINGER_MS,
  LEADER_UPDATES_PER_COMMAND_MAX,
  LEADERSHIP_HANDOVER_WAIT_MS,
  LEADERSHIP_HEARTBEAT_DELAY_MS,
  LEASE_MS_DEFAULT,
  WRITE_RETRY_BACKOFF_MS,
} from './controller-limits.js';
import { planWrite, type PlanContext } from './controller-planner.js';
import { ControllerClients, ControllerRpcRefusal, controllerService, type ControllerServiceHandler, type WireHeartbeatRequest, type WireHeartbeatResponse } from './controller-rpc.js';
import { CONTROLLER_GROUP, type ApplyResult, type BrokerId, type BrokerState, type LeaderUpdate } from './controller-types.js';
import {
  checkWriteLimits,
  errorCodeOf,
  outcomeFromWire,
  outcomeOf,
  outcomeToWire,
  writeFromWire,
  writeToWire,
  type ControllerWrite,
  type ForwardableWrite,
  type NewTopicRequest,
  type PartitionReassignmentRequest,
  type WireWriteRequest,
  type WireWriteResponse,
  type WriteOutcome,
} from './controller-write.js';

/** Name of the controller group in the GroupIdRegistry, logs and errors. */
export const CONTROLLER_GROUP_NAME = '__controller';
/** Cluster id assumed when the options name none (the broker's cluster.id default). */
const CLUSTER_ID_DEFAULT = 'brook';

export interface ControllerOptions {
  /** `<data.dir>/controller`: holds `log/` (the replica) and `cluster.sqlite` (the store). */
  readonly dir: string;
  readonly nodeId: BrokerId;
  /** The controller group's voters. */
  readonly voters: readonly BrokerId[];
  /** Every other broker of the cluster: it receives the log (and so the metadata) without a vote. */
  readonly learners: readonly BrokerId[];
  /** What this broker registers: where clients reach it, its internal listener, its rack. */
  readonly self: { readonly host: string; readonly port: number; readonly internalAddress: string; readonly rack: string };
  /** Internal host:port of every broker (this one may be included), for forwarded calls. */
  readonly peerAddresses: ReadonlyMap<BrokerId, string>;
  /** The broker's group table; the controller registers its replica as group 0. */
  readonly groups: GroupIdRegistry<Replica>;
  readonly transport: PeerTransport;
  readonly raftConfig: Omit<RaftConfig, 'id' | 'applied'>;
  /** Topic defaults and limits (num.partitions, topic.partitions.max, topics.max, topic configs). */
  readonly config: BrokerConfig;
  readonly clock: { nowMs(): number };
  readonly files: FileHandleCache;
  readonly logger: Logger;
  /** The partition groups this broker leads now, with their terms (the replica manager's). */
  readonly leaderships: () => readonly LeaderUpdate[];
  /** cluster.id; forwarded calls from another cluster are refused. Default 'brook'. */
  readonly clusterId?: string;
  /** This start of the broker; default: the wall clock at start (ms). */
  readonly incarnation?: number;
  /** broker.heartbeat.interval.ms (default 500). */
  readonly heartbeatIntervalMs?: number;
  /** broker.lease.ms (default 9000). */
  readonly leaseMs?: number;
  /** How long a write may take, forwarding and retries included (default 10 s). */
  readonly forwardTimeoutMs?: number;
  /** default.replication.factor; 0 (the default) = min(3, brokers). */
  readonly defaultReplicationFactor?: number;
}

/** The write cannot be handled here now (not the leader, leadership lost, busy): another attempt may succeed. */
class ControllerUnavailableError extends Error {
  override readonly name = 'ControllerUnavailableError';
  constructor(
    message: string,
    readonly leaderHint: BrokerId,
  ) {
    super(message);
  }
}

/** A wait ran past its deadline. */
class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

interface QueuedWrite {
  readonly write: ControllerWrite;
  readonly deadlineMs: number;
  readonly resolve: (outcome: WriteOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class Controller {
  private readonly logger: Logger;
  private readonly clusterId: string;
  private readonly incarnation: number;
  private readonly heartbeatIntervalMs: number;
  private readonly forwardTimeoutMs: number;
  private readonly defaultReplicationFactor: number;
  private readonly liveness: BrokerLiveness;
  private readonly clients: ControllerClients;
  private readonly appliedListeners = new Set<() => void>();
  private readonly rpcHandler: ControllerServiceHandler;

  /** The next controller log offset the apply loop looks at (everything before it is applied or skipped). */
  private nextOffset: number;
  private applyRunning: Promise<void> | undefined;
  private applyAgain = false;
  /** Offsets of commands this leader proposed, with their results once applied here. */
  private readonly wantedResults = new Map<number, ApplyResult | undefined>();
  /** Waits re-check their condition when woken (an apply round, a replica change) or every poll interval. */
  private readonly wakers = new Set<() => void>();
  private activeWaits = 0;
  /** Commands skipped because they could not be decoded (the same on every broker). */
  undecodableCommands = 0;

  private readonly queue: QueuedWrite[] = [];
  private draining = false;
  /** The term this broker last led in (0 = not leading): a new one restarts every lease. */
  private ledTerm = 0;
  private readonly fencing = new Set<BrokerId>();
  private leaderUpdatesInFlight = false;
  private membershipChanging = false;
  private leaderUpdateTimer: NodeJS.Timeout | undefined;

  private heartbeatTimer: NodeJS.Timeout | undefined;
  private extraHeartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private heartbeatAgain = false;
  /** The leader asked this broker to register again (its store does not know this incarnation). */
  private registrationNeeded = true;

  private readonly unsubscribeReplica: () => void;
  private closed = false;
  private closing: Promise<void> | undefined;
  private failure: unknown = undefined;

  private constructor(
    private readonly options: ControllerOptions,
    readonly store: ClusterStore,
    private readonly replica: Replica,
  ) {
    this.logger = options.logger.child({ component: 'controller', brokerId: options.nodeId });
    this.clusterId = options.clusterId ?? CLUSTER_ID_DEFAULT;
    this.incarnation = options.incarnation ?? Date.now();
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS_DEFAULT;
    this.forwardTimeoutMs = options.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS_DEFAULT;
    this.defaultReplicationFactor = options.defaultReplicationFactor ?? 0;
    this.liveness = new BrokerLiveness(options.leaseMs ?? LEASE_MS_DEFAULT);
    this.clients = new ControllerClients(options.peerAddresses);
    this.nextOffset = store.appliedOffset + 1;
    this.rpcHandler = { write: (request, deadlineMs) => this.serveWrite(request, deadlineMs), heartbeat: (request) => this.serveHeartbeat(request) };
    this.unsubscribeReplica = replica.onChange(() => {
      this.scheduleApply();
      this.wake();
    });
  }

  /**
   * Opens the store and the controller replica (creating both on first start), registers the
   * replica as group 0, applies what the local log already holds committed, and starts the
   * heartbeats (the first one registers this broker once a leader is known).
   */
  static async start(options: ControllerOptions): Promise<Controller> {
    assert.ok(options.voters.length > 0, 'the controller needs at least one voter');
    assert.ok(Number.isInteger(options.heartbeatIntervalMs ?? 1) && (options.heartbeatIntervalMs ?? 1) > 0, 'heartbeatIntervalMs must be a positive integer');
    await mkdir(options.dir, { recursive: true });
    const store = ClusterStore.open(join(options.dir, CLUSTER_STORE_FILE_NAME));
    let replica: Replica;
    try {
      replica = await Replica.open({
        dir: join(options.dir, 'log'),
        groupId: CONTROLLER_GROUP_NAME,
        nodeId: options.nodeId,
        initialConf: { voters: [...options.voters], learners: [...options.learners] },
        logConfig: controllerLogConfig(),
        raftConfig: options.raftConfig,
        clock: options.clock,
        files: options.files,
        send: (message) => options.transport.send(message.to, CONTROLLER_GROUP, message),
      });
    } catch (error) {
      store.close();
      throw error;
    }
    const controller = new Controller(options, store, replica);
    options.groups.register(CONTROLLER_GROUP, CONTROLLER_GROUP_NAME, replica);
    controller.scheduleApply();
    await controller.applyRunning;
    if (controller.failure !== undefined) {
      const failure = controller.failure;
      await controller.close();
      throw failure;
    }
    controller.heartbeatTimer = setInterval(() => controller.onHeartbeatTimer(), controller.heartbeatIntervalMs);
    controller.logger.info({ voters: options.voters, learners: options.learners, appliedOffset: store.appliedOffset }, 'controller started');
    return controller;
  }

  /**
   * The gRPC service the internal listener must serve (PeerTransportOptions.services).
   * `handler` returns this broker's controller, or undefined while it is not started (calls then
   * fail with UNAVAILABLE and callers retry).
   */
  static service(handler: () => Controller | undefined): PeerService {
    return controllerService(() => handler()?.rpcHandler, FORWARD_TIMEOUT_MS_DEFAULT);
  }

  // ---------------------------------------------------------------- state

  /** The controller leader this broker knows of, 0 when none. */
  get leaderId(): BrokerId {
    return this.replica.leader;
  }

  /** Whether this broker leads the controller group. */
  get isLeader(): boolean {
    return this.replica.isLeader;
  }

  /** The controller replica (for status and metrics; the group manager ticks it). */
  get controllerReplica(): Replica {
    return this.replica;
  }

  /** The broker's state in the metadata; undefined when it never registered. */
  brokerState(id: BrokerId): BrokerState | undefined {
    return this.store.brokerState(id);
  }

  /**
   * Calls `listener` after commands were applied to the store (in log order), on every broker.
   * Returns the unsubscribe function. A listener that throws is logged, not propagated.
   */
  onApplied(listener: () => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  // ---------------------------------------------------------------- writes

  /**
   * Creates a topic (or, with validateOnly, only checks that it could be created). Resolves once
   * this broker's store shows it; rejects with TopicError (INVALID_TOPIC_EXCEPTION,
   * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, TOPIC_ALREADY_EXISTS,
   * INVALID_REQUEST, NOT_CONTROLLER when no leader answered in time, REQUEST_TIMED_OUT).
   */
  async createTopic(spec: NewTopicRequest, validateOnly: boolean): Promise<void> {
    const { name, numPartitions, replicationFactor, internal } = spec;
    await this.writeOrThrow({ kind: 'createTopic', spec: { name, numPartitions, replicationFactor, configs: { ...spec.configs }, internal: internal === true }, validateOnly });
  }

  /** Deletes a topic; its replicas are removed as brokers apply the change. */
  async deleteTopic(name: string): Promise<void> {
    await this.writeOrThrow({ kind: 'deleteTopic', name });
  }

  async alterTopicConfigs(name: string, set: Readonly<Record<string, string>>, remove: readonly string[], validateOnly: boolean): Promise<void> {
    await this.writeOrThrow({ kind: 'alterTopicConfigs', name, set: { ...set }, remove: [...remove], validateOnly });
  }

  /** Grows a topic to `totalCount` partitions, placed like a new topic's with the topic's replication factor. */
  async createPartitions(name: string, totalCount: number, validateOnly: boolean): Promise<void> {
    await this.writeOrThrow({ kind: 'createPartitions', name, totalCount, validateOnly });
  }

  /**
   * Starts reassignments: one result per requested partition, in order (NONE when it started;
   * UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT, REASSIGNMENT_IN_PROGRESS, ...).
   * Rejects with TopicError only when the request as a whole failed.
   */
  async reassign(list: readonly PartitionReassignmentRequest[]): Promise<ApplyResult[]> {
    const outcome = await this.writeOrThrow({ kind: 'reassign', partitions: list.map((item) => ({ topic: item.topic, partition: item.partition, replicas: [...item.replicas] })) });
    return [...outcome.results];
  }

  /** Marks a broker decommissioning and starts moving its replicas away. */
  async decommission(brokerId: BrokerId): Promise<{ partitionsMoved: number }> {
    const outcome = await this.writeOrThrow({ kind: 'decommission', brokerId });
    return { partitionsMoved: outcome.partitionsMoved };
  }

  /** A partition's leader reports that its voters now equal the reassignment's target. */
  async reassignmentDone(groupId: number, replicas: readonly BrokerId[]): Promise<void> {
    await this.writeOrThrow({ kind: 'reassignmentDone', groupId, replicas: [...replicas] });
  }

  /** The partition leaderships of this broker changed: report them within LEADERSHIP_HEARTBEAT_DELAY_MS. */
  leadershipChanged(): void {
    if (this.closed || this.extraHeartbeatTimer !== undefined) return;
    this.extraHeartbeatTimer = setTimeout(() => {
      this.extraHeartbeatTimer = undefined;
      void this.sendHeartbeat();
    }, LEADERSHIP_HEARTBEAT_DELAY_MS);
  }

  /**
   * Stops heartbeats, fails waiting writes, unregisters group 0 and closes the replica and the
   * store. Writes in progress reject. A leader first hands the group to another voter (up to
   * LEADERSHIP_HANDOVER_WAIT_MS) unless `handOverLeadership` is false.
   */
  close(options: { handOverLeadership?: boolean } = {}): Promise<void> {
    this.closing ??= this.closeOnce(options.handOverLeadership !== false);
    return this.closing;
  }

  private async closeOnce(handOver: boolean): Promise<void> {
    if (handOver) await this.handOverLeadership();
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.extraHeartbeatTimer);
    clearTimeout(this.leaderUpdateTimer);
    this.unsubscribeReplica();
    const closedError = new ControllerUnavailableError('the controller is closing', NO_NODE);
    for (const queued of this.queue.splice(0)) queued.reject(closedError);
    this.wake();
    this.options.groups.unregister(CONTROLLER_GROUP);
    this.clients.close();
    while (this.applyRunning !== undefined) await this.applyRunning;
    try {
      await this.replica.close();
    } finally {
      this.store.close();
      this.logger.info('controller closed');
    }
  }

  /**
   * A leader that shuts down first hands the group to its most caught-up voter, so the cluster
   * does not wait an election timeout for a new controller. Bounded: on a slow or failed
   * transfer it closes anyway and an election follows.
   */
  private async handOverLeadership(): Promise<void> {
    if (!this.replica.isLeader || this.failure !== undefined) return;
    const status = this.replica.status();
    const match = (id: BrokerId): number => status.progress?.get(id)?.match ?? 0;
    const target = status.conf.voters.filter((id) => id !== this.options.nodeId).sort((a, b) => match(b) - match(a))[0];
    if (target === undefined) return;
    this.replica.transferLeadership(target);
    const deadlineMs = this.options.clock.nowMs() + LEADERSHIP_HANDOVER_WAIT_MS;
    while (this.replica.isLeader && this.options.clock.nowMs() < deadlineMs) await delay(5);
    this.logger.info({ to: target, handedOver: !this.replica.isLeader }, 'controller leadership handed over at close');
  }

  // ---------------------------------------------------------------- the write path (any broker)

  private async writeOrThrow(write: ForwardableWrite): Promise<WriteOutcome> {
    const outcome = await this.write(write);
    if (outcome.errorCode !== 'NONE') throw new TopicError(outcome.errorCode, outcome.errorMessage);
    return outcome;
  }

  /** Has the leader handle `write`, then waits until this broker's store applied its command. */
  private async write(write: ForwardableWrite): Promise<WriteOutcome> {
    if (this.closed) throw new TopicError('NOT_CONTROLLER', 'the controller is closed');
    checkWriteLimits(write);
    const deadlineMs = this.options.clock.nowMs() + this.forwardTimeoutMs;
    const outcome = await this.writeToLeader(write, deadlineMs);
    if (outcome.appliedOffset >= 0) {
      try {
        await this.waitApplied(outcome.appliedOffset, deadlineMs);
      } catch (error) {
        if (!(error instanceof DeadlineError) && !(error instanceof ControllerUnavailableError)) throw error;
        throw new TopicError('REQUEST_TIMED_OUT', `the controller applied the change at offset ${outcome.appliedOffset}, but this broker's metadata has not caught up: ${error.message}`);
      }
    }
    return outcome;
  }

  /** Sends `write` to the leader, locally or forwarded, retrying across leader changes until the deadline. */
  private async writeToLeader(write: ForwardableWrite, deadlineMs: number): Promise<WriteOutcome> {
    let problem = 'no controller leader is known';
    for (;;) {
      const remainingMs = deadlineMs - this.options.clock.nowMs();
      if (this.closed || remainingMs <= 0) break;
      const leader = this.replica.leader;
      try {
        if (leader === this.options.nodeId) return await this.submitAsLeader(write, deadlineMs);
        if (leader !== NO_NODE) {
          const response = await this.forward(leader, write, remainingMs);
          if (errorCodeOf(response.errorCode) !== 'NOT_CONTROLLER') return outcomeFromWire(response);
          problem = `broker ${leader} is not the controller leader: ${response.errorMessage}`;
        }
      } catch (error) {
        // A leader took the request but did not finish it in time: the outcome is unknown, and
        // another attempt would have no time left either.
        if (error instanceof DeadlineError || (isGrpcError(error) && error.code === grpc.status.DEADLINE_EXCEEDED)) {
          throw new TopicError('REQUEST_TIMED_OUT', `the controller did not finish the request within ${this.forwardTimeoutMs} ms: ${error.message}`);
        }
        if (!(error instanceof ControllerUnavailableError) && !isGrpcError(error)) throw error;
        problem = error.message;
        if (isGrpcError(error) && error.code === grpc.status.CANCELLED && this.replica.leader !== leader) continue;
      }
      await delay(Math.min(WRITE_RETRY_BACKOFF_MS, Math.max(1, deadlineMs - this.options.clock.nowMs())));
    }
    throw new TopicError('NOT_CONTROLLER', `no controller leader took the request within ${this.forwardTimeoutMs} ms (${problem})`);
  }

  /**
   * One forwarded attempt. A leader that stops answering (stopped, cut off) would hold the call
   * until the deadline, so the call is cancelled as soon as this broker learns of another leader.
   */
  private async forward(leader: BrokerId, write: ForwardableWrite, timeoutMs: number): Promise<WireWriteResponse> {
    const cancel = new AbortController();
    const watch = setInterval(() => {
      if (this.replica.leader !== leader || this.closed) cancel.abort();
    }, WRITE_RETRY_BACKOFF_MS);
    try {
      return await this.clients.write(leader, writeToWire(write, this.clusterId, this.options.nodeId), timeoutMs, cancel.signal);
    } finally {
      clearInterval(watch);
    }
  }

  // ---------------------------------------------------------------- the leader

  /** Queues a write for the leader's one-at-a-time processing. */
  private submitAsLeader(write: ControllerWrite, deadlineMs: number): Promise<WriteOutcome> {
    if (!this.replica.isLeader) return Promise.reject(new ControllerUnavailableError('this broker is not the controller leader', this.replica.leader));
    if (this.queue.length >= LEADER_QUEUE_LENGTH_MAX) {
      return Promise.resolve(outcomeOf('REQUEST_TIMED_OUT', `the controller has ${LEADER_QUEUE_LENGTH_MAX} requests waiting; retry later`));
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ write, deadlineMs, resolve, reject });
      void this.drainQueue();
    });
  }

  private async drainQueue(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let queued = this.queue.shift(); queued !== undefined; queued = this.queue.shift()) {
        try {
          queued.resolve(await this.processAsLeader(queued.write, queued.deadlineMs));
        } catch (error) {
          queued.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * One write on the leader: wait until the store applied everything committed before this term's
   * first entry, plan it against the store, propose its command, wait until the store applied it.
   */
  private async processAsLeader(write: ControllerWrite, deadlineMs: number): Promise<WriteOutcome> {
    this.checkLeading();
    if (this.options.clock.nowMs() >= deadlineMs) throw new DeadlineError('the request waited in the controller queue past its deadline');
    await this.waitUntil(() => this.caughtUpAsLeader(), deadlineMs, () => this.checkLeading());
    // A registering broker is alive: without this a broker returning after a fence would be
    // fenced again if the lease check ran between its registration and its next heartbeat.
    if (write.kind === 'registerBroker') this.liveness.renew(write.broker.id, this.options.clock.nowMs());
    let plan;
    try {
      plan = planWrite(write, this.planContext());
    } catch (error) {
      if (error instanceof TopicError) return outcomeOf(error.errorCode, error.message);
      throw error;
    }
    if (plan.kind === 'answer') return plan.outcome;
    const value = encodeCommand(plan.command);
    if (value.length > COMMAND_BYTES_MAX) return outcomeOf('INVALID_REQUEST', `the change encodes to ${value.length} bytes, more than ${COMMAND_BYTES_MAX}`);
    const batch = encodeBatch([{ key: null, value }], { nowMs: this.options.clock.nowMs() });
    const appended = this.replica.append(batch, 'all');
    // append() stamps the offset into the batch before it returns when it accepted the proposal,
    // so the result slot exists before the apply loop can reach that offset.
    const offset = baseOffsetNumberAt(batch, 0);
    if (offset > 0) this.wantedResults.set(offset, undefined);
    try {
      await appended;
      await this.waitApplied(offset, deadlineMs);
      const result = this.wantedResults.get(offset) ?? { errorCode: 'UNKNOWN_SERVER_ERROR', errorMessage: `the command at offset ${offset} could not be applied` };
      return plan.finish(result, offset);
    } catch (error) {
      throw unavailableIfRetriable(error);
    } finally {
      this.wantedResults.delete(offset);
    }
  }

  /** This leader's store has applied every command committed before its term began. */
  private caughtUpAsLeader(): boolean {
    if (!this.replica.isLeader) return false;
    const highWatermark = this.replica.highWatermark;
    const committedLast = highWatermark - 1;
    return committedLast >= this.replica.logStartOffset && this.replica.log.epochAt(committedLast) === this.replica.status().term && this.nextOffset > committedLast;
  }

  private checkLeading(): void {
    if (this.closed) throw new ControllerUnavailableError('the controller is closing', NO_NODE);
    if (!this.replica.isLeader) throw new ControllerUnavailableError('this broker lost the controller leadership', this.replica.leader);
  }

  private planContext(): PlanContext {
    const nowMs = this.options.clock.nowMs();
    return {
      store: this.store,
      config: this.options.config,
      defaultReplicationFactor: this.defaultReplicationFactor,
      configuredBrokers: [...new Set([this.options.nodeId, ...this.options.voters, ...this.options.learners, ...this.options.peerAddresses.keys()])],
      nowMs,
      leaseCurrent: (brokerId) => this.liveness.isCurrent(brokerId, nowMs),
    };
  }

  /** Notices a new term of this broker's leadership: every lease starts afresh. */
  private noticeLeadership(): boolean {
    if (!this.replica.isLeader) {
      this.ledTerm = 0;
      return false;
    }
    const term = this.replica.status().term;
    if (term !== this.ledTerm) {
      this.ledTerm = term;
      this.fencing.clear();
      this.liveness.restart(this.store.brokers(), this.options.clock.nowMs());
      this.logger.info({ term }, 'leading the controller');
    }
    return true;
  }

  /** The leader's periodic work: fence brokers whose lease ran out, propose waiting leader updates. */
  private leaderHousekeeping(): void {
    if (!this.noticeLeadership() || !this.caughtUpAsLeader()) return;
    const nowMs = this.options.clock.nowMs();
    for (const brokerId of this.liveness.expired(this.store.brokers(), nowMs)) {
      if (this.fencing.has(brokerId)) continue;
      this.fencing.add(brokerId);
      this.logger.warn({ broker: brokerId }, 'broker lease expired: fencing it');
      this.submitInternal({ kind: 'fence', brokerId, fenced: true }, () => this.fencing.delete(brokerId));
    }
    this.flushLeaderUpdates();
    this.addMissingLearner();
  }

  /**
   * A broker of this broker's cluster configuration that the controller group does not know (it
   * was added to cluster.peers after the group was created) joins as a learner, so its metadata
   * follows the log. One change at a time; voters are never changed here.
   */
  private addMissingLearner(): void {
    if (this.membershipChanging) return;
    const conf = this.replica.status().conf;
    const members = new Set([...conf.voters, ...conf.learners]);
    const missing = [...this.options.peerAddresses.keys()].find((id) => !members.has(id));
    if (missing === undefined) return;
    this.membershipChanging = true;
    this.logger.info({ broker: missing }, 'adding a broker to the controller group as a learner');
    this.replica
      .changeMembership({ type: ConfChangeType.AddLearner, nodeId: missing })
      .catch((error: unknown) => this.logger.debug({ err: error, broker: missing }, 'adding a learner did not complete'))
      .finally(() => (this.membershipChanging = false));
  }

  private scheduleLeaderUpdateFlush(): void {
    if (this.leaderUpdateTimer !== undefined || this.closed) return;
    this.leaderUpdateTimer = setTimeout(() => {
      this.leaderUpdateTimer = undefined;
      this.flushLeaderUpdates();
    }, LEADER_UPDATE_LINGER_MS);
  }

  /** Proposes the waiting leader updates, one command at a time. */
  private flushLeaderUpdates(): void {
    if (this.leaderUpdatesInFlight || this.closed || !this.replica.isLeader || this.liveness.pendingUpdateCount === 0) return;
    const updates = this.liveness.takeUpdates(LEADER_UPDATES_PER_COMMAND_MAX, (groupId) => this.store.partitionByGroup(groupId));
    if (updates.length === 0) return;
    this.leaderUpdatesInFlight = true;
    this.submitInternal({ kind: 'leaderUpdates', updates }, () => {
      this.leaderUpdatesInFlight = false;
      // Lost updates (leadership moved) are reported again by the next heartbeats.
      if (this.liveness.pendingUpdateCount > 0) this.scheduleLeaderUpdateFlush();
    });
  }

  /** A write the leader makes on its own behalf; nobody waits for it, failures are logged. */
  private submitInternal(write: ControllerWrite, done: () => void): void {
    this.submitAsLeader(write, this.options.clock.nowMs() + this.forwardTimeoutMs)
      .then((outcome) => {
        if (outcome.errorCode !== 'NONE') this.logger.warn({ write: write.kind, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage }, 'controller write refused');
      })
      .catch((error: unknown) => this.logger.debug({ err: error, write: write.kind }, 'controller write not completed'))
      .finally(done);
  }

  // ---------------------------------------------------------------- serving other brokers

  private async serveWrite(request: WireWriteRequest, deadlineMs: number): Promise<WireWriteResponse> {
    this.checkCaller(request.clusterId, request.fromBrokerId);
    let write: ForwardableWrite;
    try {
      write = writeFromWire(request);
      checkWriteLimits(write);
    } catch (error) {
      if (error instanceof TopicError) return outcomeToWire(outcomeOf(error.errorCode, error.message));
      throw error;
    }
    if (write.kind === 'registerBroker' && write.broker.id !== request.fromBrokerId) {
      throw new ControllerRpcRefusal(grpc.status.INVALID_ARGUMENT, `broker ${request.fromBrokerId} may register only itself`);
    }
    const notController = (message: string, leaderHint: number): WireWriteResponse => ({
      ...outcomeToWire(outcomeOf('NOT_CONTROLLER', message)),
      leaderHint,
    });
    if (!this.replica.isLeader) return notController(`broker ${this.options.nodeId} is not the controller leader`, this.replica.leader);
    try {
      return outcomeToWire(await this.submitAsLeader(write, Math.min(deadlineMs, this.options.clock.nowMs() + this.forwardTimeoutMs)));
    } catch (error) {
      if (error instanceof ControllerUnavailableError) return notController(error.message, error.leaderHint);
      if (error instanceof DeadlineError) return outcomeToWire(outcomeOf('REQUEST_TIMED_OUT', error.message));
      throw error;
    }
  }

  private serveHeartbeat(request: WireHeartbeatRequest): WireHeartbeatResponse {
    this.checkCaller(request.clusterId, request.brokerId);
    if (request.leaderships.length > HEARTBEAT_LEADERSHIPS_MAX) {
      throw new ControllerRpcRefusal(grpc.status.INVALID_ARGUMENT, `a heartbeat may carry at most ${HEARTBEAT_LEADERSHIPS_MAX} leaderships`);
    }
    if (!this.noticeLeadership()) return { status: 'NOT_CONTROLLER', leaderHint: this.replica.leader };
    const self = this.options.nodeId;
    const known = this.store.broker(request.brokerId);
    if (known === undefined || known.incarnation !== request.incarnation) return { status: 'REGISTER', leaderHint: self };
    const nowMs = this.options.clock.nowMs();
    this.liveness.renew(request.brokerId, nowMs);
    if (known.fenced && !this.fencing.has(request.brokerId)) {
      this.fencing.add(request.brokerId);
      this.logger.info({ broker: request.brokerId }, 'fenced broker is back: unfencing it');
      this.submitInternal({ kind: 'fence', brokerId: request.brokerId, fenced: false }, () => this.fencing.delete(request.brokerId));
    }
    if (this.liveness.report(request.leaderships, (groupId) => this.store.partitionByGroup(groupId)) > 0) this.scheduleLeaderUpdateFlush();
    return { status: 'OK', leaderHint: self };
  }

  private checkCaller(clusterId: string, brokerId: number): void {
    if (clusterId !== this.clusterId) {
      throw new ControllerRpcRefusal(grpc.status.FAILED_PRECONDITION, `cluster id mismatch: this broker belongs to ${JSON.stringify(this.clusterId)}, the caller to ${JSON.stringify(clusterId)}`);
    }
    if (brokerId !== this.options.nodeId && !this.options.peerAddresses.has(brokerId)) {
      throw new ControllerRpcRefusal(grpc.status.FAILED_PRECONDITION, `broker ${brokerId} is not a known peer`);
    }
  }

  // ---------------------------------------------------------------- liveness (every broker)

  private onHeartbeatTimer(): void {
    this.leaderHousekeeping();
    void this.sendHeartbeat();
  }

  /** One heartbeat to the leader (registering first when needed); at most one in flight. */
  private async sendHeartbeat(): Promise<void> {
    if (this.closed) return;
    if (this.heartbeatInFlight) {
      this.heartbeatAgain = true;
      return;
    }
    this.heartbeatInFlight = true;
    try {
      if (this.replica.leader === NO_NODE) return;
      if (this.registrationNeeded || this.store.broker(this.options.nodeId)?.incarnation !== this.incarnation) await this.register();
      const request = this.heartbeatRequest();
      const leader = this.replica.leader;
      let reply: WireHeartbeatResponse;
      if (leader === this.options.nodeId) reply = this.serveHeartbeat(request);
      else if (leader !== NO_NODE) reply = await this.clients.heartbeat(leader, request, this.heartbeatIntervalMs * 2);
      else return;
      if (reply.status === 'REGISTER') this.registrationNeeded = true;
    } catch (error) {
      this.logger.debug({ err: error }, 'heartbeat failed');
    } finally {
      this.heartbeatInFlight = false;
      if (this.heartbeatAgain && !this.closed) {
        this.heartbeatAgain = false;
        void this.sendHeartbeat();
      }
    }
  }

  private async register(): Promise<void> {
    const { host, port, internalAddress, rack } = this.options.self;
    await this.write({ kind: 'registerBroker', broker: { id: this.options.nodeId, host, port, internalAddress, rack, incarnation: this.incarnation } });
    this.registrationNeeded = false;
    this.logger.info({ incarnation: this.incarnation }, 'broker registered with the controller');
  }

  private heartbeatRequest(): WireHeartbeatRequest {
    let leaderships = this.options.leaderships();
    if (leaderships.length > HEARTBEAT_LEADERSHIPS_MAX) {
      this.logger.warn({ leaderships: leaderships.length, max: HEARTBEAT_LEADERSHIPS_MAX }, 'more leaderships than a heartbeat carries: the rest wait');
      leaderships = leaderships.slice(0, HEARTBEAT_LEADERSHIPS_MAX);
    }
    return {
      clusterId: this.clusterId,
      brokerId: this.options.nodeId,
      incarnation: this.incarnation,
      leaderships: leaderships.map((update) => ({ groupId: update.groupId, leaderId: update.leaderId, leaderEpoch: update.leaderEpoch })),
    };
  }

  // ---------------------------------------------------------------- the apply loop

  private scheduleApply(): void {
    if (this.closed && this.applyRunning === undefined) return;
    if (this.applyRunning !== undefined) {
      this.applyAgain = true;
      return;
    }
    this.applyRunning = this.applyCommitted()
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.applyRunning = undefined;
        if (this.applyAgain && !this.closed && this.failure === undefined) {
          this.applyAgain = false;
          this.scheduleApply();
        }
      });
  }

  /** Applies the committed commands after the last applied one, in log order, skipping control batches. */
  private async applyCommitted(): Promise<void> {
    while (!this.closed && this.failure === undefined && this.nextOffset < this.replica.highWatermark) {
      const bytes = await this.replica.read(Math.max(this.nextOffset, this.replica.logStartOffset), APPLY_READ_BYTES_MAX);
      if (bytes.length === 0 || this.closed) return;
      let applied = 0;
      for (const { pos, info } of iterateBatches(bytes)) {
        const lastOffset = info.baseOffset + info.lastOffsetDelta;
        if (lastOffset < this.nextOffset) continue;
        if (!info.control) {
          for (const record of decodeRecords(bytes, pos, info)) {
            if (record.offset < this.nextOffset) continue;
            this.applyRecord(record.offset, record.value);
            applied += 1;
          }
        }
        this.nextOffset = lastOffset + 1;
      }
      this.wake();
      if (applied > 0) this.notifyApplied();
    }
  }

  private applyRecord(offset: number, value: Buffer | null): void {
    let command;
    try {
      command = decodeCommand(value ?? Buffer.alloc(0));
    } catch (error) {
      if (!(error instanceof ControllerCodecError)) throw error;
      // Every broker reads the same bytes and skips them alike, so the stores stay identical.
      this.undecodableCommands += 1;
      this.logger.error({ offset, err: error }, 'controller log record is not a command: skipped');
      return;
    }
    const result = this.store.apply(offset, command);
    if (this.wantedResults.has(offset)) this.wantedResults.set(offset, result);
    if (result.errorCode !== 'NONE') this.logger.debug({ offset, type: command.type, errorCode: result.errorCode, errorMessage: result.errorMessage }, 'command refused by the store');
  }

  private notifyApplied(): void {
    for (const listener of this.appliedListeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: error }, 'an onApplied listener failed');
      }
    }
  }

  /** The store failed to apply (a storage error): nothing more is applied; writes fail. */
  private fail(error: unknown): void {
    if (this.failure === undefined) this.failure = error;
    this.logger.error({ err: error }, 'controller apply loop stopped');
    this.wake();
    if (error instanceof assert.AssertionError) throw error;
  }

  // ---------------------------------------------------------------- waiting

  /** Resolves once this broker's store applied (or skipped) everything through `offset`. */
  private waitApplied(offset: number, deadlineMs: number): Promise<void> {
    return this.waitUntil(() => this.nextOffset > offset, deadlineMs);
  }

  /**
   * Resolves when `condition` holds, re-checked whenever the store or the replica moves and at
   * least every WRITE_RETRY_BACKOFF_MS. Rejects with DeadlineError at the deadline, with
   * ControllerUnavailableError when closed or failed, and with whatever `check` throws.
   */
  private async waitUntil(condition: () => boolean, deadlineMs: number, check: () => void = () => undefined): Promise<void> {
    if (this.activeWaits >= APPLY_WAITERS_MAX) throw new ControllerUnavailableError(`more than ${APPLY_WAITERS_MAX} requests wait for the controller`, this.replica.leader);
    this.activeWaits += 1;
    try {
      for (;;) {
        if (this.closed || this.failure !== undefined) throw new ControllerUnavailableError('the controller is closed or failed', NO_NODE);
        if (condition()) return;
        check();
        const remainingMs = deadlineMs - this.options.clock.nowMs();
        if (remainingMs <= 0) throw new DeadlineError('the controller metadata did not reach the needed offset in time');
        await new Promise<void>((resolve) => {
          const waker = (): void => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            this.wakers.delete(waker);
            resolve();
          }, Math.min(remainingMs, WRITE_RETRY_BACKOFF_MS));
          this.wakers.add(waker);
        });
      }
    } finally {
      this.activeWaits -= 1;
    }
  }

  private wake(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const waker of wakers) waker();
  }
}

/** The controller log: never deleted (no retention), every write synced. */
function controllerLogConfig() {
  return resolveLogConfig({
    segmentBytes: CONTROLLER_SEGMENT_BYTES,
    retentionMs: RETENTION_MS_FOREVER,
    retentionBytes: RETENTION_BYTES_UNBOUNDED,
    flushPolicy: 'always',
    maxBatchBytes: CONTROLLER_BATCH_BYTES_MAX,
    tailCacheBytes: CONTROLLER_TAIL_CACHE_BYTES,
  });
}

/** Replica errors that mean "try again, maybe elsewhere" become ControllerUnavailableError. */
function unavailableIfRetriable(error: unknown): unknown {
  if (error instanceof NotLeaderError) return new ControllerUnavailableError(error.message, error.leaderHint);
  if (error instanceof ReplicaBusyError || error instanceof ReplicaClosedError) return new ControllerUnavailableError(error.message, NO_NODE);
  return error;
}

function isGrpcError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number' && 'details' in error;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
