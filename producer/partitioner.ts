/**
 * Choosing a partition for each record.
 *
 * The default: an explicit partition wins; a keyed record goes to murmur2(key) mod partitions (as
 * in Kafka, so keys land where a Kafka client would put them); a record without key goes to a
 * "sticky" partition that changes only after about `stickyBytes` bytes were sent to it, so records
 * without keys fill whole batches instead of spreading thin ones over every partition.
 */
import { partitionForKey } from './murmur2.js';

/** What a partitioner is told about one record. The object is reused between calls: read it, don't keep it. */
export interface PartitionerInput {
  readonly topic: string;
  readonly partitionCount: number;
  /** Partitions that currently have a known leader; the default's sticky choice prefers them. */
  readonly availablePartitions: readonly number[];
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Estimated encoded size of the record. */
  readonly recordBytes: number;
}

/** Returns the partition (0 .. partitionCount - 1) for one record. */
export type Partitioner = (input: PartitionerInput) => number;

/** Sticky choice for records without key: one current partition per topic. */
export class StickyPartitionChooser {
  private readonly current = new Map<string, { partition: number; bytes: number }>();

  constructor(
    private readonly stickyBytes: number,
    private readonly random: () => number = Math.random,
  ) {}

  choose(topic: string, partitionCount: number, availablePartitions: readonly number[], recordBytes: number): number {
    let state = this.current.get(topic);
    if (state === undefined || state.bytes >= this.stickyBytes || state.partition >= partitionCount) {
      state = { partition: this.pickNext(partitionCount, availablePartitions, state?.partition), bytes: 0 };
      this.current.set(topic, state);
    }
    state.bytes += recordBytes;
    return state.partition;
  }

  private pickNext(partitionCount: number, available: readonly number[], previous: number | undefined): number {
    const candidates = available.length > 0 ? available : Array.from({ length: partitionCount }, (_, i) => i);
    if (candidates.length === 1) return candidates[0];
    // Move away from the previous partition so that its batch gets sent and the load spreads.
    for (;;) {
      const choice = candidates[Math.floor(this.random() * candidates.length)];
      if (choice !== previous) return choice;
    }
  }
}

/** The default partitioner: keyed by murmur2, sticky for null keys. */
export function createDefaultPartitioner(options: { stickyBytes: number; random?: () => number }): Partitioner {
  const sticky = new StickyPartitionChooser(options.stickyBytes, options.random);
  return (input) => {
    if (input.key !== null) return partitionForKey(input.key, input.partitionCount);
    return sticky.choose(input.topic, input.partitionCount, input.availablePartitions, input.recordBytes);
  };
}
