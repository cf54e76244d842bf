/** `brook produce TOPIC`: one record per stdin line; prints how many were acknowledged. */
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { Producer, type AcksSetting, type CompressionSetting, type Message } from '../producer/producer.js';
import { parseIntegerOption, UsageError } from './cli-errors.js';

/** Lines per send() call, and send() calls awaited at once: bounds the CLI's own memory. */
const LINES_PER_SEND = 1_000;
const SENDS_IN_FLIGHT_MAX = 16;

export function createProduceCommand(brokersOption: () => Option): Command {
  return new Command('produce')
    .description('produce one record per line of standard input')
    .argument('<topic>')
    .option('--key-separator <sep>', 'split each line at the first <sep> into key and value')
    .option('--partition <n>', 'send every record to this partition (default: by key, or sticky)')
    .addOption(new Option('--acks <acks>', 'durability to wait for').choices(['all', 'leader', 'none']).default('all'))
    .addOption(new Option('--compression <codec>', 'batch compression').choices(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'))
    .option('--header <name=value>', 'header added to every record, repeatable', (value: string, previous: string[] = []) => [...previous, value], [])
    .addOption(brokersOption())
    .action(async (topic: string, options: { keySeparator?: string; partition?: string; acks: AcksSetting; compression: CompressionSetting; header: string[]; brokers: string }) => {
      const partition = options.partition === undefined ? undefined : parseIntegerOption('--partition', options.partition);
      if (options.keySeparator === '') throw new UsageError('--key-separator must not be empty');
      const headers: Record<string, string> = {};
      for (const pair of options.header) {
        const index = pair.indexOf('=');
        if (index <= 0) throw new UsageError(`--header takes name=value, got "${pair}"`);
        headers[pair.slice(0, index)] = pair.slice(index + 1);
      }
      const producer = new Producer({ brokers: options.brokers, acks: options.acks, compression: options.compression, lingerMs: 5, retry: { retries: 5, maxRetryTimeMs: 30_000 } });
      await producer.connect();
      let acknowledged = 0;
      let failed = 0;
      let firstError: unknown = undefined;
      const inFlight = new Set<Promise<void>>();
      const sendChunk = async (messages: Message[]) => {
        while (inFlight.size >= SENDS_IN_FLIGHT_MAX) await Promise.race(inFlight);
        const sending = producer.send({ topic, messages }).then(
          () => { acknowledged += messages.length; },
          (error: unknown) => { failed += messages.length; firstError ??= error; },
        ).finally(() => inFlight.delete(sending));
        inFlight.add(sending);
      };
      let chunk: Message[] = [];
      let lineNumber = 0;
      try {
        for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
          lineNumber++;
          chunk.push(toMessage(line, lineNumber, options.keySeparator, partition, headers));
          if (chunk.length >= LINES_PER_SEND) {
            await sendChunk(chunk);
            chunk = [];
          }
        }
        if (chunk.length > 0) await sendChunk(chunk);
        await Promise.all(inFlight);
      } finally {
        await producer.disconnect();
      }
      process.stdout.write(`${acknowledged} records acknowledged\n`);
      if (failed > 0) {
        process.stderr.write(`${failed} records failed\n`);
        throw firstError;
      }
    });
}

function toMessage(line: string, lineNumber: number, separator: string | undefined, partition: number | undefined, headers: Record<string, string>): Message {
  const message: Message = { value: line, headers };
  if (partition !== undefined) message.partition = partition;
  if (separator !== undefined) {
    const index = line.indexOf(separator);
    if (index < 0) throw new UsageError(`line ${lineNumber} has no key separator "${separator}"`);
    message.key = line.slice(0, index);
    message.value = line.slice(index + separator.length);
  }
  return message;
}
