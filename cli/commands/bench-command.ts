/**
 * `brook bench produce | consume | e2e | compare`: throughput and latency benchmarks, against
 * Brook or NATS JetStream, with live progress, HDR latency (corrected for coordinated omission at
 * fixed rates), a table, JSON (--json FILE) and charts (SVG and PNG). See bench/README.md.
 *
 * The benchmark modules (charting, the NATS client) load only when a bench command runs.
 */
import { Command, Option } from 'commander';
import { parseIntegerOption, parseKeyValues, UsageError } from '../cli-errors.js';

type Options = Record<string, string | boolean | string[] | undefined>;

/** Interrupting a run still stops every process it started (their exit hooks run on exit). */
function exitOnSignals(): void {
  const stop = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the benchmark and every process it started\n`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function addWorkloadOptions(command: Command, brokersOption: () => Option, defaults: { records: string; rate: string; recordBytes: string; lingerMs: string }): Command {
  return command
    .addOption(new Option('--system <system>', 'what to benchmark').choices(['brook', 'jetstream', 'jetstream-lean']).default('brook'))
    .addOption(brokersOption())
    .option('--nats-url <urls>', 'NATS servers, for --system jetstream[-lean]', 'nats://127.0.0.1:4222')
    .option('--local', 'start the servers for this run (one broker, or three when --replication > 1; nats-server likewise) and stop them after', false)
    .option('--topic <name>', 'topic (JetStream: stream prefix); default a new bench-<id>')
    .option('--records <n>', 'records to send (or read)', defaults.records)
    .option('--record-bytes <n>', 'payload bytes per record', defaults.recordBytes)
    .option('--rate <n|max>', 'records per second, or max', defaults.rate)
    .option('--producers <n>', 'producer connections sharing the records', '1')
    .option('--partitions <n>', 'partitions of the topic (JetStream: that many streams)', '4')
    .option('--replication <n>', 'replication factor of the topic the run creates', '1')
    .addOption(new Option('--acks <acks>', 'Brook acks').choices(['all', 'leader', 'none']).default('all'))
    .addOption(new Option('--compression <codec>', 'Brook batch compression').choices(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'))
    .option('--batch-bytes <n>', 'Brook producer batch size', String(512 * 1024))
    .option('--linger-ms <n>', 'Brook producer linger', defaults.lingerMs)
    .addOption(new Option('--flush-policy <policy>', 'flush.policy of the Brook topic the run creates (always: fsync before ack)').choices(['always', 'interval', 'never']).default('always'))
    .option('--flush-interval-ms <n>', 'flush.interval.ms under --flush-policy interval', '120000')
    .option('--topic-config <name=value>', 'another config of the Brook topic the run creates, repeatable (e.g. max.message.bytes=2097152)', (value: string, previous: string[] = []) => [...previous, value], [])
    .option('--max-seconds <n>', 'stop sending after this long', '60')
    .option('--nats-window <n>', 'JetStream publishes outstanding per connection (npm client)', '256')
    .option('--nats-lean-window <n>', 'JetStream publishes outstanding per connection (lean client)', '65536')
    .option('--json <file>', 'write the result as JSON')
    .option('--out-dir <dir>', 'where charts (SVG, PNG) go', 'bench/out')
    .option('--no-charts', 'skip the charts')
    .option('--no-progress', 'no live progress bar')
    .option('--broker-cpu-prof <dir>', 'with --local: profile the brokers (node --cpu-prof) into <dir>');
}

function positive(name: string, value: Options[string]): number {
  return parseIntegerOption(name, String(value), 1);
}

async function runSingleCommand(kind: 'produce' | 'consume' | 'e2e', options: Options): Promise<void> {
  const { runSingle } = await import('../../bench/compare/single-run.js');
  const { uniqueTopic, WORKLOAD_DEFAULTS } = await import('../../bench/compare/workload-spec.js');
  const rateText = String(options.rate);
  const ratePerSecond = rateText === 'max' ? null : positive('--rate', rateText);
  if (kind === 'e2e' && ratePerSecond === null) throw new UsageError('e2e measures latency at a fixed rate: give --rate <records per second>');
  const recordBytes = parseIntegerOption('--record-bytes', String(options.recordBytes), kind === 'e2e' ? 8 : 0);
  const flushPolicy = String(options.flushPolicy);
  const topicConfigs: Record<string, string> = { ...parseKeyValues('--topic-config', Array.isArray(options.topicConfig) ? options.topicConfig : []), 'flush.policy': flushPolicy };
  if (flushPolicy === 'interval') topicConfigs['flush.interval.ms'] = String(positive("--flush-interval-ms", options.flushIntervalMs));
  exitOnSignals();
  await runSingle({
    kind,
    target: options.system as 'brook' | 'jetstream' | 'jetstream-lean',
    spec: {
      ...WORKLOAD_DEFAULTS,
      topic: typeof options.topic === 'string' ? options.topic : uniqueTopic(`bench-${kind}`),
      records: positive('--records', options.records),
      recordBytes,
      ratePerSecond,
      producers: positive('--producers', options.producers),
      partitions: positive('--partitions', options.partitions),
      replication: positive('--replication', options.replication),
      acks: options.acks as 'all' | 'leader' | 'none',
      compression: options.compression as 'none',
      batchBytes: positive('--batch-bytes', options.batchBytes),
      lingerMs: parseIntegerOption('--linger-ms', String(options.lingerMs)),
      maxSeconds: positive('--max-seconds', options.maxSeconds),
      natsWindow: positive('--nats-window', options.natsWindow),
      natsLeanWindow: positive('--nats-lean-window', options.natsLeanWindow),
    },
    brokers: String(options.brokers),
    natsUrl: String(options.natsUrl),
    local: options.local === true,
    topicConfigs,
    prefill: options.prefill !== false,
    outDir: String(options.outDir),
    charts: options.charts !== false,
    jsonPath: typeof options.json === 'string' ? options.json : undefined,
    progress: options.progress !== false && !process.env.CI,
    brokerCpuProfileDir: typeof options.brokerCpuProf === 'string' ? options.brokerCpuProf : undefined,
    log,
  });
}

async function runCompareCommand(options: Options): Promise<void> {
  const { runCompare, WORKLOADS } = await import('../../bench/compare/compare-run.js');
  const only = String(options.only).split(',').map((name) => name.trim().toUpperCase());
  for (const name of only) if (!(WORKLOADS as readonly string[]).includes(name)) throw new UsageError(`--only takes workloads among ${WORKLOADS.join(',')}, got "${name}"`);
  const scale = Number(options.scale);
  if (!(scale > 0 && scale <= 100)) throw new UsageError(`--scale must be a number in (0, 100], got "${options.scale}"`);
  exitOnSignals();
  const outcome = await runCompare({
    only: new Set(only as Array<(typeof WORKLOADS)[number]>),
    scale,
    maxSeconds: positive('--max-seconds', options.maxSeconds),
    partitions: positive('--partitions', options.partitions),
    outDir: String(options.outDir),
    jsonPath: typeof options.json === 'string' ? options.json : undefined,
    progress: options.progress !== false && !process.env.CI,
    brokerCpuProfileDir: typeof options.brokerCpuProf === 'string' ? options.brokerCpuProf : undefined,
    log,
  });
  process.stdout.write(`${outcome.table}\n`);
}

export function createBenchCommand(brokersOption: () => Option): Command {
  const bench = new Command('bench').description('benchmark Brook (and NATS JetStream): throughput, latency, charts');
  const defaults = { records: '1000000', rate: 'max', recordBytes: '100', lingerMs: '2' };
  bench.addCommand(addWorkloadOptions(new Command('produce').description('produce records and measure acks (records/s, MB/s; latency at a fixed --rate)'), brokersOption, defaults)
    .action((options: Options) => runSingleCommand('produce', options)));
  bench.addCommand(addWorkloadOptions(new Command('consume').description('fill a topic (unless --no-prefill), then read it from the start (records/s, MB/s)'), brokersOption, defaults)
    .option('--no-prefill', 'read the existing --topic instead of filling it first')
    .action((options: Options) => runSingleCommand('consume', options)));
  bench.addCommand(addWorkloadOptions(new Command('e2e').description('produce at a fixed rate while consuming; latency from intended send time to arrival'), brokersOption, { records: '50000', rate: '5000', recordBytes: '100', lingerMs: '0' })
    .action((options: Options) => runSingleCommand('e2e', options)));
  bench.addCommand(new Command('compare')
    .description('W1-W5, Brook against NATS JetStream, started here on loopback; prints one table')
    .option('--only <list>', 'workloads to run', 'W1,W2,W3,W4,W5')
    .option('--scale <factor>', 'multiply record counts (0.05 for a quick look)', '1')
    .option('--max-seconds <n>', 'longest one measured run lasts', '8')
    .option('--partitions <n>', 'partitions per topic (JetStream: streams)', '4')
    .option('--json <file>', 'write the table as a JSON list of {workload, unit, brook, peer, peerLean, ratio, ratioLean}')
    .option('--out-dir <dir>', 'where charts (SVG, PNG) and runs.json go', 'bench/out/compare')
    .option('--no-progress', 'no live progress bars')
    .option('--broker-cpu-prof <dir>', 'profile the Brook brokers (node --cpu-prof) into <dir>')
    .action((options: Options) => runCompareCommand(options)));
  return bench;
}
