/** `brook partitions reassign --topic T --partition P --replicas 1,2,4`. */
import { Command, Option } from 'commander';
import { parseIntegerOption, UsageError } from './cli-errors.js';
import { withAdmin } from './topics-command.js';

type BrokersOption = () => Option;

/** Most replicas one --replicas list may name. */
const REPLICAS_MAX = 16;

/** Parses "1,2,4" into broker ids; throws a UsageError naming the option. */
export function parseReplicaList(value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => part === '')) throw new UsageError(`--replicas takes broker ids separated by commas, e.g. 1,2,4, got "${value}"`);
  if (parts.length > REPLICAS_MAX) throw new UsageError(`--replicas names at most ${REPLICAS_MAX} brokers, got ${parts.length}`);
  const ids = parts.map((part) => parseIntegerOption('--replicas', part, 0));
  if (new Set(ids).size !== ids.length) throw new UsageError(`--replicas names a broker twice: "${value}"`);
  return ids;
}

export function createPartitionsCommand(brokersOption: BrokersOption): Command {
  const partitions = new Command('partitions').description('move partitions between brokers');

  partitions.command('reassign')
    .description('move a partition to a new replica set, online (the first replica is the preferred leader)')
    .requiredOption('--topic <topic>', 'the topic')
    .requiredOption('--partition <n>', 'the partition index')
    .requiredOption('--replicas <ids>', 'the new replica set, broker ids separated by commas, e.g. 1,2,4')
    .addOption(brokersOption())
    .action(async (options: { topic: string; partition: string; replicas: string; brokers: string }) => {
      const partition = parseIntegerOption('--partition', options.partition, 0);
      const replicas = parseReplicaList(options.replicas);
      await withAdmin(options.brokers, (admin) => admin.reassignPartitions({ reassignments: [{ topic: options.topic, partition, replicas }] }));
      process.stdout.write(`reassigning ${options.topic}/${partition} to [${replicas.join(',')}]; brook topics describe ${options.topic} shows the target until it is done\n`);
    });

  return partitions;
}
