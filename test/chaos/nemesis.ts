/**
 * The nemesis of a chaos run: from a seed, it picks faults one after another, injects each on
 * real broker processes, holds it a few seconds, heals it, and records it as a nemesis event
 * (kind, target, injection and heal times). Faults:
 *
 * | kind | what |
 * | --- | --- |
 * | `kill` | SIGKILL a random broker or the leader of a random partition; restart after 1-4 s |
 * | `pause` | SIGSTOP a random broker or a partition leader for 2-5 s (past the 0.6-1.2 s election timeout), then SIGCONT |
 * | `partition-halves` | cut every link between two random halves of the brokers |
 * | `isolate-leader` | cut every link of a partition leader |
 * | `bridge` | majorities ring: with 5 brokers each one reaches its two neighbours of a random ring, so every broker sees a majority and no two see the same one; with 3, one link is cut and the third broker bridges the two ends |
 * | `power-loss-one` | SIGKILL one broker, cut its segment and index files back to their fsynced lengths, restart |
 * | `power-loss-all` | the same on every broker at once |
 * | `bitflip` | SIGKILL one broker, flip one bit in a committed batch of one of its replicas, restart |
 * | `disk-full` | every write of one broker fails with ENOSPC for 2-6 s |
 *
 * Network faults use the harness's TCP proxies (one per ordered broker pair, test/fixtures/fault-proxy.ts)
 * rather than network namespaces and iptables: they need no root and no kernel features on a CI
 * runner, they work on one loopback interface shared with the clients (whose links stay whole),
 * and a cut resets the connections at once, which is how a broker sees a broken link. What they
 * cannot do is delay or drop single packets; every fault here is a clean cut.
 *
 * The nemesis never has two faults at once, so its kill-and-restart faults never stop a majority
 * for long, except `power-loss-all`, which is the point of that fault.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterHarness } from '../fixtures/cluster-harness.js';
import type { TestRandom } from '../fixtures/test-random.js';
import type { ChaosRecorder } from './chaos-recorder.js';
import { cutToSyncedLengths, flipCommittedBit } from './disk-faults.js';

export type FaultKind =
  | 'kill'
  | 'pause'
  | 'partition-halves'
  | 'isolate-leader'
  | 'bridge'
  | 'power-loss-one'
  | 'power-loss-all'
  | 'bitflip'
  | 'disk-full';

export const faultKinds: readonly FaultKind[] = ['kill', 'pause', 'partition-halves', 'isolate-leader', 'bridge', 'power-loss-one', 'power-loss-all', 'bitflip', 'disk-full'];

export interface NemesisOptions {
  readonly cluster: ClusterHarness;
  readonly random: TestRandom;
  readonly recorder: ChaosRecorder;
  readonly kinds: readonly FaultKind[];
  readonly topic: string;
  readonly partitions: number;
  /** The fsync journal of each broker (BROOK_TEST_FSYNC_JOURNAL). */
  readonly fsyncJournalOf: (id: number) => string;
  /** The file whose existence makes a broker's writes fail (BROOK_TEST_FAIL_WRITES_FILE). */
  readonly diskFullFlagOf: (id: number) => string;
  /** Quiet time between two faults, ms: [min, max). */
  readonly quietMs?: readonly [number, number];
  /** Progress lines (one per fault). */
  readonly log?: (line: string) => void;
}

/** Starts of a broker that fails to come back are retried this often before the run gives up on it. */
const RESTART_ATTEMPTS_MAX = 3;

export class Nemesis {
  /** Problems that are not history anomalies: a broker that died by itself or did not restart. */
  readonly problems: string[] = [];
  private readonly faultCounts = new Map<string, number>();
  /** Brokers the nemesis stopped on purpose (the rest must be running whenever no fault is on). */
  private readonly stoppedOnPurpose = new Set<number>();

  constructor(private readonly options: NemesisOptions) {}

  get counts(): ReadonlyMap<string, number> {
    return this.faultCounts;
  }

