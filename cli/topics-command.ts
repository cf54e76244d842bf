/** `brook topics create|list|describe|alter|delete`. */
import { Command, Option } from 'commander';
import { Admin } from '../client/admin.js';
import { parseIntegerOption, parseKeyValues } from './cli-errors.js';

type BrokersOption = () => Option;

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Runs `action` with a connected Admin (CLI timeouts and retries), disconnecting afterwards. */
export async function withAdmin<T>(brokers: string, action: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ brokers, requestTimeoutMs: 15_000, retry: { retries: 3, initialRetryMs: 100, maxRetryMs: 1_000, multiplier: 2, jitterFactor: 0.2, maxRetryTimeMs: 10_000 } });
  try {
    await admin.connect();
    return await action(admin);
  } finally {
    await admin.disconnect();
  }
}

export function createTopicsCommand(brokersOption: BrokersOption): Command {
  const topics = new Command('topics').description('create, list, describe, alter and delete topics');

  topics.command('create')
    .description('create a topic')
    .argument('<topic>')
    .option('--partitions <n>', 'number of partitions (default: the broker\'s num.partitions)')
    .option('--replication-factor <n>', 'replicas per partition (default: the broker\'s)')
    .option('--config <name=value>', 'topic config override, repeatable', collect, [])
    .addOption(brokersOption())
    .action(async (topic: string, options: { partitions?: string; replicationFactor?: string; config: string[]; brokers: string }) => {
      const spec = {
        topic,
        numPartitions: options.partitions === undefined ? undefined : parseIntegerOption('--partitions', options.partitions, 1),
        replicationFactor: options.replicationFactor === undefined ? undefined : parseIntegerOption('--replication-factor', options.replicationFactor, 1),
        configs: parseKeyValues('--config', options.config),
      };
      const created = await withAdmin(options.brokers, (admin) => admin.createTopics({ topics: [spec] }));
      if (!created) {
        process.stderr.write(`topic ${topic} already exists\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`created topic ${topic}\n`);
    });

  topics.command('list')
    .description('list topic names')
    .addOption(brokersOption())
    .action(async (options: { brokers: string }) => {
      const names = await withAdmin(options.brokers, (admin) => admin.listTopics());
      for (const name of names) process.stdout.write(`${name}\n`);
    });

  topics.command('describe')
    .description('show partitions, leaders and configs of topics (all when none named)')
    .argument('[topics...]')
    .option('--json', 'print JSON')
    .addOption(brokersOption())
    .action(async (names: string[], options: { json?: boolean; brokers: string }) => {
      const descriptions = await withAdmin(options.brokers, (admin) => admin.describeTopics({ topics: names }));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(descriptions, null, 2)}\n`);
        return;
      }
      for (const topic of descriptions) {
        process.stdout.write(`topic ${topic.name}  id ${topic.topicId}  partitions ${topic.partitions.length}\n`);
        for (const p of topic.partitions) {
          const target = p.targetReplicas !== undefined && p.targetReplicas.length > 0 ? `  target [${p.targetReplicas.join(',')}]` : '';
          const problem = p.errorCode === 'NONE' ? '' : `  ${p.errorCode}`;
          process.stdout.write(`  partition ${p.partition}  leader ${p.leader}  epoch ${p.leaderEpoch}  replicas [${p.replicas.join(',')}]  isr [${p.isr.join(',')}]${target}${problem}\n`);
        }
        for (const c of topic.configs) process.stdout.write(`  config ${c.name}=${c.value}${c.isDefault ? ' (default)' : ''}\n`);
      }
    });

  topics.command('alter')
    .description('change topic configs, or grow its partition count')
    .argument('<topic>')
    .option('--set <name=value>', 'set a config entry, repeatable', collect, [])
    .option('--remove <name>', 'remove a config entry (back to the default), repeatable', collect, [])
    .option('--partitions <n>', 'new total partition count (may only grow)')
    .addOption(brokersOption())
    .action(async (topic: string, options: { set: string[]; remove: string[]; partitions?: string; brokers: string }) => {
      const set = parseKeyValues('--set', options.set);
      const count = options.partitions === undefined ? undefined : parseIntegerOption('--partitions', options.partitions, 1);
      if (Object.keys(set).length === 0 && options.remove.length === 0 && count === undefined) {
        throw new (await import('./cli-errors.js')).UsageError('alter needs --set, --remove or --partitions');
      }
      await withAdmin(options.brokers, async (admin) => {
        if (Object.keys(set).length > 0 || options.remove.length > 0) await admin.alterTopicConfigs({ topics: [{ topic, set, remove: options.remove }] });
        if (count !== undefined) await admin.createPartitions({ topicPartitions: [{ topic, count }] });
      });
      process.stdout.write(`altered topic ${topic}\n`);
    });

  topics.command('delete')
    .description('delete topics and all their data')
    .argument('<topics...>')
    .addOption(brokersOption())
    .action(async (names: string[], options: { brokers: string }) => {
      await withAdmin(options.brokers, (admin) => admin.deleteTopics({ topics: names }));
      process.stdout.write(`deleted ${names.join(', ')}\n`);
    });

  return topics;
}
