import type { SimOptions } from './cluster-sim.js';

/** Known bugs the simulator can switch on, one at a time, to show that it catches them. */
export const BUG_NAMES = ['commit-previous-term', 'vote-without-log-check', 'forget-vote', 'send-before-persist', 'apply-before-commit', 'local-read'] as const;
export type BugName = (typeof BUG_NAMES)[number];

/** The options that switch one known bug on. */
export function bugOptions(bug: BugName): Pick<SimOptions, 'raftBugs' | 'driverBugs'> {
  switch (bug) {
    case 'commit-previous-term':
      return { raftBugs: { commitPreviousTermByCounting: true } };
    case 'vote-without-log-check':
      return { raftBugs: { voteWithoutLogCheck: true } };
    case 'forget-vote':
      return { driverBugs: { forgetVote: true } };
    case 'send-before-persist':
      return { driverBugs: { sendBeforePersist: true } };
    case 'apply-before-commit':
      return { driverBugs: { applyBeforeCommit: true } };
    case 'local-read':
      return { driverBugs: { localRead: true } };
  }
}

/** The known bug a run has switched on, if any. */
export function bugNameOf(options: Pick<SimOptions, 'raftBugs' | 'driverBugs'>): BugName | undefined {
  if (options.raftBugs?.commitPreviousTermByCounting) return 'commit-previous-term';
  if (options.raftBugs?.voteWithoutLogCheck) return 'vote-without-log-check';
  if (options.driverBugs?.forgetVote) return 'forget-vote';
  if (options.driverBugs?.sendBeforePersist) return 'send-before-persist';
  if (options.driverBugs?.applyBeforeCommit) return 'apply-before-commit';
  if (options.driverBugs?.localRead) return 'local-read';
  return undefined;
}
