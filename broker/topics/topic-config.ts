/**
 * Per-topic configuration: the names clients use (Kafka's where one exists), their validation,
 * and the translation into the storage layer's LogConfig. A topic stores only the entries set on
 * it; everything else falls back to the broker's defaults (broker config).
 */
import { LogConfigError, resolveLogConfig, type LogConfig } from '../storage/log-config.js';
import type { BrokerConfig } from '../config/broker-config.js';

/** A topic configuration name or value was rejected (maps to INVALID_CONFIG). */
export class TopicConfigError extends Error {
  override readonly name = 'TopicConfigError';
}

interface TopicConfigSpec {
  /** The broker default, as a string, from the broker config. */
  readonly defaultValue: (broker: BrokerConfig) => string;
  /** Parses and range-checks a value; throws TopicConfigError. */
  readonly parse: (value: string) => number | string;
}

function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new TopicConfigError(`must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
    return parsed;
  };
}

function oneOf(...choices: string[]): (value: string) => string {
  return (value) => {
    if (!choices.includes(value)) throw new TopicConfigError(`must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    return value;
  };
}

const SPECS: ReadonlyMap<string, TopicConfigSpec> = new Map<string, TopicConfigSpec>([
  ['segment.bytes', { defaultValue: (b) => String(b.segmentBytes), parse: integer(1024, 2 ** 31 - 1) }],
  ['segment.ms', { defaultValue: (b) => String(b.segmentMs), parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['retention.ms', { defaultValue: (b) => String(b.retentionMs), parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['retention.bytes', { defaultValue: (b) => String(b.retentionBytes), parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['flush.policy', { defaultValue: (b) => b.flushPolicy, parse: oneOf('always', 'interval', 'never') }],
  ['flush.interval.ms', { defaultValue: (b) => String(b.flushIntervalMs), parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['max.message.bytes', { defaultValue: (b) => String(b.maxMessageBytes), parse: integer(61, 256 * 1024 * 1024) }],
  ['message.timestamp.type', { defaultValue: (b) => b.messageTimestampType, parse: oneOf('CreateTime', 'LogAppendTime') }],
  ['index.interval.bytes', { defaultValue: (b) => String(b.indexIntervalBytes), parse: integer(1, 2 ** 31 - 1) }],
]);

/** Every topic configuration name, sorted. */
export const TOPIC_CONFIG_NAMES: readonly string[] = Object.freeze([...SPECS.keys()].sort());

/** Throws TopicConfigError naming the entry when a name is unknown or a value out of range. */
export function validateTopicConfigEntries(entries: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(entries)) {
    const spec = SPECS.get(name);
    if (spec === undefined) throw new TopicConfigError(`unknown topic config ${JSON.stringify(name)}; known: ${TOPIC_CONFIG_NAMES.join(', ')}`);
    try {
      spec.parse(value);
    } catch (error) {
      throw new TopicConfigError(`${name} ${(error as Error).message}`);
    }
  }
}

/** Every topic config entry with its effective value, sorted by name. */
export function effectiveTopicConfig(
  overrides: Readonly<Record<string, string>>,
  broker: BrokerConfig,
): Array<{ name: string; value: string; isDefault: boolean }> {
  return TOPIC_CONFIG_NAMES.map((name) => {
    const set = overrides[name];
    return set === undefined
      ? { name, value: SPECS.get(name)!.defaultValue(broker), isDefault: true }
      : { name, value: set, isDefault: false };
  });
}

/**
 * The storage settings for a topic's partitions. Throws TopicConfigError when the combination is
 * invalid (e.g. max.message.bytes above segment.bytes) even though each entry is valid alone.
 */
export function topicLogConfig(overrides: Readonly<Record<string, string>>, broker: BrokerConfig): LogConfig {
  validateTopicConfigEntries(overrides);
  const value = (name: string): string => overrides[name] ?? SPECS.get(name)!.defaultValue(broker);
  const number = (name: string): number => Number(value(name));
  try {
    return resolveLogConfig({
      segmentBytes: number('segment.bytes'),
      segmentMs: number('segment.ms'),
      retentionMs: number('retention.ms'),
      retentionBytes: number('retention.bytes'),
      flushPolicy: value('flush.policy') as LogConfig['flushPolicy'],
      flushIntervalMs: number('flush.interval.ms'),
      maxBatchBytes: number('max.message.bytes'),
      timestampType: value('message.timestamp.type') === 'LogAppendTime' ? 'log-append' : 'create',
      indexIntervalBytes: number('index.interval.bytes'),
      tailCacheBytes: broker.tailCacheBytes,
    });
  } catch (error) {
    if (error instanceof LogConfigError) throw new TopicConfigError(error.message);
    throw error;
  }
}
