/**
 * `brook broker start`: runs one broker in this process. Every broker setting is a flag (from the
 * broker's settings table); BROOK_* environment variables and --config FILE work as well. Prints
 * the listening address on stdout once the broker serves, and shuts down cleanly on SIGINT/SIGTERM.
 */
import { Command, Option } from 'commander';
import { BROKER_SETTINGS } from '../broker/config/broker-config.js';
import { parseIntegerOption, UsageError } from './cli-errors.js';
import { withAdmin } from './topics-command.js';

/** What the broker's composition root exports (loaded only when a broker is started). */
interface BrokerMain {
  loadBrokerConfigWithSources(sources: { flags?: Record<string, string | number | boolean | undefined>; env?: Record<string, string | undefined>; configFile?: string }): { config: unknown; sources: unknown };
  startBroker(config: unknown, options?: { sources?: unknown }): Promise<{ address: string; close(): Promise<void> }>;
}

/** Loaded by path at run time, so the client commands never load the broker's modules. */
const BROKER_MAIN_MODULE = '../broker/main.js';

export function createCommand(brokersOption?: () => Option): Command {
  const broker = new Command('broker').description('run a broker, or take one out of a cluster');
  const start = new Command('start').description('start a broker in the foreground (defaults are printed at start)');
  start.addOption(new Option('--config <file>', 'JSON file of setting names to values'));
  const attributeToFlag = new Map<string, string>();
  for (const setting of BROKER_SETTINGS) {
    const flagName = setting.flag.slice(2);
    const option = setting.kind === 'boolean'
      ? new Option(`${setting.flag} [true|false]`, `${setting.description} (default ${setting.defaultValue}; env ${setting.env})`)
      : new Option(`${setting.flag} <value>`, `${setting.description} (default ${setting.defaultValue}; env ${setting.env})`);
    attributeToFlag.set(option.attributeName(), flagName);
    start.addOption(option);
  }
  start.action(async (options: Record<string, string | undefined>) => {
    const flags: Record<string, string | undefined> = {};
    for (const [attribute, value] of Object.entries(options)) {
      if (attribute === 'config') flags.config = value;
      else flags[attributeToFlag.get(attribute) ?? attribute] = value;
    }
    const main = (await import(BROKER_MAIN_MODULE)) as BrokerMain;
    let loaded: { config: unknown; sources: unknown };
    try {
      loaded = main.loadBrokerConfigWithSources({ flags, env: process.env });
    } catch (error) {
      // A bad setting is the user's to fix: report it as a usage error.
      if (error instanceof Error && error.name === 'BrokerConfigError') throw new UsageError(error.message);
      throw error;
    }
    const running = await main.startBroker(loaded.config, { sources: loaded.sources });
    process.stdout.write(`brook broker listening on ${running.address}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        running.close().then(resolve, (error: unknown) => {
          process.stderr.write(`error during shutdown: ${error instanceof Error ? error.message : String(error)}\n`);
          process.exitCode = 1;
          resolve();
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  });
  broker.addCommand(start);
  if (brokersOption !== undefined) broker.addCommand(createDecommissionCommand(brokersOption));
  return broker;
}

/** `brook broker decommission ID`: moves every replica of broker ID away, then it holds none. */
function createDecommissionCommand(brokersOption: () => Option): Command {
  return new Command('decommission')
    .description('move every replica of a broker to other brokers, so it can be shut down for good')
    .argument('<id>', 'the broker id')
    .addOption(brokersOption())
    .action(async (id: string, options: { brokers: string }) => {
      const brokerId = parseIntegerOption('broker id', id, 0);
      const { partitionsMoved } = await withAdmin(options.brokers, (admin) => admin.decommissionBroker(brokerId));
      process.stdout.write(`decommissioning broker ${brokerId}: moving ${partitionsMoved} replicas away; brook cluster describe shows DECOMMISSIONED once it holds none\n`);
    });
}