  /** Injects faults one at a time until `untilMs` (a fault started before it is still held and healed). */
  async run(untilMs: number): Promise<void> {
    const [quietMinMs, quietMaxMs] = this.options.quietMs ?? [1_000, 3_000];
    while (Date.now() < untilMs) {
      await sleep(quietMinMs + this.options.random.below(quietMaxMs - quietMinMs));
      if (Date.now() >= untilMs) break;
      await this.restartCrashed();
      const kind = this.options.random.pick(this.options.kinds);
      const startMs = Date.now();
      const target = await this.inject(kind);
      this.faultCounts.set(kind, (this.faultCounts.get(kind) ?? 0) + 1);
      this.options.recorder.record({ type: 'nemesis', kind, target, startMs, endMs: Date.now() });
      this.options.log?.(`nemesis ${kind} ${target} ${Date.now() - startMs} ms`);
    }
  }

  /** Ends every fault: links healed, disks writable, paused brokers continued, stopped ones started. */
  async healAll(): Promise<void> {
    const cluster = this.options.cluster;
    cluster.heal();
    for (const id of cluster.ids()) rmSync(this.options.diskFullFlagOf(id), { force: true });
    for (const id of cluster.ids()) if (cluster.broker(id).state === 'paused') cluster.resume(id);
    await this.restartCrashed();
  }

  private async inject(kind: FaultKind): Promise<string> {
    switch (kind) {
      case 'kill':
        return this.kill();
      case 'pause':
        return this.pause();
      case 'partition-halves':
        return this.halves();
      case 'isolate-leader':
        return this.isolateLeader();
      case 'bridge':
        return this.bridge();
      case 'power-loss-one':
        return this.powerLoss([this.options.random.pick(this.runningIds())]);
      case 'power-loss-all':
        return this.powerLoss(this.runningIds());
      case 'bitflip':
        return this.bitflip();
      case 'disk-full':
        return this.diskFull();
    }
  }

  private runningIds(): number[] {
    return this.options.cluster.runningIds();
  }

  private holdMs(minMs: number, maxMs: number): Promise<void> {
    return sleep(minMs + this.options.random.below(maxMs - minMs));
  }

  /** A random running broker, or (half the time) the leader of a random partition when one is known. */
  private async victim(): Promise<{ id: number; why: string }> {
    const running = this.runningIds();
    if (this.options.random.chance(0.5)) {
      const partition = this.options.random.below(this.options.partitions);
      const leader = await this.options.cluster.leaderOf(this.options.topic, partition).catch(() => undefined);
      if (leader !== undefined && running.includes(leader)) return { id: leader, why: `leader of ${this.options.topic}/${partition}` };
    }
    return { id: this.options.random.pick(running), why: 'random' };
  }

  private async kill(): Promise<string> {
    const { id, why } = await this.victim();
    await this.stop(id);
    await this.holdMs(1_000, 4_000);
    await this.start(id);
    return `broker-${id} (${why})`;
  }

  private async pause(): Promise<string> {
    const { id, why } = await this.victim();
    this.options.cluster.pause(id);
    await this.holdMs(2_000, 5_000);
    if (this.options.cluster.broker(id).state === 'paused') this.options.cluster.resume(id);
    return `broker-${id} (${why})`;
  }

  private async halves(): Promise<string> {
    const ids = this.shuffled(this.options.cluster.ids());
    const sideA = ids.slice(0, Math.floor(ids.length / 2));
    const sideB = ids.slice(sideA.length);
    this.options.cluster.split(sideA, sideB);
    await this.holdMs(3_000, 8_000);
    this.options.cluster.heal();
    return `${sideA.join(',')} | ${sideB.join(',')}`;
  }

  private async isolateLeader(): Promise<string> {
    const { id, why } = await this.victim();
    this.options.cluster.isolate(id);
    await this.holdMs(3_000, 8_000);
    this.options.cluster.heal();
    return `broker-${id} (${why})`;
  }

  private async bridge(): Promise<string> {
    const cluster = this.options.cluster;
    const ring = this.shuffled(cluster.ids());
    const cut = bridgeCuts(ring);
    for (const [a, b] of cut) cluster.cutLink(a, b);
    await this.holdMs(3_000, 8_000);
    cluster.heal();
    return `ring ${ring.join('-')} (cut ${cut.map(([a, b]) => `${a}-${b}`).join(' ')})`;
  }

