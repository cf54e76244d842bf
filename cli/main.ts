#!/usr/bin/env node
/**
 * `brook`: run a broker, administer topics, produce lines from stdin, consume to stdout.
 * See cli/README.md. Exit codes: 0 success, 1 the broker refused or failed the operation,
 * 2 bad usage (arguments), 3 no broker reachable, 4 timed out.
 */
import './thread-pool-size.js';
import { Command, CommanderError, Option } from 'commander';
import { createCommand as createBrokerCommand } from './broker-command.js';
import { createTopicsCommand } from './topics-command.js';
import { createProduceCommand } from './produce-command.js';
import { createConsumeCommand } from './consume-command.js';
import { createClusterStartCommand } from './commands/cluster-start.js';
import { createClusterCommand } from './cluster-command.js';
import { createPartitionsCommand } from './partitions-command.js';
import { createBenchCommand } from './commands/bench-command.js';
import { createGroupsCommand } from './commands/groups-command.js';
import { exitCodeFor, formatError } from './cli-errors.js';

export const DEFAULT_BROKERS = '127.0.0.1:9092';

function buildProgram(): Command {
  const program = new Command('brook')
    .description('Brook: a partitioned, replicated log broker')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const brokersOption = () => new Option('--brokers <list>', 'bootstrap brokers, host:port[,host:port...]').default(DEFAULT_BROKERS);
  program.addCommand(createBrokerCommand(brokersOption));
  program.addCommand(createTopicsCommand(brokersOption));
  program.addCommand(createProduceCommand(brokersOption));
  program.addCommand(createConsumeCommand(brokersOption));
  program.addCommand(createPartitionsCommand(brokersOption));
  // `cluster start` (a local cluster) lives in commands/cluster-start.ts; `cluster describe` here.
  program.addCommand(createClusterCommand(brokersOption, [createClusterStartCommand()]));
  program.addCommand(createBenchCommand(brokersOption));
  program.addCommand(createGroupsCommand(brokersOption));
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

// A reader that went away (`brook consume ... | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`error: ${formatError(error)}\n`);
    return exitCodeFor(error);
  }
}

const code = await main(process.argv);
// Let stdout drain before exiting; a broker started by `broker start` keeps the process alive.
process.exitCode = code;
if (code !== 0) process.stdout.write('', () => process.exit(code));
