/**
 * The broker's Prometheus metrics, in a registry of their own (so several brokers in one process
 * do not collide). Handlers count per request, per topic or per batch, never per record. Label
 * sets are bounded: topics beyond metrics.topic.labels.max share the label topic="other", and the
 * per-partition gauges, read at scrape time, cover at most metrics.partitions.max partitions.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServedPartition, TopicService } from '../api/topic-service.js';

/** The label shared by every topic past the label cap. */
export const OTHER_TOPIC_LABEL = 'other';

const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WAIT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface BrokerMetricsOptions {
  /** Where the per-partition gauges are read from at scrape time. */
  readonly topics: TopicService;
  /** Most distinct topic label values; later topics count under topic="other". */
  readonly topicLabelsMax: number;
  /** Most partitions the per-partition gauges report. */
  readonly partitionsMax: number;
  /** Adds prom-client's process metrics (CPU, memory, event loop lag, GC). */
  readonly processMetrics: boolean;
}

/** Counters of one topic label, cached so the produce path does no label lookups. */
interface TopicCounters {
  readonly requests: Counter.Internal;
  readonly batches: Counter.Internal;
  readonly bytes: Counter.Internal;
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly topicCounters = new Map<string, TopicCounters>();
  private readonly produceRequests: Counter<'topic'>;
  private readonly produceBatches: Counter<'topic'>;
  private readonly produceBytes: Counter<'topic'>;
  private readonly produceLatency: Histogram<'acks'>;
  /** Histogram children by acks value (a fixed enum of three). */
  private readonly latencyByAcks = new Map<string, Histogram.Internal<'acks'>>();
  private readonly fetchRequests: Counter;
  private readonly fetchBytes: Counter;
  private readonly fetchWait: Histogram;
  private readonly subscribeStreams: Gauge;
  private readonly errors: Counter<'api' | 'code'>;

  constructor(private readonly options: BrokerMetricsOptions) {
    const registers = [this.registry];
    this.produceRequests = new Counter({ name: 'brook_produce_requests_total', help: 'Produce requests, counted once per topic they name.', labelNames: ['topic'], registers });
    this.produceBatches = new Counter({ name: 'brook_produce_batches_total', help: 'Record batches appended by Produce.', labelNames: ['topic'], registers });
    this.produceBytes = new Counter({ name: 'brook_produce_bytes_total', help: 'Record batch bytes appended by Produce.', labelNames: ['topic'], registers });
    this.produceLatency = new Histogram({
      name: 'brook_produce_latency_seconds',
      help: 'Time from receiving a Produce request to answering it.',
      labelNames: ['acks'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.fetchRequests = new Counter({ name: 'brook_fetch_requests_total', help: 'Fetch requests answered.', registers });
    this.fetchBytes = new Counter({ name: 'brook_fetch_bytes_total', help: 'Record batch bytes returned by Fetch.', registers });
    this.fetchWait = new Histogram({
      name: 'brook_fetch_wait_seconds',
      help: 'Time each Fetch spent long-polling for data (0 when it answered at once).',
      buckets: WAIT_BUCKETS_SECONDS,
      registers,
    });
    this.subscribeStreams = new Gauge({ name: 'brook_subscribe_streams_open', help: 'Subscribe streams open now.', registers });
    this.errors = new Counter({ name: 'brook_errors_total', help: 'Error answers, per API and error code.', labelNames: ['api', 'code'], registers });
    this.registerPartitionGauges(registers);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A Produce request named `topic`. */
  produceTopicRequest(topic: string): void {
    this.countersOf(topic).requests.inc();
  }

  /** `batches` record batches of `bytes` in all were appended to a partition of `topic`. */
  produced(topic: string, bytes: number, batches: number): void {
    const counters = this.countersOf(topic);
    counters.batches.inc(batches);
    counters.bytes.inc(bytes);
  }

  /** A Produce request with `acks` was answered after `seconds`. */
  produceAnswered(acks: string, seconds: number): void {
    let child = this.latencyByAcks.get(acks);
    if (child === undefined) {
      child = this.produceLatency.labels(acks);
      this.latencyByAcks.set(acks, child);
    }
    child.observe(seconds);
  }

  /** A Fetch was answered with `bytes` of record batches after long-polling `waitSeconds`. */
  fetchAnswered(bytes: number, waitSeconds: number): void {
    this.fetchRequests.inc();
    if (bytes > 0) this.fetchBytes.inc(bytes);
    this.fetchWait.observe(waitSeconds);
  }

  subscribeOpened(): void {
    this.subscribeStreams.inc();
  }

  subscribeClosed(): void {
    this.subscribeStreams.dec();
  }

  /** An error answer: a partition-level error code or a gRPC status name. */
  error(api: 'produce' | 'fetch' | 'subscribe', code: string): void {
    this.errors.inc({ api, code });
  }

  /** The text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private countersOf(topic: string): TopicCounters {
    let counters = this.topicCounters.get(topic);
    if (counters === undefined) {
      const label = this.topicCounters.size < this.options.topicLabelsMax ? topic : OTHER_TOPIC_LABEL;
      counters =
        label === OTHER_TOPIC_LABEL && this.topicCounters.has(OTHER_TOPIC_LABEL)
          ? this.topicCounters.get(OTHER_TOPIC_LABEL)!
          : { requests: this.produceRequests.labels(label), batches: this.produceBatches.labels(label), bytes: this.produceBytes.labels(label) };
      // Topics past the cap all map to one entry, so the map is bounded too.
      this.topicCounters.set(label === OTHER_TOPIC_LABEL ? OTHER_TOPIC_LABEL : topic, counters);
    }
    return counters;
  }

  /** Per-partition gauges, read from the partitions when scraped (nothing on the data path). */
  private registerPartitionGauges(registers: Registry[]): void {
    const topics = this.options.topics;
    const max = this.options.partitionsMax;
    // Each gauge reads the partitions itself when scraped: one getter per partition, at most max.
    const perPartition = (name: string, help: string, read: (partition: ServedPartition) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'],
        registers,
        collect(this: Gauge<'topic' | 'partition'>) {
          this.reset();
          let reported = 0;
          for (const topic of topics.list()) {
            for (const partition of topic.partitions) {
              // In a cluster a broker reports the replicas it holds; the others are its peers' to report.
              if (partition === undefined) continue;
              if (reported++ >= max) return;
              this.set({ topic: topic.name, partition: String(partition.index) }, read(partition));
            }
          }
        },
      });
    };
    perPartition('brook_partition_log_end_offset', 'Offset the next appended record gets.', (partition) => partition.logEndOffset);
    perPartition('brook_partition_log_start_offset', 'First offset still held.', (partition) => partition.logStartOffset);
    perPartition('brook_partition_high_watermark', 'Offset up to which records are committed.', (partition) => partition.highWatermark);
    perPartition('brook_partition_size_bytes', "Bytes of the partition's segment files.", (partition) => partition.log.sizeBytes);
    new Gauge({
      name: 'brook_partition_metrics_omitted',
      help: 'Partitions left out of the per-partition gauges by metrics.partitions.max.',
      registers,
      collect(this: Gauge) {
        let held = 0;
        for (const topic of topics.list()) for (const partition of topic.partitions) if (partition !== undefined) held++;
        this.set(Math.max(0, held - max));
      },
    });
  }
}
