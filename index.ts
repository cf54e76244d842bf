/**
 * Brook's public TypeScript API: `import { Producer, Consumer, Admin } from 'brook'`.
 *
 * The clients speak gRPC (proto/brook.proto) to any Brook broker; see client/README.md for the
 * producer and consumer settings, and cli/README.md for the `brook` command.
 */
export { Producer, PRODUCER_DEFAULTS } from './producer/producer.js';
export type { ProducerConfig, Message, SendRequest, RecordMetadata, AcksSetting, CompressionSetting } from './producer/producer.js';
export { Consumer, CONSUMER_DEFAULTS } from './consumer/consumer.js';
export type { ConsumerConfig, ConsumerMessage, StartOffset, TopicPartitionOffset, EachMessagePayload, EachBatchPayload, RunOptions } from './consumer/consumer.js';
export { Admin } from './client/admin.js';
export type { NewTopicSpec, PartitionOffsets, TopicDescription } from './client/admin.js';
export * from './client/errors.js';
export { Codec } from './record/batch-header.js';
