import { decodeConfChange } from '../../../raft/conf-change-codec.js';
import { ConfChangeType, Role, type ConfChange, type ConfState, type RaftConfig, type ReadState, type Snapshot } from '../../../raft/types.js';
import { createRaftCore } from './create-raft-core.js';
import type { RaftCore } from './raft-core.js';
import { EventKind, EventQueue, type SimEvent } from './event-queue.js';
import { drawFaultMix, type FaultMix } from './fault-mix.js';
import { InvariantChecker, InvariantViolation } from './invariant-checker.js';
import { bugNameOf } from './known-bugs.js';
import { Prng } from './prng.js';
import { SimDisk } from './sim-disk.js';
import { CALM_NETWORK, NODE_ID_LIMIT, SimNetwork } from './sim-network.js';
import { ProposalOutcome, SimNode, encodeMachineState, type DriverBugs, type Proposal, type SimContext } from './sim-node.js';
import { REJECT_FLAG, TraceKind, TraceRing } from './trace-ring.js';

export interface SimOptions {
  seed: number;
  /** Voters the cluster starts with (3 or 5); membership changes move it between n and n + 1. */
  nodes: number;
  /** Events (steps) run with faults on; then the faults heal and liveness is checked. */
  steps: number;
  raftBugs?: RaftConfig['testOnlyBugs'];
  driverBugs?: DriverBugs;
  /**
   * Whether a node steps messages and ticks while its Ready waits for the disk (as a driver with
   * asynchronous fsync does), or holds them until advance(). Unset: each seed draws (mostly the former).
   */
  stepDuringSync?: boolean;
  /** Check that nothing is applied before some node reported it committed (on by default). */
  checkAppliedIsCommitted?: boolean;
  traceCapacity?: number;
  /**
   * Leaders quiesce idle groups (RaftConfig.quiesceWhenIdle), and before each tick the driver wakes
   * a quiesced node with probability QUIESCE_WAKE_CHANCE, with a random ticksSinceHeard: a broker's
   * peer liveness check may wake any group at any moment. Its draws come from a PRNG of their own,
   * so the seed's other choices stay those of a run without it. Off by default.
   */
  quiesce?: boolean;
}

/** Per tick of a quiesced node, the chance that the simulated driver wakes it (SimOptions.quiesce). */
export const QUIESCE_WAKE_CHANCE = 0.05;

export interface SimStats {
  steps: number;
  virtualMs: number;
  proposed: number;
  rejected: number;
  committed: number;
  failed: number;
  unknown: number;
  crashes: number;
  pauses: number;
  partitions: number;
  /** With SimOptions.quiesce: ticks a node spent quiesced, and wakes by the driver. */
  quiescedTicks: number;
  quiesceWakes: number;
  leaderChanges: number;
  maxTerm: number;
  snapshotsInstalled: number;
  confChanges: number;
  learnersAdded: number;
  promotions: number;
  removals: number;
  /** Removals of the node that was leading when the removal was proposed. */
  leaderRemovals: number;
  transfers: number;
  reads: number;
  readsAnswered: number;
  messages: number;
  /** Virtual ms from the heal until a leader was known to every member. */
  healLeaderMs: number;
  /** Virtual ms from the heal until every proposal made during the faults was answered. */
  healAnsweredMs: number;
  /** Virtual ms from the heal until everything pending resolved and all members converged. */
  healConvergeMs: number;
}

export interface SimFailure {
  invariant: string;
  /** What the seed drew: core limits, driver behaviour, fault mix. */
  settings: string;
  message: string;
  atMs: number;
  step: number;
  trace: string[];
}

export interface SimResult {
  options: SimOptions;
  ok: boolean;
  failure?: SimFailure;
  stats: SimStats;
}

export const TICK_MS = 10;
export const ELECTION_TICKS = 10;
const ELECTION_TIMEOUT_MS = ELECTION_TICKS * TICK_MS;
// Liveness bounds, in virtual time after the faults heal (all nodes up, no loss, no partition).
/** A leader that every running voter follows must emerge this soon (with pre-vote; LEADER_BOUND_WITHOUT_PRE_VOTE_MS without). */
export const LEADER_BOUND_MS = 40 * ELECTION_TIMEOUT_MS;
/**
 * Without pre-vote, candidates that cannot win keep raising the term and resetting the timers of
 * the one that can, so an election takes longer (it still ends, by the randomized timeouts).
 */
export const LEADER_BOUND_WITHOUT_PRE_VOTE_MS = 10 * LEADER_BOUND_MS;
/**
 * Once a leader is known, every member behind the leader's commit index must apply something new
 * at least this often: catching up may take long (one entry per round trip with the smallest
 * limits), but it must never stall.
 */
