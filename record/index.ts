/** The record batch format in one import: types, encoder, decoder, codecs, control batches, pool. */
export * from './batch-header.js';
export * from './errors.js';
export type * from './record.js';
export * from './record-batch.js';
export { compress, decompress, codecName, codecFromName, isKnownCodec, ZSTD_WINDOW_LOG_MAX } from './codecs.js';
export * from './control-record.js';
export * from './codec-pool.js';
