import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { ControllerCodecError, controllerProtoPath, decodeCommand, encodeCommand } from '../../broker/controller/controller-codec.js';
import type { ControllerCommand } from '../../broker/controller/controller-types.js';
import { TestRandom } from '../fixtures/test-random.js';

/** One command of every type, with values that exercise the edges of each field's range. */
const EVERY_COMMAND: readonly ControllerCommand[] = [
  {
    type: 'registerBroker',
    broker: { id: 3, host: '10.0.0.3', port: 9092, internalAddress: '10.0.0.3:19093', rack: 'eu-1a', incarnation: 1_763_900_000_123 },
  },
  { type: 'registerBroker', broker: { id: 0xffff_ffff, host: '', port: 0, internalAddress: '', rack: '', incarnation: Number.MAX_SAFE_INTEGER } },
  { type: 'fenceBroker', brokerId: 2, fenced: true },
  { type: 'fenceBroker', brokerId: 2, fenced: false },
  {
    type: 'createTopic',
    name: 'orders',
    topicId: '6f1c2a1e-1b7e-4a53-9a3c-2f9f0e9f6b11',
    createdMs: 1_763_900_000_000,
    configs: { 'retention.ms': '60000', 'cleanup.policy': 'delete', ['__proto__']: 'x' },
    partitions: [
      { partition: 0, groupId: 1, replicas: [1, 2, 3] },
      { partition: 1, groupId: 2, replicas: [2, 3, 1] },
    ],
  },
  { type: 'createTopic', name: 'ünïcode-😀', topicId: '', createdMs: 0, configs: {}, partitions: [] },
  { type: 'deleteTopic', name: 'orders' },
  { type: 'addPartitions', name: 'orders', partitions: [{ partition: 2, groupId: 0xffff_ffff, replicas: [] }] },
  { type: 'alterTopicConfigs', name: 'orders', set: { 'segment.bytes': '1048576' }, remove: ['retention.ms', ''] },
  { type: 'alterTopicConfigs', name: 'orders', set: {}, remove: [] },
  {
    type: 'leaderUpdates',
    updates: [
      { groupId: 1, leaderId: 2, leaderEpoch: 7 },
      { groupId: 2, leaderId: 0, leaderEpoch: 2 ** 40 },
    ],
  },
  { type: 'leaderUpdates', updates: [] },
  { type: 'reassign', reassignments: [{ groupId: 4, targetReplicas: [4, 1, 2] }] },
  { type: 'reassign', reassignments: [] },
  { type: 'reassignmentDone', groupId: 4, replicas: [1, 2, 4] },
  { type: 'decommissionBroker', brokerId: 3, reassignments: [{ groupId: 1, targetReplicas: [1, 2, 4] }] },
  { type: 'decommissionBroker', brokerId: 3, reassignments: [] },
];

test('every command type survives a round trip unchanged', () => {
  const types = new Set(EVERY_COMMAND.map((command) => command.type));
  assert.equal(types.size, 10, 'the list covers every command type');
  for (const command of EVERY_COMMAND) {
    const bytes = encodeCommand(command);
    assert.ok(Buffer.isBuffer(bytes));
    assert.deepEqual(decodeCommand(bytes), command, command.type);
    // A decoded command encodes to the same bytes: what one broker proposes, every broker reads alike.
    assert.deepEqual(encodeCommand(decodeCommand(bytes)), bytes, command.type);
  }
});

test('a "__proto__" config name stays a plain entry', () => {
  const decoded = decodeCommand(encodeCommand(EVERY_COMMAND[4]));
  assert.equal(decoded.type, 'createTopic');
  if (decoded.type !== 'createTopic') return;
  assert.equal(Object.getPrototypeOf(decoded.configs), Object.prototype);
  assert.deepEqual(Object.keys(decoded.configs).sort(), ['__proto__', 'cleanup.policy', 'retention.ms']);
});

test('an empty record or unknown fields only are refused', () => {
  assert.throws(() => decodeCommand(new Uint8Array(0)), ControllerCodecError);
  // Field 15, varint 1: well-formed protobuf, but no command.
  assert.throws(() => decodeCommand(Uint8Array.of(0x78, 0x01)), ControllerCodecError);
});

test('two concatenated commands decode as the last one (protobuf merge: the last oneof member wins)', () => {
  const fence: ControllerCommand = { type: 'fenceBroker', brokerId: 1, fenced: true };
  const twoCommands = Buffer.concat([encodeCommand({ type: 'deleteTopic', name: 'a' }), encodeCommand(fence)]);
  assert.deepEqual(decodeCommand(twoCommands), fence);
});

test('a uint64 beyond 2^53 is refused, not rounded', () => {
  const root = protobuf.loadSync(controllerProtoPath());
  const Command = root.lookupType('brook.controller.v1.ControllerCommand');
  const bytes = Command.encode({ leaderUpdates: { updates: [{ groupId: 1, leaderId: 1, leaderEpoch: '9007199254740993' }] } }).finish();
  assert.throws(() => decodeCommand(bytes), /beyond 2\^53/);
});

test('truncated commands and random bytes decode or throw ControllerCodecError, nothing else', () => {
  const random = new TestRandom(0xc0de);
  let refused = 0;
  const expectDecodeOrCodecError = (bytes: Uint8Array): void => {
    try {
      decodeCommand(bytes);
    } catch (error) {
      assert.ok(error instanceof ControllerCodecError, `unexpected ${String(error)} for ${Buffer.from(bytes).toString('hex')}`);
      refused++;
    }
  };
  for (const command of EVERY_COMMAND) {
    const bytes = encodeCommand(command);
    for (let length = 0; length < bytes.length; length++) expectDecodeOrCodecError(bytes.subarray(0, length));
    for (let round = 0; round < 50; round++) {
      const mutated = Buffer.from(bytes);
      mutated[random.below(mutated.length)] = random.nextUint32() & 0xff;
      expectDecodeOrCodecError(mutated);
    }
  }
  for (let round = 0; round < 5000; round++) expectDecodeOrCodecError(random.bytes(random.below(64)));
  assert.ok(refused > 1000, `most garbage is refused (${refused})`);
});