export const STALL_BOUND_MS = 20 * ELECTION_TIMEOUT_MS;
/** Every proposal made during the faults is answered (acknowledged or failed) this soon after the leader emerged. */
export const ANSWER_BOUND_MS = 150 * ELECTION_TIMEOUT_MS;
/** The heal phase ends (everything answered, every member converged) within this, or the run fails. */
export const HEAL_BOUND_MS = 3000 * ELECTION_TIMEOUT_MS;
const CHAOS_INTERVAL_MS = TICK_MS;
const ADMIN_TIMEOUT_MS = 30 * ELECTION_TIMEOUT_MS;
/** A removed node keeps running this long (it may still be needed to tell others), then stops for good. */
const RETIRE_GRACE_MS = 10 * ELECTION_TIMEOUT_MS;
const EXTRA_NODES_MAX = 3;
/** Clients stop proposing while this many proposals await an answer (backpressure, as a producer's in-flight limit). */
const CLIENT_PENDING_MAX = 64;

/**
 * Every node's disk starts with this snapshot (voters filled in per run): the group's initial
 * configuration as of index 1, term 1. A new node starts from it too, so it knows the group it joins.
 */
const BOOTSTRAP: Snapshot = { index: 1, term: 1, conf: { voters: [], learners: [] }, data: encodeMachineState(0, 1) };

enum Phase {
  Faults,
  Heal,
  Done,
}

/**
 * A whole Raft cluster in one process, driven by one seeded PRNG through a virtual clock: nodes,
 * network, disks, clients, an administrator changing membership, and a fault scheduler. The
 * invariant checker runs inside every step; a thrown error (an invariant, or an assertion inside the
 * core) stops the run and is reported with the trace ring.
 */
export class ClusterSim implements SimContext {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  /** The simulated driver's wakes of quiesced nodes draw from here (SimOptions.quiesce). */
  private readonly quiescePrng: Prng;
  readonly network: SimNetwork;
  readonly checker: InvariantChecker;
  readonly trace: TraceRing;
  readonly driverBugs: DriverBugs;
  readonly diskLatencyMaxMs: number;
  readonly compactEveryEntries: number;
  readonly stepDuringSync: boolean;
  readonly leaderSendsEarly: boolean;
  nowMs = 0;

  private readonly nodes = new Map<number, SimNode>();
  private readonly tickPeriodMs = new Map<number, number>();
  private nextNodeId: number;
  /** Nodes that were in some committed configuration (a node still joining is not "removed"). */
  private readonly everMember = new Set<number>();
  private readonly removalProposedByLeader = new Set<number>();
  private phase = Phase.Faults;
  private step = 0;
  private nextValue = 1;
  private proposalsPending = 0;
  /** The highest index of any write acknowledged to a client so far. */
  private acknowledgedThrough = 0;
  private nextReadId = 1;
  /** Reads asked for and not yet answered (a read may go unanswered: the client times out). */
  private readonly reads = new Map<number, { node: number; acknowledgedThrough: number }>();
  private leaderHint = 0;
  private committedConf: ConfState;
  private committedConfIndex = 0;
  private adminChange: { change: ConfChange; startedMs: number } | null = null;
  private healStartMs = 0;
  private leaderSeenMs = -1;
  private probe: Proposal | null = null;
  private probeAcked = false;
  private readonly progressSeen = new Map<number, { applied: number; sinceMs: number }>();
  private lastLeaderSeen = 0;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly heartbeatTicks: number;
  private readonly maxInflightMessages: number;
  private readonly mix: FaultMix;
  private readonly bootstrap: Snapshot;
  private readonly maxEntriesPerMessage: number;
  private readonly maxMessageBytes: number;
  readonly stats: SimStats = {
    steps: 0, virtualMs: 0, proposed: 0, rejected: 0, committed: 0, failed: 0, unknown: 0, crashes: 0, pauses: 0, partitions: 0, quiescedTicks: 0, quiesceWakes: 0,
    leaderChanges: 0, maxTerm: 0, snapshotsInstalled: 0, confChanges: 0, learnersAdded: 0, promotions: 0, removals: 0, leaderRemovals: 0, transfers: 0, reads: 0, readsAnswered: 0, messages: 0, healLeaderMs: -1, healAnsweredMs: -1, healConvergeMs: -1,
  };

