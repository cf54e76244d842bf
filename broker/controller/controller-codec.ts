/**
 * Encodes and decodes ControllerCommands (controller-types.ts) as proto/controller.proto's
 * ControllerCommand: the value of every record of the controller log.
 *
 * Decoding is strict about shape and lenient about meaning: bytes that are not a ControllerCommand
 * with exactly one command, or whose integers do not fit their TypeScript types, are refused with
 * ControllerCodecError; a well-formed command that makes no sense (an unknown topic, a broker id 0)
 * decodes, and ClusterStore.apply refuses it the same way on every broker.
 */
import protobuf from 'protobufjs';
import { protoFilePath } from '../../proto/proto-file-path.js';
import type { BrokerId, ControllerCommand, LeaderUpdate, NewPartitionPlacement, Reassignment } from './controller-types.js';

/** The bytes are not a valid encoded ControllerCommand. */
export class ControllerCodecError extends Error {
  override readonly name = 'ControllerCodecError';
}

/** Absolute path of controller.proto (found from this module's location; works from any build dir). */
export function controllerProtoPath(): string {
  return protoFilePath('controller.proto');
}

let cachedType: protobuf.Type | undefined;

function commandType(): protobuf.Type {
  if (cachedType === undefined) cachedType = protobuf.loadSync(controllerProtoPath()).lookupType('brook.controller.v1.ControllerCommand');
  return cachedType;
}

/** The oneof member of ControllerCommand that carries each command type. */
const FIELD_OF_TYPE = {
  registerBroker: 'registerBroker',
  fenceBroker: 'fenceBroker',
  createTopic: 'createTopic',
  deleteTopic: 'deleteTopic',
  addPartitions: 'addPartitions',
  alterTopicConfigs: 'alterTopicConfigs',
  leaderUpdates: 'leaderUpdates',
  reassign: 'reassign',
  reassignmentDone: 'reassignmentDone',
  decommissionBroker: 'decommissionBroker',
} as const satisfies Record<ControllerCommand['type'], string>;

const COMMAND_FIELDS = Object.values(FIELD_OF_TYPE);

