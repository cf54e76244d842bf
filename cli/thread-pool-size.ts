/**
 * Imported first by the command-line entry points: gives libuv's thread pool 16 threads unless
 * the user chose a size. A cluster broker with many partitions syncs many files at once (each
 * replica's log and state file), and the default pool of 4 serializes those fdatasyncs behind
 * each other; the pool's size is read once, at its first use, so it must be set before any file
 * or DNS work starts.
 */
const DEFAULT_THREAD_POOL_SIZE = 16;

process.env.UV_THREADPOOL_SIZE ??= String(DEFAULT_THREAD_POOL_SIZE);

export {};