  constructor(readonly options: SimOptions) {
    this.prng = new Prng(options.seed);
    this.quiescePrng = new Prng(options.seed ^ 0x51e5ce);
    this.checker = new InvariantChecker(options.checkAppliedIsCommitted ?? true);
    this.network = new SimNetwork(this.queue, this.prng.fork());
    this.trace = new TraceRing(options.traceCapacity ?? 400);
    this.driverBugs = options.driverBugs ?? {};
    const stepDuringSync = this.prng.chance(0.7);
    this.stepDuringSync = options.stepDuringSync ?? stepDuringSync;
    this.diskLatencyMaxMs = this.prng.pick([0, 2, 5, 10, 20]);
    this.mix = drawFaultMix(this.prng);
    this.leaderSendsEarly = this.prng.chance(0.5);
    this.compactEveryEntries = this.prng.pick([4, 16, 64, 1_000_000]);
    this.preVote = this.prng.chance(0.75);
    this.checkQuorum = this.prng.chance(0.75);
    this.heartbeatTicks = this.prng.range(1, 3);
    this.maxInflightMessages = this.prng.pick([1, 4, 64]);
    this.maxEntriesPerMessage = this.prng.pick([1, 2, 8, 64]);
    this.maxMessageBytes = this.prng.pick([16, 256, 64 * 1024]);
    const voters = Array.from({ length: options.nodes }, (_, k) => k + 1);
    this.committedConf = { voters, learners: [] };
    this.nextNodeId = options.nodes + 1;
    for (const id of voters) this.everMember.add(id);
    const bootstrap: Snapshot = { ...BOOTSTRAP, conf: { voters: voters.slice(), learners: [] } };
    this.bootstrap = bootstrap;
    this.checker.bootstrap(bootstrap, 0);
    for (const id of voters) this.addNode(id, bootstrap);
    this.queue.push(CHAOS_INTERVAL_MS, EventKind.Chaos, 0, 0);
  }

  /** Runs to the end: the fault phase, the heal, and the liveness checks. */
  run(): SimResult {
    try {
      while (this.phase !== Phase.Done) {
        const event = this.queue.pop();
        if (event === undefined) throw new InvariantViolation('Simulator', 'event queue ran dry');
        this.nowMs = event.timeMs;
        this.handle(event);
        this.queue.release(event);
        this.step++;
        if (this.phase === Phase.Faults && this.step >= this.options.steps) this.startHeal();
      }
    } catch (error) {
      return this.result(error);
    }
    return this.result(undefined);
  }

  private result(error: unknown): SimResult {
    this.stats.steps = this.step;
    this.stats.virtualMs = this.nowMs;
    this.stats.messages = this.network.sent;
    if (error === undefined) return { options: this.options, ok: true, stats: this.stats };
    const invariant = error instanceof InvariantViolation ? error.invariant : 'Exception';
    const message = error instanceof Error ? (error instanceof InvariantViolation ? error.message : (error.stack ?? error.message)) : String(error);
    return { options: this.options, ok: false, stats: this.stats, failure: { invariant, settings: this.settings(), message, atMs: this.nowMs, step: this.step, trace: this.trace.format() } };
  }

  private settings(): string {
    const driver = `${this.stepDuringSync ? 'steps' : 'holds messages'} during fsync, leader ${this.leaderSendsEarly ? 'sends early' : 'waits for fsync'}, fsync <= ${this.diskLatencyMaxMs} ms, compaction every ${this.compactEveryEntries} entries`;
    const core = `preVote=${this.preVote} checkQuorum=${this.checkQuorum} heartbeatTicks=${this.heartbeatTicks} maxEntriesPerMessage=${this.maxEntriesPerMessage} maxMessageBytes=${this.maxMessageBytes} maxInflightMessages=${this.maxInflightMessages}`;
    return `${core}; driver ${driver}; faults ${JSON.stringify(this.mix)}`;
  }

  private handle(event: SimEvent): void {
    const node = this.nodes.get(event.node);
    if (node !== undefined && node.pausedUntilMs > this.nowMs && event.kind !== EventKind.Restart && event.kind !== EventKind.Crash) {
      // A paused process (a long GC pause, a stalled disk) sees nothing until it wakes; then it
      // finds its timers overdue and its socket buffers full.
      this.queue.push(node.pausedUntilMs, event.kind, event.node, event.incarnation, event.message, event.peer, event.ok);
      return;
    }
    switch (event.kind) {
      case EventKind.Tick:
        if (node === undefined || node.raft === null || node.incarnation !== event.incarnation) return;
        node.tick();
        this.queue.push(this.nowMs + this.tickPeriodMs.get(node.id)!, EventKind.Tick, node.id, node.incarnation);
        return;
      case EventKind.Deliver: {
        const message = event.message!;
        if (node === undefined || node.raft === null) return;
        this.trace.add(this.nowMs, TraceKind.Deliver, node.id, message.type + (message.reject ? REJECT_FLAG : 0), message.from, message.term, message.index);
        node.receive(message);
        return;
      }
      case EventKind.DiskSync:
        if (node === undefined || node.raft === null || node.incarnation !== event.incarnation) return;
        node.synced();
        return;
      case EventKind.SnapshotStatus:
        if (node === undefined || node.raft === null || node.incarnation !== event.incarnation) return;
        node.raft.reportSnapshot(event.peer, event.ok);
        node.pump();
        return;
      case EventKind.Crash:
        if (node !== undefined && node.raft !== null && node.incarnation === event.incarnation) this.crash(node, this.prng.range(0, Math.min(100, this.mix.restartDelayMaxMs)));
        return;
      case EventKind.Restart:
        if (node !== undefined && node.raft === null && !node.retired) this.restart(node);
        return;
      case EventKind.Chaos:
        this.observeLeaders();
        if (this.phase === Phase.Faults) this.chaos();
        else this.checkHeal();
        this.retireRemoved();
        this.queue.push(this.nowMs + CHAOS_INTERVAL_MS, EventKind.Chaos, 0, 0);
        return;
    }
  }