  private async powerLoss(ids: readonly number[]): Promise<string> {
    await Promise.all(ids.map((id) => this.stop(id)));
    const cut = ids.map((id) => {
      const result = cutToSyncedLengths(this.options.cluster.broker(id).dataDir, this.options.fsyncJournalOf(id));
      return `broker-${id}: ${result.filesCut} files, ${result.bytesCut} bytes cut`;
    });
    await this.holdMs(500, 2_000);
    await Promise.all(ids.map((id) => this.start(id)));
    return cut.join('; ');
  }

  private async bitflip(): Promise<string> {
    const { id } = await this.victim();
    await this.stop(id);
    const flipped = flipCommittedBit(this.options.cluster.broker(id).dataDir, this.options.topic, this.options.random);
    await this.holdMs(500, 1_500);
    await this.start(id);
    return flipped === undefined ? `broker-${id}: no committed batch to flip` : `broker-${id}: ${flipped.file} byte ${flipped.positionBytes} bit ${flipped.bit} (batch ${flipped.batchBaseOffset})`;
  }

  private async diskFull(): Promise<string> {
    const id = this.options.random.pick(this.runningIds());
    writeFileSync(this.options.diskFullFlagOf(id), 'full\n');
    await this.holdMs(2_000, 6_000);
    rmSync(this.options.diskFullFlagOf(id), { force: true });
    return `broker-${id}`;
  }

  private async stop(id: number): Promise<void> {
    this.stoppedOnPurpose.add(id);
    await this.options.cluster.kill(id, 'SIGKILL');
  }

  /** Starts a broker again; a broker that does not come back is a problem of the run (and is retried). */
  private async start(id: number): Promise<void> {
    for (let attempt = 1; attempt <= RESTART_ATTEMPTS_MAX; attempt++) {
      try {
        if (this.options.cluster.broker(id).state === 'stopped') await this.options.cluster.restart(id);
        this.stoppedOnPurpose.delete(id);
        return;
      } catch (error) {
        // The failed process's own output is in the error (the harness keeps only started ones).
        this.problems.push(`broker ${id} did not restart (attempt ${attempt}): ${error instanceof Error ? error.message.slice(-4_000) : String(error)}`);
        await sleep(1_000);
      }
    }
  }

  /** A broker that exited though the nemesis did not stop it crashed: a problem; it is started again. */
  private async restartCrashed(): Promise<void> {
    const cluster = this.options.cluster;
    for (const id of cluster.ids()) {
      if (cluster.broker(id).state !== 'stopped') continue;
      if (!this.stoppedOnPurpose.has(id)) {
        const exits = cluster.exitCodes(id);
        this.problems.push(`broker ${id} exited by itself (exit ${exits.at(-1)}):\n${cluster.output(id).slice(-3_000)}`);
        this.stoppedOnPurpose.add(id);
      }
      await this.start(id);
    }
  }

  private shuffled(ids: readonly number[]): number[] {
    const copy = [...ids];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.options.random.below(i + 1);
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }
}

export function parseFaultKinds(text: string): FaultKind[] {
  const kinds = text.split(',').map((kind) => kind.trim()).filter((kind) => kind.length > 0);
  for (const kind of kinds) if (!faultKinds.includes(kind as FaultKind)) throw new Error(`unknown fault kind ${kind} (known: ${faultKinds.join(', ')})`);
  return kinds as FaultKind[];
}

/**
 * The links a bridge fault cuts, for brokers in `ring` order. Three brokers: the two ends of the
 * line lose their link and the middle one bridges them. More: every link but those between ring
 * neighbours, so each broker reaches exactly its two neighbours (with five, itself and two make a
 * majority, and no two brokers see the same majority).
 */
export function bridgeCuts(ring: readonly number[]): Array<[number, number]> {
  if (ring.length === 3) return [[ring[0], ring[2]]];
  const cuts: Array<[number, number]> = [];
  for (let i = 0; i < ring.length; i++) {
    for (let j = i + 1; j < ring.length; j++) {
      const neighbours = j === i + 1 || (i === 0 && j === ring.length - 1);
      if (!neighbours) cuts.push([ring[i], ring[j]]);
    }
  }
  return cuts;
}