/** Encodes one command as the value of a controller log record. */
export function encodeCommand(command: ControllerCommand): Buffer {
  const bytes = commandType().encode({ [FIELD_OF_TYPE[command.type]]: toWire(command) }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toWire(command: ControllerCommand): object {
  switch (command.type) {
    case 'registerBroker': {
      const { id, ...rest } = command.broker;
      return { brokerId: id, ...rest };
    }
    case 'createTopic':
    case 'reassign':
    case 'decommissionBroker':
    case 'fenceBroker':
    case 'deleteTopic':
    case 'addPartitions':
    case 'alterTopicConfigs':
    case 'leaderUpdates':
    case 'reassignmentDone': {
      // The wire message's fields are named as the command's, in protobufjs's lowerCamelCase.
      const { type: _type, ...fields } = command;
      return fields;
    }
  }
}

/**
 * Decodes a controller log record's value.
 * @throws ControllerCodecError when the bytes are not a ControllerCommand holding exactly one command.
 */
export function decodeCommand(bytes: Uint8Array): ControllerCommand {
  let message: Record<string, unknown>;
  try {
    message = commandType().decode(bytes) as unknown as Record<string, unknown>;
  } catch (error) {
    throw new ControllerCodecError(`not a ControllerCommand: ${(error as Error).message}`);
  }
  const present = COMMAND_FIELDS.filter((field) => message[field] !== null && message[field] !== undefined);
  if (present.length !== 1) throw new ControllerCodecError(`a ControllerCommand holds exactly one command, found ${present.length}`);
  const field = present[0];
  return fromWire(field, message[field] as Wire);
}

/** A decoded protobufjs message, read field by field with checks. */
type Wire = Record<string, unknown>;

function fromWire(type: ControllerCommand['type'], wire: Wire): ControllerCommand {
  switch (type) {
    case 'registerBroker':
      return {
        type,
        broker: {
          id: uint32(wire, 'brokerId'),
          host: string(wire, 'host'),
          port: uint32(wire, 'port'),
          internalAddress: string(wire, 'internalAddress'),
          rack: string(wire, 'rack'),
          incarnation: uint64(wire, 'incarnation'),
        },
      };
    case 'fenceBroker':
      return { type, brokerId: uint32(wire, 'brokerId'), fenced: wire['fenced'] === true };
    case 'createTopic':
      return {
        type,
        name: string(wire, 'name'),
        topicId: string(wire, 'topicId'),
        createdMs: uint64(wire, 'createdMs'),
        configs: stringMap(wire, 'configs'),
        partitions: list(wire, 'partitions').map(newPartition),
      };
    case 'deleteTopic':
      return { type, name: string(wire, 'name') };
    case 'addPartitions':
      return { type, name: string(wire, 'name'), partitions: list(wire, 'partitions').map(newPartition) };
    case 'alterTopicConfigs':
      return { type, name: string(wire, 'name'), set: stringMap(wire, 'set'), remove: list(wire, 'remove').map(checkedString) };
    case 'leaderUpdates':
      return { type, updates: list(wire, 'updates').map(leaderUpdate) };
    case 'reassign':
      return { type, reassignments: list(wire, 'reassignments').map(reassignment) };
    case 'reassignmentDone':
      return { type, groupId: uint32(wire, 'groupId'), replicas: brokerIds(wire, 'replicas') };
    case 'decommissionBroker':
      return { type, brokerId: uint32(wire, 'brokerId'), reassignments: list(wire, 'reassignments').map(reassignment) };
  }
}

function newPartition(item: unknown): NewPartitionPlacement {
  const wire = message(item);
  return { partition: uint32(wire, 'partition'), groupId: uint32(wire, 'groupId'), replicas: brokerIds(wire, 'replicas') };
}

function leaderUpdate(item: unknown): LeaderUpdate {
  const wire = message(item);
  return { groupId: uint32(wire, 'groupId'), leaderId: uint32(wire, 'leaderId'), leaderEpoch: uint64(wire, 'leaderEpoch') };
}

function reassignment(item: unknown): Reassignment {
  const wire = message(item);
  return { groupId: uint32(wire, 'groupId'), targetReplicas: brokerIds(wire, 'targetReplicas') };
}

function message(value: unknown): Wire {
  if (typeof value !== 'object' || value === null) throw new ControllerCodecError('expected a message');
  return value as Wire;
}

function uint32(wire: Wire, field: string): number {
  const value = wire[field] ?? 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ControllerCodecError(`${field} is not a uint32`);
  }
  return value;
}

/** A uint64 as protobufjs decodes it: a number, or a Long (from the long package). */
function uint64(wire: Wire, field: string): number {
  const value = wire[field] ?? 0;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new ControllerCodecError(`${field} is not a uint64 below 2^53`);
    return value;
  }
  const long = message(value) as { low?: unknown; high?: unknown };
  if (typeof long.low !== 'number' || typeof long.high !== 'number') throw new ControllerCodecError(`${field} is not a uint64`);
  const result = (long.high >>> 0) * 0x1_0000_0000 + (long.low >>> 0);
  if (!Number.isSafeInteger(result)) throw new ControllerCodecError(`${field} ${result} is beyond 2^53`);
  return result;
}

function string(wire: Wire, field: string): string {
  return checkedString(wire[field] ?? '');
}

function checkedString(value: unknown): string {
  if (typeof value !== 'string') throw new ControllerCodecError('expected a string');
  return value;
}

function list(wire: Wire, field: string): unknown[] {
  const value = wire[field] ?? [];
  if (!Array.isArray(value)) throw new ControllerCodecError(`${field} is not a list`);
  return value;
}

function brokerIds(wire: Wire, field: string): BrokerId[] {
  return list(wire, field).map((id) => uint32({ id }, 'id'));
}

function stringMap(wire: Wire, field: string): Record<string, string> {
  const value = message(wire[field] ?? {});
  // A fresh object from own entries: a key such as "__proto__" becomes a plain entry, never a prototype.
  const entries = Object.entries(value).map(([key, entry]) => [key, checkedString(entry)] as const);
  return Object.fromEntries(entries);
}
