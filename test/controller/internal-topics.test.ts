/**
 * Brook's reserved topics (`__consumer_offsets`) are created by brokers through the controller
 * with the internal flag; a client's CreateTopics never carries it, so clients cannot create them,
 * and the flag admits no other reserved name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBrokerConfig } from '../../broker/config/broker-config.js';
import { ClusterStore } from '../../broker/controller/cluster-store.js';
import { planWrite, type PlanContext } from '../../broker/controller/controller-planner.js';
import { writeFromWire } from '../../broker/controller/controller-write.js';
import { TopicError } from '../../broker/topics/topic-error.js';

function withContext(run: (context: PlanContext) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'brook-internal-topics-'));
  const store = ClusterStore.open(join(dir, 'cluster.sqlite'));
  try {
    for (const id of [1, 2, 3]) {
      store.apply(id, { type: 'registerBroker', broker: { id, host: '127.0.0.1', port: 9090 + id, internalAddress: `127.0.0.1:${19090 + id}`, rack: '', incarnation: id } });
    }
    const config = loadBrokerConfig({ flags: { 'data-dir': dir } });
    run({ store, config, defaultReplicationFactor: 0, configuredBrokers: [1, 2, 3], nowMs: 0, leaseCurrent: () => true });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const spec = (name: string, internal?: boolean) => ({ name, numPartitions: 4, replicationFactor: 3, configs: {}, ...(internal === undefined ? {} : { internal }) });

test('a reserved name is refused without the internal flag and accepted with it', () => {
  withContext((context) => {
    assert.throws(
      () => planWrite({ kind: 'createTopic', spec: spec('__consumer_offsets'), validateOnly: false }, context),
      (error: unknown) => error instanceof TopicError && error.errorCode === 'INVALID_TOPIC_EXCEPTION',
    );
    const plan = planWrite({ kind: 'createTopic', spec: spec('__consumer_offsets', true), validateOnly: false }, context);
    assert.equal(plan.kind, 'propose');
    assert.equal(plan.kind === 'propose' && plan.command.type === 'createTopic' ? plan.command.partitions.length : -1, 4);
  });
});

test('the internal flag admits only Brook own topics', () => {
  withContext((context) => {
    for (const name of ['__other', 'orders']) {
      assert.throws(
        () => planWrite({ kind: 'createTopic', spec: spec(name, true), validateOnly: false }, context),
        (error: unknown) => error instanceof TopicError && error.errorCode === 'INVALID_TOPIC_EXCEPTION',
        name,
      );
    }
  });
});

test('the flag survives forwarding, and is off when absent on the wire', () => {
  const base = { name: '__consumer_offsets', numPartitions: 4, replicationFactor: 3, configs: {}, validateOnly: false };
  const forwarded = writeFromWire({ request: 'createTopic', createTopic: { ...base, internal: true } } as Parameters<typeof writeFromWire>[0]);
  assert.equal(forwarded.kind === 'createTopic' && forwarded.spec.internal, true);
  const fromClientShape = writeFromWire({ request: 'createTopic', createTopic: base } as Parameters<typeof writeFromWire>[0]);
  assert.equal(fromClientShape.kind === 'createTopic' && fromClientShape.spec.internal, false);
});
