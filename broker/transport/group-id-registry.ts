import assert from 'node:assert/strict';
import type { GroupId } from './raft-codec.js';
import { GROUP_ID_MAX } from './raft-codec.js';

/**
 * The numeric group ids of the Raft groups hosted on this broker, with their names (such as
 * "orders-3") and whatever handles their messages (a partition replica). The wire carries only
 * the number; the cluster metadata is where a partition's group id is assigned, once, so every
 * broker maps it the same way. A message for an id that is not (or no longer) registered is
 * counted and dropped, which is what Raft expects of a replica that was moved away.
 */
export class GroupIdRegistry<Handler> {
  private readonly byId = new Map<GroupId, { name: string; handler: Handler }>();
  private readonly idsByName = new Map<string, GroupId>();
  /** The handlers alone, so that iterating them (every Raft tick, over every group) is a plain map walk. */
  private readonly handlersById = new Map<GroupId, Handler>();
  private unknown = 0;

  /** Adds a group; its id and its name must both be free. */
  register(id: GroupId, name: string, handler: Handler): void {
    assert.ok(Number.isInteger(id) && id >= 0 && id <= GROUP_ID_MAX, `group id ${id} out of range`);
    assert.ok(!this.byId.has(id), `group id ${id} registered twice`);
    assert.ok(!this.idsByName.has(name), `group name ${name} registered twice`);
    this.byId.set(id, { name, handler });
    this.idsByName.set(name, id);
    this.handlersById.set(id, handler);
  }

  unregister(id: GroupId): void {
    const group = this.byId.get(id);
    if (group === undefined) return;
    this.byId.delete(id);
    this.idsByName.delete(group.name);
    this.handlersById.delete(id);
  }

  /** The handler of group `id`, or undefined (counted) when no such group lives here. */
  handlerOf(id: GroupId): Handler | undefined {
    const group = this.byId.get(id);
    if (group === undefined) this.unknown += 1;
    return group?.handler;
  }

  /** The handler of group `id`, or undefined; unlike handlerOf, a miss is not counted. */
  get(id: GroupId): Handler | undefined {
    return this.handlersById.get(id);
  }

  idOf(name: string): GroupId | undefined {
    return this.idsByName.get(name);
  }

  nameOf(id: GroupId): string | undefined {
    return this.byId.get(id)?.name;
  }

  /** Every registered handler, in registration order (the broker's Raft clock ticks them all). */
  handlers(): IterableIterator<Handler> {
    return this.handlersById.values();
  }

  /** Every registered group as [id, name, handler], in registration order. */
  *entries(): IterableIterator<[GroupId, string, Handler]> {
    for (const [id, group] of this.byId) yield [id, group.name, group.handler];
  }

  get size(): number {
    return this.byId.size;
  }

  /** Lookups by handlerOf() that found no group. */
  get unknownGroupLookups(): number {
    return this.unknown;
  }
}
