import assert from 'node:assert/strict';
import { decodeConfChange } from '../../raft/conf-change-codec.js';
import { RaftNode } from '../../raft/raft-node.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftConfig,
  type Ready,
} from '../../raft/types.js';
import { MemoryStorage } from './memory-storage.js';

/**
 * A small cluster of RaftNodes driven one command at a time, printing everything that happens, for
 * the transcript tests: each command returns the lines it printed. Messages wait in per-node
 * inboxes until delivered; isolated nodes lose every message to or from them.
 */
export class TranscriptCluster {
  private readonly nodes = new Map<NodeId, RaftNode>();
  private readonly storages = new Map<NodeId, MemoryStorage>();
  private readonly configs = new Map<NodeId, RaftConfig>();
  private readonly inboxes = new Map<NodeId, Message[]>();
  private readonly isolated = new Set<NodeId>();
  private readonly stashed = new Map<NodeId, Message[]>();
  private readonly applied = new Map<NodeId, Entry[]>();
  private readonly highestCommit = new Map<NodeId, number>();
  private out: string[] = [];
  private bootstrapConf: ConfState = { voters: [], learners: [] };
  /** Every message handed out in a Ready, in order, for unit tests to inspect. */
  readonly sent: Message[] = [];

  run(line: string): string[] {
    this.out = [];
    const [command, ...args] = line.trim().split(/\s+/);
    const options = new Map<string, string>();
    const positional: string[] = [];
    for (const arg of args) {
      const eq = arg.indexOf('=');
      if (eq > 0) options.set(arg.slice(0, eq), arg.slice(eq + 1));
      else positional.push(arg);
    }
    const ids = (): NodeId[] => positional.map(Number);
    switch (command) {
      case 'nodes':
        this.createNodes(positional, options);
        break;
      case 'add-node':
        // A joining node starts from the group's bootstrap state, as the first members did, and
        // learns every later change from the log (or from a snapshot).
        this.addNode(Number(positional[0]), this.bootstrapConf, options);
        break;
      case 'campaign':
        this.node(ids()[0]).step(hup(ids()[0]));
        break;
      case 'tick':
        for (let i = 0; i < Number(positional[1] ?? 1); i++) this.node(ids()[0]).tick();
        break;
      case 'tick-all':
        for (let i = 0; i < Number(positional[0] ?? 1); i++) for (const node of this.nodes.values()) node.tick();
        break;
      case 'propose':
        this.print(this.node(ids()[0]).propose(new TextEncoder().encode(positional[1]), Number(positional[2] ?? 1)));
        break;
      case 'propose-conf-change':
        this.print(this.node(ids()[0]).proposeConfChange({ type: parseChange(positional[1]), nodeId: Number(positional[2]) }));
        break;
      case 'transfer-leadership':
        this.node(ids()[0]).transferLeadership(ids()[1]);
        break;
      case 'read-index':
        this.node(ids()[0]).readIndex(new TextEncoder().encode(positional[1]));
        break;
      case 'process-ready':
        for (const id of ids()) this.processReady(id);
        break;
      case 'deliver':
        for (const id of ids()) this.deliver(id);
        break;
      case 'drop':
        for (const id of ids()) this.drop(id);
        break;
      case 'stash':
        // Holds back a node's inbox, to deliver later as stale, reordered messages.
        for (const id of ids()) {
          this.stashed.set(id, [...(this.stashed.get(id) ?? []), ...this.inboxes.get(id)!]);
          this.inboxes.set(id, []);
        }
        break;
      case 'unstash':
        for (const id of ids()) {
          this.inboxes.get(id)!.push(...(this.stashed.get(id) ?? []));
          this.stashed.delete(id);
        }
        break;
      case 'stabilize':
        this.stabilize(positional.length > 0 ? ids() : [...this.nodes.keys()]);
        break;
      case 'isolate':
        for (const id of ids()) this.isolated.add(id);
        break;
      case 'heal':
        this.isolated.clear();
        break;
      case 'compact':
        this.compact(ids()[0], Number(positional[1]));
        break;
      case 'preload':
        this.preload(ids()[0], positional.slice(1), Number(options.get('term') ?? 0));
        break;
      case 'restart':
        this.restart(ids()[0]);
        break;
      case 'status':
        for (const id of positional.length > 0 ? ids() : [...this.nodes.keys()]) this.printStatus(id);
        break;
      case 'log':
        for (const id of ids()) this.out.push(`${id}: ${this.storage(id).allEntries().map(formatEntry).join(' ') || '(empty)'}`);
        break;
      default:
        throw new Error(`unknown transcript command ${command}`);
    }
    return this.out;
  }