  // ---- Nodes ----

  private addNode(id: number, bootstrap: Snapshot): SimNode {
    const node = new SimNode(id, new SimDisk(bootstrap), this);
    this.nodes.set(id, node);
    this.tickPeriodMs.set(id, TICK_MS + this.prng.range(-1, 1));
    this.restart(node);
    return node;
  }

  private restart(node: SimNode): void {
    const random = this.prng.fork();
    const config: RaftConfig = {
      id: node.id,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: this.heartbeatTicks,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      maxMessageBytes: this.maxMessageBytes,
      maxEntriesPerMessage: this.maxEntriesPerMessage,
      maxInflightMessages: this.maxInflightMessages,
      maxInflightBytes: 4096,
      maxUncommittedBytes: 64 * 1024,
      random: () => random.float(),
      testOnlyBugs: this.options.raftBugs,
      quiesceWhenIdle: this.options.quiesce === true,
    };
    node.start(createRaftCore(config, node.disk));
    const hs = node.disk.durableHardState;
    this.trace.add(this.nowMs, TraceKind.Restart, node.id, hs.term, hs.vote, hs.commit, node.disk.lastIndex());
    this.queue.push(this.nowMs + this.prng.range(1, TICK_MS), EventKind.Tick, node.id, node.incarnation);
    node.pump();
  }

  private crash(node: SimNode, restartAfterMs: number): void {
    const { survivedWrites, torn } = node.crash();
    this.stats.crashes++;
    this.trace.add(this.nowMs, TraceKind.Crash, node.id, 0, 0, 0, 0, `unsynced writes kept: ${survivedWrites}${torn ? ' + a torn one' : ''}`);
    if (restartAfterMs >= 0) this.queue.push(this.nowMs + restartAfterMs, EventKind.Restart, node.id, 0);
  }

  beforeTick(raft: RaftCore): void {
    if (!raft.isQuiesced()) return;
    this.stats.quiescedTicks++;
    if (!this.quiescePrng.chance(QUIESCE_WAKE_CHANCE)) return;
    this.stats.quiesceWakes++;
    raft.wake(this.quiescePrng.int(ELECTION_TICKS * 2));
  }

