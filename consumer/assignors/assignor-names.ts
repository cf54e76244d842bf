/** The built-in assignors by name, and the default choice. */
import { InvalidArgumentError } from '../../client/errors.js';
import { CooperativeStickyAssignor } from './cooperative-sticky-assignor.js';
import type { PartitionAssignor } from './partition-assignor.js';
import { RangeAssignor } from './range-assignor.js';
import { RoundRobinAssignor } from './round-robin-assignor.js';
import { StickyAssignor } from './sticky-assignor.js';

export type AssignorName = 'range' | 'roundrobin' | 'round-robin' | 'sticky' | 'cooperative-sticky';
export type AssignorChoice = AssignorName | PartitionAssignor;

/** Assignors offered when none are configured. */
export const DEFAULT_ASSIGNORS: readonly AssignorName[] = ['range'];

export function assignorByName(name: string): PartitionAssignor {
  switch (name) {
    case 'range':
      return new RangeAssignor();
    case 'roundrobin':
    case 'round-robin':
      return new RoundRobinAssignor();
    case 'sticky':
      return new StickyAssignor();
    case 'cooperative-sticky':
      return new CooperativeStickyAssignor();
    default:
      throw new InvalidArgumentError(`unknown assignor "${name}" (range, roundrobin, sticky, cooperative-sticky, or a PartitionAssignor)`);
  }
}

export function assignorsFrom(choices: readonly AssignorChoice[] | undefined): PartitionAssignor[] {
  const list = (choices ?? DEFAULT_ASSIGNORS).map((choice) => (typeof choice === 'string' ? assignorByName(choice) : choice));
  if (list.length === 0) throw new InvalidArgumentError('partitionAssigners must name at least one assignor');
  const names = new Set(list.map((a) => a.name));
  if (names.size !== list.length) throw new InvalidArgumentError('partitionAssigners lists an assignor twice');
  return list;
}