  private createNodes(positional: string[], options: Map<string, string>): void {
    const count = Number(positional[0]);
    const voters = Array.from({ length: count }, (_, i) => i + 1);
    const learners = (options.get('learners') ?? '').split(',').filter((x) => x !== '').map(Number);
    this.bootstrapConf = { voters, learners };
    for (const id of [...voters, ...learners]) this.addNode(id, { voters, learners }, options);
  }

  private addNode(id: NodeId, conf: ConfState, options: Map<string, string>): void {
    const flags = new Set((options.get('flags') ?? 'pre-vote,check-quorum').split(','));
    const bugs = new Set((options.get('bugs') ?? '').split(','));
    const config: RaftConfig = {
      id,
      electionTicks: Number(options.get('election') ?? 10),
      heartbeatTicks: Number(options.get('heartbeat') ?? 1),
      preVote: flags.has('pre-vote'),
      checkQuorum: flags.has('check-quorum'),
      maxMessageBytes: Number(options.get('max-message-bytes') ?? 1024),
      maxEntriesPerMessage: Number(options.get('max-entries') ?? 16),
      maxInflightMessages: Number(options.get('max-inflight') ?? 4),
      maxInflightBytes: Number(options.get('max-inflight-bytes') ?? 4096),
      maxUncommittedBytes: Number(options.get('max-uncommitted-bytes') ?? 1 << 20),
      // Fixed, staggered election timeouts (node 1: electionTicks, node 2: one tick more, ...), so a
      // transcript says precisely when each node campaigns.
      random: () => ((id - 1) % 10) / 10,
      testOnlyBugs: { commitPreviousTermByCounting: bugs.has('commit-previous-term'), voteWithoutLogCheck: bugs.has('vote-without-log-check') },
    };
    const storage = new MemoryStorage(conf);
    this.storages.set(id, storage);
    this.configs.set(id, config);
    this.nodes.set(id, new RaftNode(config, storage));
    this.inboxes.set(id, []);
    this.applied.set(id, []);
    this.highestCommit.set(id, 0);
  }

  /**
   * Gives a fresh node a log, as if it had lived through earlier terms: each argument is an
   * entry's term, or term x count for a ranged entry ("2x5"). The hard state takes the last term.
   */
  private preload(id: NodeId, specs: string[], term: number): void {
    const storage = this.storage(id);
    assert.equal(storage.lastIndex(), 0, 'preload only an empty node');
    const entries: Entry[] = [];
    let index = 1;
    for (const spec of specs) {
      const [term, count] = spec.split('x').map(Number);
      entries.push({ index, count: count ?? 1, term, type: EntryType.Normal, data: new TextEncoder().encode(`t${term}`) });
      index += count ?? 1;
    }
    storage.append(entries);
    const lastTerm = entries.length === 0 ? 0 : entries[entries.length - 1].term;
    storage.setHardState({ term: Math.max(term, lastTerm), vote: 0, commit: 0 });
    this.nodes.set(id, new RaftNode(this.configs.get(id)!, storage));
    this.out.push(`${id}: ${storage.allEntries().map(formatEntry).join(' ')}`);
  }

  /** The node itself, for unit tests that call its API directly. */
  raftNode(id: NodeId): RaftNode {
    return this.node(id);
  }

