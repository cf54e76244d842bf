/** `brook cluster describe`, and the `cluster` command that also holds `brook cluster start`. */
import { Command, Option } from 'commander';
import { withAdmin } from './topics-command.js';

type BrokersOption = () => Option;

/** The `cluster` command: `describe` here, plus the subcommands given (e.g. `start`). */
export function createClusterCommand(brokersOption: BrokersOption, subcommands: readonly Command[] = []): Command {
  const cluster = new Command('cluster').description('describe a cluster, or run a local one');

  cluster.command('describe')
    .description("the cluster's brokers (state, replicas, leaderships), its controller and controller voters")
    .option('--json', 'print JSON')
    .addOption(brokersOption())
    .action(async (options: { json?: boolean; brokers: string }) => {
      const description = await withAdmin(options.brokers, (admin) => admin.describeCluster());
      if (options.json) {
        process.stdout.write(`${JSON.stringify(description, null, 2)}\n`);
        return;
      }
      const controller = description.controllerId < 0 ? 'none' : String(description.controllerId);
      process.stdout.write(`cluster ${description.clusterId}  controller ${controller}  voters [${description.controllerVoterIds.join(',')}]\n`);
      for (const broker of description.brokers) {
        const rack = broker.rack === '' ? '' : `  rack ${broker.rack}`;
        const internal = broker.internalAddress === '' ? '' : `  internal ${broker.internalAddress}`;
        process.stdout.write(`  broker ${broker.id}  ${broker.host}:${broker.port}  ${broker.state}  replicas ${broker.replicaCount}  leaders ${broker.leaderCount}${rack}${internal}\n`);
      }
    });

  for (const command of subcommands) cluster.addCommand(command);
  return cluster;
}
