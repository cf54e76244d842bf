/** `brook consume TOPIC`: prints records as values or JSON lines. */
import { Command, Option } from 'commander';
import { Admin } from '../client/admin.js';
import { Consumer, type ConsumerMessage, type StartOffset } from '../consumer/consumer.js';
import { parseIntegerOption, UsageError } from './cli-errors.js';

export function createConsumeCommand(brokersOption: () => Option): Command {
  return new Command('consume')
    .description('print records of a topic (all partitions unless --partition)')
    .argument('<topic>')
    .option('--from-beginning', 'start at the earliest offset (default: only new records)')
    .option('--partition <n>', 'read only this partition')
    .option('--offset <n>', 'start at this offset (needs --partition)')
    .option('--max-messages <n>', 'exit after this many records')
    .option('--idle-timeout-ms <n>', 'exit when no record arrives for this long')
    .option('--group <id>', 'consume as a member of this consumer group (committed offsets; --from-beginning applies where none is committed)')
    .addOption(new Option('--format <format>', 'value: the value as text; json: key, value, partition, offset, timestamp, headers').choices(['value', 'json']).default('value'))
    .addOption(brokersOption())
    .action(async (topic: string, options: { fromBeginning?: boolean; partition?: string; offset?: string; maxMessages?: string; idleTimeoutMs?: string; format: 'value' | 'json'; brokers: string; group?: string }) => {
      const partition = options.partition === undefined ? undefined : parseIntegerOption('--partition', options.partition);
      const offset = options.offset === undefined ? undefined : parseIntegerOption('--offset', options.offset);
      const maxMessages = options.maxMessages === undefined ? Infinity : parseIntegerOption('--max-messages', options.maxMessages, 1);
      const idleTimeoutMs = options.idleTimeoutMs === undefined ? undefined : parseIntegerOption('--idle-timeout-ms', options.idleTimeoutMs, 1);
      if (offset !== undefined && partition === undefined) throw new UsageError('--offset needs --partition');
      if (offset !== undefined && options.fromBeginning) throw new UsageError('--offset and --from-beginning exclude each other');
      if (options.group !== undefined && partition !== undefined) throw new UsageError('--group and --partition exclude each other (the group assigns partitions)');
      const start: StartOffset = offset ?? (options.fromBeginning ? 'earliest' : 'latest');
      const partitions = partition !== undefined ? [partition] : options.group !== undefined ? [] : await allPartitions(options.brokers, topic);

      const consumer = new Consumer({ brokers: options.brokers, offsetResetPolicy: 'earliest', retry: { retries: 3, maxRetryTimeMs: 10_000 }, ...(options.group !== undefined ? { groupId: options.group, autoOffsetReset: 'latest' as const } : {}) });
      await consumer.connect();
      const stop = () => void consumer.disconnect();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let idleTimer: NodeJS.Timeout | undefined;
      const armIdleTimer = () => {
        if (idleTimeoutMs === undefined) return;
        clearTimeout(idleTimer);
        idleTimer = setTimeout(stop, idleTimeoutMs);
      };
      let printed = 0;
      try {
        if (options.group !== undefined) consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? false });
        else await consumer.assign(partitions.map((p) => ({ topic, partition: p, offset: start })));
        armIdleTimer();
        for await (const message of consumer) {
          await write(options.format === 'json' ? `${JSON.stringify(toJson(message))}\n` : `${message.value?.toString() ?? ''}\n`);
          printed++;
          if (printed >= maxMessages) break;
          armIdleTimer();
        }
      } finally {
        clearTimeout(idleTimer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await consumer.disconnect();
      }
    });
}

async function allPartitions(brokers: string, topic: string): Promise<number[]> {
  const admin = new Admin({ brokers, retry: { retries: 3, initialRetryMs: 100, maxRetryMs: 1_000, multiplier: 2, jitterFactor: 0.2, maxRetryTimeMs: 10_000 } });
  try {
    await admin.connect();
    const [description] = await admin.describeTopics({ topics: [topic] });
    return description.partitions.map((p) => p.partition);
  } finally {
    await admin.disconnect();
  }
}

/** Writes to stdout, waiting when its buffer is full, so a slow reader slows the consumer. */
function write(text: string): Promise<void> | void {
  if (process.stdout.write(text)) return;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

function text(buffer: Buffer | null): string | null {
  return buffer === null ? null : buffer.toString('utf8');
}

/** A record as JSON: key, value and header values as UTF-8 text (null stays null). */
export function toJson(message: ConsumerMessage): Record<string, unknown> {
  const headers: Record<string, string | null> = {};
  for (const header of message.headers) headers[header.key] = text(header.value);
  return {
    partition: message.partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: text(message.key),
    value: text(message.value),
    headers,
  };
}
