import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TranscriptCluster } from './transcript-cluster.js';

/**
 * Figure 8 of the Raft paper, played out step by step: node 1 leads term 4 and finds its term-2
 * entry at index 2 on a majority (1, 3, 4) while its own term-4 no-op is not. Counting replicas
 * must not commit index 2, because node 5, holding a term-3 entry at index 2, can still win an
 * election (votes of 3, 4, 5) and overwrite it. With the test-only bug switched on, index 2 is
 * committed and then lost, which is what the simulator has to detect.
 */
function playFigure8(bugs: string): TranscriptCluster {
  const cluster = new TranscriptCluster();
  const script = [
    `nodes 5 flags=none max-entries=1 bugs=${bugs}`,
    'preload 1 1 2 term=3',
    'preload 2 1 2 term=3',
    'preload 3 1 term=3',
    'preload 4 1 term=3',
    'preload 5 1 3',
    'isolate 5',
    'campaign 1',
    'process-ready 1',
    'deliver 2 3 4',
    'process-ready 2 3 4',
    'deliver 1',
    // Node 1 is leader of term 4; its no-op goes out and only node 2 can take it.
    'process-ready 1',
    'deliver 2 3 4',
    'process-ready 2 3 4',
    'deliver 1',
    // Nodes 3 and 4 rejected; one entry per message, so the probe carries index 2 alone.
    'process-ready 1',
    'drop 2',
    'deliver 3 4',
    'process-ready 3 4',
    'deliver 1',
  ];
  for (const line of script) cluster.run(line);
  return cluster;
}

function electNode5(cluster: TranscriptCluster): void {
  for (const line of ['heal', 'isolate 1 2', 'campaign 5', 'stabilize 3 4 5', 'campaign 5', 'stabilize 3 4 5']) cluster.run(line);
}

test('Figure 8: a leader does not commit an earlier-term entry by counting replicas', () => {
  const cluster = playFigure8('');
  assert.equal(cluster.statusOf(1).role, 'leader');
  assert.equal(cluster.statusOf(1).term, 4);
  assert.equal(cluster.statusOf(1).commit, 0, 'index 2 (term 2) is on 3 of 5 nodes but must stay uncommitted');
  electNode5(cluster);
  assert.equal(cluster.statusOf(5).role, 'leader');
  // Node 5 overwrote index 2 on nodes 3 and 4: allowed, because it was never committed.
  assert.equal(cluster.logOf(3)[1].term, 3);
});

test('Figure 8 with the commit-previous-term bug: a committed entry is overwritten', () => {
  const cluster = playFigure8('commit-previous-term');
  assert.equal(cluster.statusOf(1).commit, 2, 'the bug commits index 2 of term 2 by counting');
  assert.equal(cluster.logOf(1)[1].term, 2);
  electNode5(cluster);
  assert.equal(cluster.statusOf(5).role, 'leader');
  assert.ok(cluster.statusOf(3).commit >= 2);
  // State Machine Safety is broken: node 1 committed (2, term 2), node 3 committed (2, term 3).
  assert.equal(cluster.logOf(3)[1].term, 3);
});

test('the vote-without-log-check bug elects a leader that lacks a committed entry', () => {
  const run = (bugs: string): TranscriptCluster => {
    const cluster = new TranscriptCluster();
    const script = [
      `nodes 3 flags=none bugs=${bugs}`,
      'campaign 1',
      'stabilize',
      'propose 1 committed 1',
      'isolate 3',
      'stabilize',
      'heal',
      'isolate 1',
      'campaign 3',
      'stabilize 2 3',
    ];
    for (const line of script) cluster.run(line);
    return cluster;
  };
  assert.equal(run('').statusOf(3).role, 'candidate', 'node 2 refuses node 3, whose log lacks index 2');
  const buggy = run('vote-without-log-check');
  assert.equal(buggy.statusOf(3).role, 'leader');
  // State Machine Safety is broken: both committed index 2, with different entries.
  assert.ok(buggy.statusOf(2).commit >= 2 && buggy.statusOf(3).commit >= 2);
  assert.equal(buggy.logOf(2)[1].term, 1);
  assert.equal(buggy.logOf(3)[1].term, 2);
});