  /** The node's storage, for unit tests that play the driver themselves. */
  storageOf(id: NodeId): MemoryStorage {
    return this.storage(id);
  }

  /** The node's persisted log, for unit tests. */
  logOf(id: NodeId): Entry[] {
    return this.storage(id).allEntries();
  }

  /** The node's status, for unit tests that drive the cluster through commands. */
  statusOf(id: NodeId) {
    return this.node(id).status();
  }

  private restart(id: NodeId): void {
    this.nodes.set(id, new RaftNode(this.configs.get(id)!, this.storage(id)));
    this.inboxes.set(id, []);
    this.out.push(`${id} restarted from storage`);
    this.printStatus(id);
  }

  private compact(id: NodeId, index: number): void {
    const node = this.node(id);
    assert.ok(index <= node.status().applied, `compact ${index} beyond applied ${node.status().applied}`);
    this.storage(id).compact(index, node.confStateAt(index));
    this.out.push(`${id} compacted through ${index}; first index ${this.storage(id).firstIndex()}`);
  }

  /** Until nothing moves: every node handles its Ready, then every inbox is delivered. */
  private stabilize(ids: NodeId[]): void {
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of ids) {
        if (this.node(id).hasReady()) {
          this.processReady(id);
          moved = true;
        }
      }
      for (const id of ids) {
        if (this.inboxes.get(id)!.length > 0) {
          this.deliver(id);
          moved = true;
        }
      }
      if (!moved) return;
    }
    throw new Error('stabilize did not settle in 1000 rounds');
  }

  private processReady(id: NodeId): void {
    const node = this.node(id);
    if (!node.hasReady()) return;
    const ready = node.ready();
    this.out.push(`> ${id} handling Ready`);
    this.printReady(ready);
    const storage = this.storage(id);
    if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
    storage.append(ready.entries);
    if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
    this.sent.push(...ready.messages);
    for (const m of ready.messages) {
      if (this.isolated.has(m.from) || this.isolated.has(m.to)) continue;
      this.inboxes.get(m.to)?.push(m);
    }
    this.applied.get(id)!.push(...ready.committedEntries);
    node.advance(ready);
    this.checkCommitNeverRegresses(id);
  }

  private deliver(id: NodeId): void {
    const inbox = this.inboxes.get(id)!;
    if (inbox.length === 0) return;
    this.inboxes.set(id, []);
    this.out.push(`> ${id} receiving messages`);
    for (const m of inbox) {
      this.out.push(`  ${formatMessage(m)}`);
      this.node(id).step(m);
      if (m.type === MessageType.Snapshot) {
        // The transport reports a delivered snapshot back to the leader, as the broker's does.
        this.node(m.from).reportSnapshot(m.to, true);
      }
    }
    this.checkCommitNeverRegresses(id);
  }

  private drop(id: NodeId): void {
    const inbox = this.inboxes.get(id)!;
    this.inboxes.set(id, []);
    for (const m of inbox) this.out.push(`dropped: ${formatMessage(m)}`);
  }

  private checkCommitNeverRegresses(id: NodeId): void {
    const commit = this.node(id).status().commit;
    const highest = this.highestCommit.get(id)!;
    // Kept across restarts too: a restarted node reads its commit index back from storage.
    assert.ok(commit >= highest, `node ${id} commit index regressed from ${highest} to ${commit}`);
    this.highestCommit.set(id, commit);
  }

  private printReady(ready: Ready): void {
    if (ready.softState !== undefined) this.out.push(`  role=${ready.softState.role} leader=${ready.softState.leader}`);
    if (ready.hardState !== undefined) {
      const hs = ready.hardState;
      this.out.push(`  hard state: term=${hs.term} vote=${hs.vote} commit=${hs.commit}`);
    }
    if (ready.snapshot !== undefined) {
      const s = ready.snapshot;
      this.out.push(`  snapshot: ${s.index}/${s.term} ${formatConf(s.conf)}`);
    }
    if (ready.entries.length > 0) this.out.push(`  entries: ${ready.entries.map(formatEntry).join(' ')}`);
    if (ready.committedEntries.length > 0) this.out.push(`  committed: ${ready.committedEntries.map(formatEntry).join(' ')}`);
    for (const rs of ready.readStates) this.out.push(`  read state: index=${rs.index} context=${new TextDecoder().decode(rs.requestContext)}`);
    for (const m of ready.messages) {
      const lost = this.isolated.has(m.from) || this.isolated.has(m.to) ? ' (lost)' : '';
      this.out.push(`  send ${formatMessage(m)}${lost}`);
    }
  }

  private printStatus(id: NodeId): void {
    const s = this.node(id).status();
    this.out.push(`${id}: ${s.role} term=${s.term} vote=${s.vote} leader=${s.leader} commit=${s.commit} applied=${s.applied} last=${this.node(id).lastIndex()} ${formatConf(s.conf)}`);
    if (s.progress !== undefined) {
      for (const [peer, p] of [...s.progress].sort((a, b) => a[0] - b[0])) this.out.push(`  ${peer}: match=${p.match} next=${p.next} ${p.state}`);
    }
  }

  private print(result: ProposeResult): void {
    if (result.ok) this.out.push(`ok index=${result.index} term=${result.term}`);
    else this.out.push(`refused: ${result.reason} (leader ${result.leader})`);
  }

  private node(id: NodeId): RaftNode {
    const node = this.nodes.get(id);
    assert.ok(node !== undefined, `no node ${id}`);
    return node;
  }

  private storage(id: NodeId): MemoryStorage {
    const storage = this.storages.get(id);
    assert.ok(storage !== undefined, `no storage ${id}`);
    return storage;
  }
}

