/**
 * Times the checker on a large generated clean history (not a test: figures depend on the machine).
 *
 *   node dist/test/chaos/checker-speed-main.js [sends=300000] [seed=1]
 */
import { check } from './checker.js';
import { generateCleanHistory } from './clean-history-generator.js';

const sends = Number(process.argv[2] ?? 300_000);
const seed = Number(process.argv[3] ?? 1);
const generateStartMs = performance.now();
const history = generateCleanHistory({ seed, sends, idempotence: false, partitions: 8, producers: 4, liveConsumers: 2 });
const checkStartMs = performance.now();
const result = check(history, { idempotence: false });
const checkMs = performance.now() - checkStartMs;
const anomalies = Object.values(result.counts.anomaliesByType).reduce((sum, n) => sum + n, 0);
console.log(
  `events ${history.length}  generate ${(checkStartMs - generateStartMs).toFixed(0)} ms  check ${checkMs.toFixed(0)} ms` +
    `  (${((history.length / checkMs) * 1000 / 1e6).toFixed(2)} M events/s)  anomalies ${anomalies}` +
    `  heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
);
