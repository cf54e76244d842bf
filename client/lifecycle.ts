import { StateError } from './errors.js';

/**
 * The lifecycle state of a client (producer, consumer), moved only along the transitions of its
 * table; any other move throws StateError.
 */
export class Lifecycle<State extends string> {
  private current: State;

  /** `owner` names the client in error messages ('producer'). */
  constructor(
    private readonly owner: string,
    private readonly transitions: Readonly<Record<State, readonly State[]>>,
    initial: State,
  ) {
    this.current = initial;
  }

  get state(): State {
    return this.current;
  }

  moveTo(to: State): void {
    if (!this.transitions[this.current].includes(to)) throw new StateError(`${this.owner} cannot go from ${this.current} to ${to}`);
    this.current = to;
  }
}