function hup(id: NodeId): Message {
  return { type: MessageType.Hup, from: id, to: id, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0 };
}

function parseChange(name: string): ConfChangeType {
  switch (name) {
    case 'add-learner':
      return ConfChangeType.AddLearner;
    case 'add-voter':
      return ConfChangeType.AddVoter;
    case 'remove':
      return ConfChangeType.RemoveNode;
    default:
      throw new Error(`unknown conf change ${name}`);
  }
}

export function formatEntry(entry: Entry): string {
  const range = entry.count === 1 ? `${entry.index}` : `${entry.index}-${entry.index + entry.count - 1}`;
  let body: string;
  if (entry.type === EntryType.NoOp) body = 'noop';
  else if (entry.type === EntryType.ConfChange) {
    const change = decodeConfChange(entry.data);
    body = `${ConfChangeType[change.type]}(${change.nodeId})`;
  } else body = JSON.stringify(new TextDecoder().decode(entry.data));
  return `${range}@${entry.term}:${body}`;
}

function formatConf(conf: ConfState): string {
  return `voters=(${conf.voters.join(',')}) learners=(${conf.learners.join(',')})`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${MessageType[m.type]} term=${m.term}`;
  const context = m.context !== undefined && m.context.length > 0 ? ` context=${new TextDecoder().decode(m.context)}` : '';
  switch (m.type) {
    case MessageType.PreVote:
    case MessageType.Vote:
      return `${head} last=${m.index}@${m.logTerm}${context}`;
    case MessageType.PreVoteResponse:
    case MessageType.VoteResponse:
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case MessageType.Append:
      return `${head} prev=${m.index}@${m.logTerm} commit=${m.commit} entries=[${m.entries.map(formatEntry).join(' ')}]`;
    case MessageType.AppendResponse:
      return m.reject ? `${head} rejected index=${m.index} hint=${m.rejectHint}@${m.rejectHintTerm}` : `${head} index=${m.index}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}${context}`;
    case MessageType.Snapshot: {
      const s = m.snapshot!;
      return `${head} snapshot=${s.index}@${s.term} ${formatConf(s.conf)}`;
    }
    case MessageType.ReadIndexResponse:
      return `${head} index=${m.index}${context}`;
    default:
      return `${head}${context}`;
  }
}
