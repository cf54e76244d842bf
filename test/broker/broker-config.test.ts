/** Broker configuration: precedence flags > env > file > defaults, validation, and the settings table. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BROKER_SETTINGS, BrokerConfigError, loadBrokerConfig, loadBrokerConfigWithSources, parseListen } from '../../broker/config/broker-config.js';
import { parseBrokerArgs } from '../../broker/main.js';
import { makeDataDir, removeDir } from './broker-process.js';

const dir = makeDataDir('brook-config-test-');
after(() => removeDir(dir));

describe('broker config', { timeout: 30_000 }, () => {
  it('has the documented defaults', () => {
    const config = loadBrokerConfig({ env: {} });
    assert.equal(config.dataDir, './data');
    assert.equal(config.listen, '127.0.0.1:9092');
    assert.equal(config.autoCreateTopics, true);
    assert.equal(config.defaultPartitions, 3);
    assert.equal(config.flushPolicy, 'always');
    assert.equal(config.advertisedListener, '', 'empty: clients are told the bound address');
  });

  it('takes flags over env over the config file over defaults', () => {
    const file = join(dir, 'broker.json');
    writeFileSync(file, JSON.stringify({ 'num.partitions': 5, 'data.dir': '/from/file', 'listen': '0.0.0.0:1', 'auto.create.topics': false }));
    const loaded = loadBrokerConfigWithSources({
      flags: { 'data-dir': '/from/flag', numPartitions: undefined },
      env: { BROOK_DATA_DIR: '/from/env', BROOK_LISTEN: '127.0.0.1:7000', BROOK_CONFIG: file },
    });
    assert.equal(loaded.config.dataDir, '/from/flag');
    assert.equal(loaded.config.listen, '127.0.0.1:7000');
    assert.equal(loaded.config.defaultPartitions, 5);
    assert.equal(loaded.config.autoCreateTopics, false);
    assert.equal(loaded.config.segmentBytes, 1024 ** 3);
    assert.deepEqual(
      [loaded.sources['data.dir'], loaded.sources.listen, loaded.sources['num.partitions'], loaded.sources['segment.bytes']],
      ['flag', 'env', 'file', 'default'],
    );
    assert.equal(loaded.configFile, file);
  });

  it('accepts flags by setting name, flag name or field name', () => {
    for (const flags of [{ 'num.partitions': '7' }, { 'num-partitions': 7 }, { defaultPartitions: '7' }]) {
      assert.equal(loadBrokerConfig({ flags, env: {} }).defaultPartitions, 7);
    }
  });

  it('refuses unknown settings and out-of-range values, naming them', () => {
    const cases: Array<[object, RegExp]> = [
      [{ flags: { 'no-such': 1 } }, /unknown broker setting "no-such"/],
      [{ flags: { 'num.partitions': '0' } }, /num.partitions \(from flag\) must be an integer in \[1, 10000\]/],
      [{ env: { BROOK_FLUSH_POLICY: 'sometimes' } }, /flush.policy \(from env\) must be one of always, interval, never/],
      [{ env: { BROOK_AUTO_CREATE_TOPICS: 'yes' } }, /must be true or false/],
      [{ flags: { listen: 'nonsense' } }, /listen must be host:port/],
      [{ flags: { 'advertised.listener': 'no-port' } }, /listen must be host:port/],
      [{ flags: { 'max.message.bytes': 2048, 'segment.bytes': 1024 } }, /max.message.bytes \(2048\) exceeds segment.bytes/],
      [{ configFile: join(dir, 'missing.json') }, /cannot read config file/],
    ];
    for (const [sources, message] of cases) {
      assert.throws(() => loadBrokerConfig({ env: {}, ...sources }), (error: Error) => error instanceof BrokerConfigError && message.test(error.message));
    }
  });

  it('names every setting consistently', () => {
    // The one exception: cluster.peers is given as --peers, the flag every cluster example uses.
    const flagExceptions = new Map([['cluster.peers', '--peers']]);
    for (const item of BROKER_SETTINGS) {
      assert.equal(item.flag, flagExceptions.get(item.name) ?? `--${item.name.replaceAll('.', '-')}`);
      assert.equal(item.env, `BROOK_${item.name.replaceAll('.', '_').toUpperCase()}`);
    }
    assert.deepEqual(parseListen('[::1]:9092'), { host: '::1', port: 9092 });
  });

  it('parses command-line flags', () => {
    assert.deepEqual(parseBrokerArgs(['--data-dir', '/d', '--listen=1.2.3.4:5', '--no-auto-create-topics']), {
      'data-dir': '/d',
      listen: '1.2.3.4:5',
      'auto-create-topics': false,
    });
    assert.throws(() => parseBrokerArgs(['stray']), BrokerConfigError);
    assert.throws(() => parseBrokerArgs(['--data-dir']), BrokerConfigError);
  });
});
