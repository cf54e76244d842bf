import type { Logger } from 'pino';
import type { CodecPool } from '../../record/codec-pool.js';
import type { DecodeLimits } from '../../record/record-batch.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { TopicService } from './topic-service.js';

/** What the gRPC handlers need, handed in by the composition root (broker/main.ts). */
export interface ApiContext {
  readonly config: BrokerConfig;
  /** Topics, partitions and the cluster view: TopicRegistry alone, ClusterTopics in a cluster. */
  readonly topics: TopicService;
  readonly pool: CodecPool;
  readonly decodeLimits: DecodeLimits;
  readonly clock: { nowMs(): number };
  readonly logger: Logger;
  /** Aborted when the broker starts shutting down: long polls answer, subscriptions end. */
  readonly shutdownSignal: AbortSignal;
  /** The address clients reach this broker at (Metadata reports it). */
  readonly advertised: () => { host: string; port: number };
}