  private runningNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const node of this.nodes.values()) if (node.running) out.push(node);
    return out;
  }

  private isMember(id: number): boolean {
    return this.committedConf.voters.includes(id) || this.committedConf.learners.includes(id);
  }

  /** The leader of the highest term among running nodes, if any. */
  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (node.running && node.role === Role.Leader && (best === undefined || node.term > best.term)) best = node;
    }
    return best;
  }

  private observeLeaders(): void {
    const leader = this.currentLeader();
    if (leader !== undefined && leader.term > this.stats.maxTerm) this.stats.maxTerm = leader.term;
    const id = leader?.id ?? 0;
    if (id !== 0 && id !== this.lastLeaderSeen) this.stats.leaderChanges++;
    this.lastLeaderSeen = id;
  }

  // ---- The fault phase ----

  private chaos(): void {
    const prng = this.prng;
    const mix = this.mix;
    if (prng.chance(mix.networkChangeRate)) this.changeNetworkFaults();
    if (prng.chance(mix.partitionRate)) this.changePartitions();
    if (prng.chance(mix.crashRate)) this.crashSomeNode();
    if (mix.pauseRate > 0 && prng.chance(mix.pauseRate)) this.pauseSomeNode();
    if (prng.chance(mix.transferRate)) this.transferLeadership();
    if (prng.chance(mix.membershipRate)) this.changeMembership();
    if (mix.readRate > 0 && prng.chance(mix.readRate)) this.clientRead();
    if (prng.chance(mix.proposalRate)) {
      const proposals = prng.range(1, 3);
      for (let k = 0; k < proposals; k++) this.clientPropose();
    }
  }

  private changeNetworkFaults(): void {
    const prng = this.prng;
    const faults = prng.chance(0.2)
      ? { ...CALM_NETWORK }
      : {
          dropRate: prng.float() * 0.3,
          duplicateRate: prng.float() * 0.1,
          detourRate: prng.float() * 0.2,
          delayMinMs: prng.range(0, 2),
          delayMaxMs: prng.range(3, this.mix.delayMaxMs),
          detourMaxMs: prng.range(30, 300),
        };
    this.network.faults = faults;
    this.trace.add(this.nowMs, TraceKind.Fault, 0, 0, 0, 0, 0, `drop=${faults.dropRate.toFixed(2)} dup=${faults.duplicateRate.toFixed(2)} detour=${faults.detourRate.toFixed(2)} delay=${faults.delayMinMs}..${faults.delayMaxMs}/${faults.detourMaxMs}ms`);
  }

  private changePartitions(): void {
    const prng = this.prng;
    const network = this.network;
    const ids = [...this.nodes.keys()].filter((id) => !this.nodes.get(id)!.retired);
    network.healPartitions();
    this.stats.partitions++;
    const kind = prng.int(5);
    const shuffled = ids.slice();
    for (let k = shuffled.length - 1; k > 0; k--) {
      const j = prng.int(k + 1);
      [shuffled[k], shuffled[j]] = [shuffled[j], shuffled[k]];
    }
    const cut = (from: number, to: number): void => network.setLink(from, to, false);
    let description: string;
    if (kind === 0) {
      const lone = shuffled[0];
      for (const other of ids) if (other !== lone) (cut(lone, other), cut(other, lone));
      description = `isolate n${lone}`;
    } else if (kind === 1) {
      const size = prng.range(1, Math.max(1, Math.floor(ids.length / 2)));
      const side = new Set(shuffled.slice(0, size));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) cut(a, b);
      description = `split [${[...side].join(',')}] | rest`;
    } else if (kind === 2) {
      const pairs: string[] = [];
      const links = prng.range(1, ids.length);
      for (let k = 0; k < links; k++) {
        const from = prng.pick(ids);
        const to = prng.pick(ids);
        if (from !== to) (cut(from, to), pairs.push(`${from}->${to}`));
      }
      description = `asymmetric cut ${pairs.join(' ')}`;
    } else if (kind === 3 && ids.length >= 3) {
      const bridge = shuffled[0];
      const half = 1 + prng.int(shuffled.length - 2);
      const left = new Set(shuffled.slice(1, 1 + half));
      for (const a of ids) for (const b of ids) if (a !== bridge && b !== bridge && left.has(a) !== left.has(b)) cut(a, b);
      description = `bridge n${bridge} between [${[...left].join(',')}] and the rest`;
    } else {
      description = 'heal partitions';
    }
    this.trace.add(this.nowMs, TraceKind.Fault, 0, 0, 0, 0, 0, description);
  }

  private crashSomeNode(): void {
    const running = this.runningNodes();
    if (running.length === 0) return;
    const node = this.prng.chance(0.3) ? (this.currentLeader() ?? this.prng.pick(running)) : this.prng.pick(running);
    this.crash(node, this.prng.range(0, this.mix.restartDelayMaxMs));
  }

  private pauseSomeNode(): void {
    const running = this.runningNodes();
    if (running.length === 0) return;
    const node = this.prng.chance(0.5) ? (this.currentLeader() ?? this.prng.pick(running)) : this.prng.pick(running);
    const pauseMs = this.prng.range(10, 500);
    node.pausedUntilMs = this.nowMs + pauseMs;
    this.stats.pauses++;
    this.trace.add(this.nowMs, TraceKind.Note, node.id, 0, 0, 0, 0, `pauses for ${pauseMs} ms`);
  }

  private transferLeadership(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const targets = this.committedConf.voters.filter((id) => id !== leader.id && this.nodes.get(id)?.running === true);
    if (targets.length === 0) return;
    const target = this.prng.pick(targets);
    this.stats.transfers++;
    this.trace.add(this.nowMs, TraceKind.Transfer, leader.id, target);
    leader.raft!.transferLeadership(target);
    leader.pump();
  }

  private changeMembership(): void {
    if (this.adminChange !== null) {
      if (this.nowMs - this.adminChange.startedMs < ADMIN_TIMEOUT_MS) return;
      this.adminChange = null;
    }
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const conf = this.committedConf;
    let change: ConfChange;
    const runningLearners = conf.learners.filter((id) => this.nodes.get(id)?.running === true);
    if (runningLearners.length > 0) {
      change = { type: ConfChangeType.AddVoter, nodeId: this.prng.pick(runningLearners) };
    } else if (conf.voters.length > this.options.nodes) {
      const victim = this.prng.chance(0.35) && conf.voters.includes(leader.id) ? leader.id : this.prng.pick(conf.voters);
      change = { type: ConfChangeType.RemoveNode, nodeId: victim };
    } else if (this.nextNodeId <= this.options.nodes + EXTRA_NODES_MAX * 4 && this.nextNodeId < NODE_ID_LIMIT && this.liveNonMembers() < EXTRA_NODES_MAX) {
      change = { type: ConfChangeType.AddLearner, nodeId: this.nextNodeId };
    } else {
      return;
    }
    const outcome = leader.raft!.proposeConfChange(change);
    this.trace.add(this.nowMs, TraceKind.ConfChange, leader.id, 0, 0, 0, 0, ` ${ConfChangeType[change.type]} n${change.nodeId}: ${outcome.ok ? `proposed at ${outcome.index}` : `refused (${outcome.reason})`}`);
    if (!outcome.ok) return;
    // A joining node starts from the group's bootstrap state and learns every later change from the
    // log (or from a snapshot, when the leader compacted what it needs).
    if (change.type === ConfChangeType.AddLearner) this.addNode(this.nextNodeId++, this.bootstrap);
    if (change.type === ConfChangeType.RemoveNode && change.nodeId === leader.id) this.removalProposedByLeader.add(leader.id);
    this.adminChange = { change, startedMs: this.nowMs };
    leader.pump();
  }

  private liveNonMembers(): number {
    let count = 0;
    for (const node of this.nodes.values()) if (!node.retired && !this.isMember(node.id)) count++;
    return count;
  }

  private clientPropose(): void {
    if (this.proposalsPending >= CLIENT_PENDING_MAX) return;
    let target = this.nodes.get(this.leaderHint);
    if (target === undefined || !target.running || this.prng.chance(0.1)) {
      const running = this.runningNodes();
      if (running.length === 0) return;
      target = this.prng.pick(running);
    }
    this.proposeOn(target);
  }

  /**
   * A linearizable read: whatever index it is served at must cover every write acknowledged before
   * it was asked for.
   */
  private clientRead(): void {
    const running = this.runningNodes();
    if (running.length === 0) return;
    const hinted = this.nodes.get(this.leaderHint);
    const node = hinted !== undefined && hinted.running && this.prng.chance(0.8) ? hinted : this.prng.pick(running);
    const id = this.nextReadId++;
    this.reads.set(id, { node: node.id, acknowledgedThrough: this.acknowledgedThrough });
    this.stats.reads++;
    const context = Uint8Array.of(id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
    if (this.driverBugs.localRead) {
      this.readAnswered(node, { index: node.applied, requestContext: context });
      return;
    }
    node.raft!.readIndex(context);
    node.pump();
  }

  readAnswered(node: SimNode, state: ReadState): void {
    const context = state.requestContext;
    const id = ((context[0] << 24) | (context[1] << 16) | (context[2] << 8) | context[3]) >>> 0;
    const read = this.reads.get(id);
    if (read === undefined) return;
    this.reads.delete(id);
    this.stats.readsAnswered++;
    if (read.node !== node.id) throw new InvariantViolation('Linearizable reads', `read ${id} asked of n${read.node} was answered on n${node.id}`);
    if (state.index < read.acknowledgedThrough) {
      throw new InvariantViolation('Linearizable reads', `read ${id} on n${node.id} served at index ${state.index}, but writes through ${read.acknowledgedThrough} were acknowledged before it was asked`);
    }
    if (state.index > this.checker.committedUpTo) {
      throw new InvariantViolation('Linearizable reads', `read ${id} on n${node.id} served at index ${state.index}, beyond anything known committed (${this.checker.committedUpTo})`);
    }
  }

  private proposeOn(node: SimNode): Proposal | null {
    const value = this.nextValue++;
    const count = this.prng.range(1, 5);
    const data = new Uint8Array(4 + this.prng.int(60));
    data[0] = value >>> 24;
    data[1] = (value >>> 16) & 0xff;
    data[2] = (value >>> 8) & 0xff;
    data[3] = value & 0xff;
    const outcome = node.raft!.propose(data, count);
    if (!outcome.ok) {
      this.stats.rejected++;
      if (outcome.leader !== 0) this.leaderHint = outcome.leader;
      return null;
    }
    this.stats.proposed++;
    this.proposalsPending++;
    this.leaderHint = node.id;
    const proposal: Proposal = { value, count, index: outcome.index, term: outcome.term, node: node.id, proposedAtMs: this.nowMs };
    node.pending.push(proposal);
    this.trace.add(this.nowMs, TraceKind.Propose, node.id, value, count, outcome.index, outcome.term);
    node.pump();
    return proposal;
  }

  // ---- SimContext callbacks ----

  decodeConfChange(data: Uint8Array): ConfChange {
    return decodeConfChange(data);
  }

  proposalResolved(proposal: Proposal, outcome: ProposalOutcome): void {
    this.proposalsPending--;
    if (outcome === ProposalOutcome.Committed) {
      this.stats.committed++;
      this.acknowledgedThrough = Math.max(this.acknowledgedThrough, proposal.index + proposal.count - 1);
      this.trace.add(this.nowMs, TraceKind.Ack, proposal.node, proposal.value, proposal.index, proposal.term);
    } else if (outcome === ProposalOutcome.Failed) {
      this.stats.failed++;
    } else {
      this.stats.unknown++;
    }
    if (proposal === this.probe) {
      if (outcome === ProposalOutcome.Committed) this.probeAcked = true;
      else this.probe = null;
    }
  }

  confApplied(_node: number, index: number, conf: ConfState): void {
    if (index <= this.committedConfIndex) return;
    this.committedConfIndex = index;
    const previous = this.committedConf;
    this.committedConf = conf;
    this.stats.confChanges++;
    if (conf.learners.length > previous.learners.length) this.stats.learnersAdded++;
    else if (conf.voters.length > previous.voters.length) this.stats.promotions++;
    else if (conf.voters.length < previous.voters.length) {
      this.stats.removals++;
      const removed = previous.voters.find((id) => !conf.voters.includes(id));
      if (removed !== undefined && this.removalProposedByLeader.has(removed)) this.stats.leaderRemovals++;
    }
    for (const id of conf.voters) this.everMember.add(id);
    for (const id of conf.learners) this.everMember.add(id);
    for (const node of this.nodes.values()) {
      if (node.removedAtMs < 0 && !this.isMember(node.id) && this.everMember.has(node.id)) node.removedAtMs = this.nowMs;
    }
    const pending = this.adminChange?.change;
    if (pending !== undefined) {
      const done =
        (pending.type === ConfChangeType.RemoveNode && !this.isMember(pending.nodeId)) ||
        (pending.type === ConfChangeType.AddLearner && this.isMember(pending.nodeId)) ||
        (pending.type === ConfChangeType.AddVoter && conf.voters.includes(pending.nodeId));
      if (done) this.adminChange = null;
    }
  }


  criticalMoment(node: SimNode): void {
    // Crashing right after a vote or a replication, before or while the disk catches up, is where
    // durability mistakes show; random crashes alone reach these moments too rarely.
    if (this.phase === Phase.Faults && this.mix.criticalCrashRate > 0 && this.prng.chance(this.mix.criticalCrashRate)) {
      this.queue.push(this.nowMs + this.prng.range(0, this.diskLatencyMaxMs), EventKind.Crash, node.id, node.incarnation);
    }
  }

  snapshotInstalled(_node: number): void {
    this.stats.snapshotsInstalled++;
  }

  private retireRemoved(): void {
    for (const node of this.nodes.values()) {
      if (node.retired || node.removedAtMs < 0 || this.isMember(node.id)) continue;
      if (this.nowMs - node.removedAtMs < RETIRE_GRACE_MS) continue;
      node.retired = true;
      if (node.running) this.crash(node, -1);
    }
  }

  // ---- Heal and liveness ----

  private startHeal(): void {
    this.phase = Phase.Heal;
    this.healStartMs = this.nowMs;
    this.network.faults = { ...CALM_NETWORK };
    this.network.healPartitions();
    this.trace.add(this.nowMs, TraceKind.Fault, 0, 0, 0, 0, 0, 'all faults healed; checking liveness');
    for (const node of this.nodes.values()) node.pausedUntilMs = 0;
    for (const node of this.nodes.values()) if (!node.running && !node.retired) this.restart(node);
  }

  private checkHeal(): void {
    const sinceHealMs = this.nowMs - this.healStartMs;
    const leader = this.agreedLeader();
    if (leader !== undefined && this.leaderSeenMs < 0) {
      this.leaderSeenMs = this.nowMs;
      this.stats.healLeaderMs = sinceHealMs;
    }
    const leaderBoundMs = this.preVote ? LEADER_BOUND_MS : LEADER_BOUND_WITHOUT_PRE_VOTE_MS;
    if (this.leaderSeenMs < 0 && sinceHealMs > leaderBoundMs) {
      throw new InvariantViolation('Liveness', `no leader known to every member ${leaderBoundMs} ms after the faults healed`);
    }
    if (this.leaderSeenMs >= 0) this.checkProgress();
    if (leader !== undefined && this.probe === null) this.probe = this.proposeOn(leader);
    // Clients keep writing, so entries stranded beyond the new leader's log are overwritten in time.
    if (this.prng.chance(0.2)) this.clientPropose();
    let pendingFromFaults = 0;
    for (const node of this.nodes.values()) {
      for (const proposal of node.pending) if (proposal.proposedAtMs <= this.healStartMs) pendingFromFaults++;
    }
    if (pendingFromFaults === 0 && this.stats.healAnsweredMs < 0) this.stats.healAnsweredMs = sinceHealMs;
    if (pendingFromFaults > 0 && this.leaderSeenMs >= 0 && this.nowMs - this.leaderSeenMs > ANSWER_BOUND_MS) {
      throw new InvariantViolation('Liveness', `${pendingFromFaults} proposals made during the faults neither committed nor failed ${ANSWER_BOUND_MS} ms after a leader emerged`);
    }
    if (this.probeAcked && pendingFromFaults === 0 && this.membersConverged()) {
      this.stats.healConvergeMs = sinceHealMs;
      this.phase = Phase.Done;
      return;
    }
    if (sinceHealMs > HEAL_BOUND_MS) {
      const lagging = this.committedConf.voters.concat(this.committedConf.learners).map((id) => `n${id}@${this.nodes.get(id)?.applied}`);
      throw new InvariantViolation('Liveness', `no convergence ${HEAL_BOUND_MS} ms after the faults healed (probe ${this.probeAcked ? 'acknowledged' : 'not acknowledged'}, ${pendingFromFaults} proposals from the fault phase unanswered, applied ${lagging.join(' ')})`);
    }
  }

  /** Every member behind the leader's commit index applies something new at least every STALL_BOUND_MS. */
  private checkProgress(): void {
    const leader = this.currentLeader();
    const commit = leader?.raft?.status().commit ?? 0;
    for (const id of this.committedConf.voters.concat(this.committedConf.learners)) {
      const node = this.nodes.get(id);
      if (node === undefined) continue;
      const seen = this.progressSeen.get(id);
      if (seen === undefined || node.applied !== seen.applied || node.applied >= commit) {
        this.progressSeen.set(id, { applied: node.applied, sinceMs: this.nowMs });
      } else if (this.nowMs - seen.sinceMs > STALL_BOUND_MS) {
        throw new InvariantViolation('Liveness', `n${id} applied nothing for ${STALL_BOUND_MS} ms after the faults healed (applied ${node.applied}, leader n${leader?.id} commit ${commit})`);
      }
    }
  }

  /** A leader whose term every running voter has reached and whom every running voter follows. */
  private agreedLeader(): SimNode | undefined {
    const leader = this.currentLeader();
    if (leader === undefined || !this.committedConf.voters.includes(leader.id)) return undefined;
    for (const id of this.committedConf.voters) {
      const node = this.nodes.get(id);
      if (node === undefined || !node.running) return undefined;
      if (node.term !== leader.term || node.leader !== leader.id) return undefined;
    }
    return leader;
  }

  private membersConverged(): boolean {
    const probeIndex = this.probe!.index;
    for (const id of this.committedConf.voters.concat(this.committedConf.learners)) {
      const node = this.nodes.get(id);
      if (node === undefined || !node.running || node.applied < probeIndex) return false;
    }
    return true;
  }
}

/** Runs one seed. */
export function runSimulation(options: SimOptions): SimResult {
  return new ClusterSim(options).run();
}

/** The command that replays a run exactly. */
export function replayCommand(options: SimOptions, defaults: { steps: number }): string {
  const flags: string[] = [];
  if (options.nodes !== nodesForSeed(options.seed)) flags.push(`--nodes ${options.nodes}`);
  if (options.steps !== defaults.steps) flags.push(`--steps ${options.steps}`);
  const bug = bugNameOf(options);
  if (bug !== undefined) flags.push(`--bug ${bug}`);
  if (options.stepDuringSync !== undefined) flags.push(options.stepDuringSync ? '--step-during-sync' : '--hold-during-sync');
  if (options.quiesce === true) flags.push('--quiesce');
  return `SEED=${options.seed} npm run sim${flags.length > 0 ? ` -- ${flags.join(' ')}` : ''}`;
}

/** Without --nodes, even seeds run 3 nodes and odd seeds 5, so a seed alone names its run. */
export function nodesForSeed(seed: number): number {
  return seed % 2 === 0 ? 3 : 5;
}
