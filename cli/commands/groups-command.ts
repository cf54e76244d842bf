/** `brook groups list|describe|reset-offsets|delete`: consumer groups and their committed offsets. */
import { Command, Option } from 'commander';
import { GroupsClient, type GroupDescription } from '../../client/groups-client.js';
import { decodeAssignment } from '../../consumer/assignors/consumer-protocol.js';
import { parseIntegerOption, UsageError } from '../cli-errors.js';
import { withAdmin } from '../topics-command.js';

type BrokersOption = () => Option;

/** Runs `action` with a GroupsClient over a connected Admin's cluster, closing both afterwards. */
async function withGroups<T>(brokers: string, action: (groups: GroupsClient) => Promise<T>): Promise<T> {
  return withAdmin(brokers, async (admin) => {
    const groups = new GroupsClient(admin.cluster, 'brook-cli');
    try {
      return await action(groups);
    } finally {
      groups.close();
    }
  });
}

/** Left-aligned columns, two spaces apart. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** The member owning each partition, by "topic/partition", from the members' assignments. */
function owners(group: GroupDescription): Map<string, string> {
  const owned = new Map<string, string>();
  for (const member of group.members) {
    if (member.assignment.length === 0) continue;
    try {
      for (const p of decodeAssignment(member.assignment).partitions) owned.set(`${p.topic}/${p.partition}`, member.memberId);
    } catch {
      // Not a consumer-protocol assignment: nothing to show.
    }
  }
  return owned;
}

export function formatGroupDescription(group: GroupDescription): string {
  let out = `group ${group.groupId}  state ${group.state}  protocol ${group.protocolName || '-'}  generation ${group.generationId}  leader ${group.leader || '-'}\n`;
  out += `members ${group.members.length}\n`;
  if (group.members.length > 0) {
    const rows = [['MEMBER', 'INSTANCE', 'CLIENT', 'HOST', 'ASSIGNMENT']];
    for (const member of group.members) {
      let assignment = '-';
      try {
        const partitions = decodeAssignment(member.assignment).partitions;
        if (partitions.length > 0) assignment = partitions.map((p) => `${p.topic}/${p.partition}`).join(',');
      } catch {
        assignment = `${member.assignment.length} bytes`;
      }
      rows.push([member.memberId, member.groupInstanceId || '-', member.clientId || '-', member.clientHost || '-', assignment]);
    }
    out += table(rows);
  }
  const owned = owners(group);
  const rows = [['TOPIC', 'PARTITION', 'COMMITTED', 'LOG-END', 'LAG', 'MEMBER']];
  for (const offset of group.offsets) {
    const unknown = (value: number) => (value < 0 ? '-' : String(value));
    rows.push([offset.topic, String(offset.partition), unknown(offset.committedOffset), unknown(offset.logEndOffset), unknown(offset.lag), owned.get(`${offset.topic}/${offset.partition}`) ?? '-']);
  }
  if (rows.length > 1) out += table(rows);
  else out += 'no committed offsets\n';
  return out;
}

/** "orders" or "orders:0,2,5" into a topic and its partitions (all when none named). */
function parseTopicOption(value: string): { topic: string; partitions?: number[] } {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) return { topic: value };
  const partitions = value.slice(colon + 1).split(',').map((p) => parseIntegerOption('--topic partition', p));
  return { topic: value.slice(0, colon), partitions };
}

export function createGroupsCommand(brokersOption: BrokersOption): Command {
  const groups = new Command('groups').description('list, describe, reset and delete consumer groups');

  groups.command('list')
    .description('list the consumer groups of the cluster')
    .option('--json', 'print JSON')
    .addOption(brokersOption())
    .action(async (options: { json?: boolean; brokers: string }) => {
      const listed = await withGroups(options.brokers, (client) => client.listGroups());
      if (options.json) {
        process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
        return;
      }
      if (listed.length === 0) return;
      process.stdout.write(table([['GROUP', 'STATE', 'PROTOCOL-TYPE', 'COORDINATOR'], ...listed.map((g) => [g.groupId, g.state, g.protocolType || '-', String(g.coordinatorId)])]));
    });

  groups.command('describe')
    .description('members, assignment, committed offset, log end offset and lag per partition')
    .argument('<group>')
    .option('--json', 'print JSON (metadata and assignments as base64)')
    .addOption(brokersOption())
    .action(async (groupId: string, options: { json?: boolean; brokers: string }) => {
      const group = await withGroups(options.brokers, (client) => client.describeGroup(groupId, true));
      if (options.json) {
        const members = group.members.map((m) => ({ ...m, metadata: Buffer.from(m.metadata).toString('base64'), assignment: Buffer.from(m.assignment).toString('base64') }));
        process.stdout.write(`${JSON.stringify({ ...group, members }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatGroupDescription(group));
    });

  groups.command('reset-offsets')
    .description('move a group\'s committed offsets (the group must have no active members)')
    .argument('<group>')
    .requiredOption('--topic <topic[:partitions]>', 'topic, or topic:0,1,2 for some partitions (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--to-earliest', 'to the log start')
    .option('--to-latest', 'to the log end')
    .option('--to-offset <n>', 'to this offset (clamped to the log)')
    .option('--to-datetime <iso>', 'to the first record at or after this time, e.g. 2026-11-23T15:00:00Z')
    .option('--dry-run', 'show the new offsets without committing them')
    .addOption(brokersOption())
    .action(async (groupId: string, options: { topic: string[]; toEarliest?: boolean; toLatest?: boolean; toOffset?: string; toDatetime?: string; dryRun?: boolean; brokers: string }) => {
      const chosen = [options.toEarliest, options.toLatest, options.toOffset !== undefined, options.toDatetime !== undefined].filter(Boolean).length;
      if (chosen !== 1) throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime');
      let to: 'earliest' | 'latest' | { offset: number } | { timestamp: number };
      if (options.toEarliest) to = 'earliest';
      else if (options.toLatest) to = 'latest';
      else if (options.toOffset !== undefined) to = { offset: parseIntegerOption('--to-offset', options.toOffset) };
      else {
        const timestamp = Date.parse(options.toDatetime!);
        if (Number.isNaN(timestamp)) throw new UsageError(`--to-datetime must be an ISO date-time, got "${options.toDatetime}"`);
        to = { timestamp };
      }
      const topics = options.topic.map(parseTopicOption);
      const results = await withGroups(options.brokers, (client) => client.resetOffsets({ groupId, topics, to, dryRun: options.dryRun ?? false }));
      const rows = [['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW', 'ERROR']];
      for (const r of results) rows.push([r.topic, String(r.partition), r.previousOffset < 0 ? '-' : String(r.previousOffset), String(r.newOffset), r.errorCode === 'NONE' ? '' : `${r.errorCode} ${r.errorMessage}`]);
      process.stdout.write(table(rows));
      if (options.dryRun) process.stdout.write('dry run: nothing was committed\n');
      if (results.some((r) => r.errorCode !== 'NONE')) process.exitCode = 1;
    });

  groups.command('delete')
    .description('delete groups without members, with their committed offsets')
    .argument('<groups...>')
    .addOption(brokersOption())
    .action(async (groupIds: string[], options: { brokers: string }) => {
      await withGroups(options.brokers, (client) => client.deleteGroups(groupIds));
      process.stdout.write(`deleted ${groupIds.join(', ')}\n`);
    });

  return groups;
}
