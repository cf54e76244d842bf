import assert from 'node:assert/strict';
import { ConfChangeType, type ConfChange, type ConfState, type NodeId } from './types.js';

interface Configuration {
  /** Index of the ConfChange entry that produced it (the base: the snapshot's index). */
  index: number;
  voters: ReadonlySet<NodeId>;
  learners: ReadonlySet<NodeId>;
}

/**
 * The group's membership as this node's log describes it. A configuration takes effect as soon as
 * its ConfChange entry is in the log (appended, not yet committed), so the configuration in force
 * is that of the last ConfChange entry in the log, or the snapshot's when there is none. When a
 * follower's divergent suffix is truncated, the configurations it carried are dropped with it.
 */
export class Membership {
  private base: Configuration;
  /** One configuration per ConfChange entry after the base, in log order. */
  private history: Configuration[] = [];

  constructor(conf: ConfState, index: number) {
    this.base = toConfiguration(conf, index);
  }

  get voters(): ReadonlySet<NodeId> {
    return this.latest().voters;
  }

  get learners(): ReadonlySet<NodeId> {
    return this.latest().learners;
  }

  /** Index of the entry that produced the configuration in force. */
  latestIndex(): number {
    return this.latest().index;
  }

  /** The ConfChange entry at `index` was appended to the log. */
  append(index: number, change: ConfChange): void {
    const latest = this.latest();
    assert.ok(index > latest.index, `configuration at ${index} does not follow ${latest.index}`);
    const voters = new Set(latest.voters);
    const learners = new Set(latest.learners);
    voters.delete(change.nodeId);
    learners.delete(change.nodeId);
    // Each change sets one node's membership absolutely, so replaying a suffix is idempotent.
    if (change.type === ConfChangeType.AddVoter) voters.add(change.nodeId);
    else if (change.type === ConfChangeType.AddLearner) learners.add(change.nodeId);
    this.history.push({ index, voters, learners });
  }

  /** The log lost every entry from `index` on. */
  truncateFrom(index: number): void {
    assert.ok(index > this.base.index, `truncation at ${index} reaches into the snapshot at ${this.base.index}`);
    while (this.history.length > 0 && this.history[this.history.length - 1].index >= index) this.history.pop();
  }

  /** The log was replaced by a snapshot. */
  reset(conf: ConfState, index: number): void {
    this.base = toConfiguration(conf, index);
    this.history = [];
  }

  /** The configuration in force at `index` (for a snapshot taken there); never older than the base. */
  at(index: number): ConfState {
    let found = this.base;
    for (const configuration of this.history) if (configuration.index <= index) found = configuration;
    return toConfState(found);
  }

  current(): ConfState {
    return toConfState(this.latest());
  }

  private latest(): Configuration {
    return this.history.length > 0 ? this.history[this.history.length - 1] : this.base;
  }
}

function toConfiguration(conf: ConfState, index: number): Configuration {
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  for (const id of learners) assert.ok(!voters.has(id), `node ${id} is both voter and learner`);
  return { index, voters, learners };
}

function toConfState(configuration: Configuration): ConfState {
  const sorted = (ids: ReadonlySet<NodeId>): NodeId[] => [...ids].sort((a, b) => a - b);
  return { voters: sorted(configuration.voters), learners: sorted(configuration.learners) };
}
