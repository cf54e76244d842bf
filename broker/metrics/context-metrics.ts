/**
 * Which BrokerMetrics the handlers of one broker report to. The handlers only see their
 * ApiContext, so the composition root attaches the metrics to that context object; handlers of
 * a broker without metrics (metrics.enabled=false) find none and skip counting.
 */
import type { ApiContext } from '../api/api-context.js';
import type { BrokerMetrics } from './broker-metrics.js';

const attached = new WeakMap<ApiContext, BrokerMetrics>();

/** Makes the handlers built on `context` count into `metrics`. */
export function attachMetrics(context: ApiContext, metrics: BrokerMetrics): void {
  attached.set(context, metrics);
}

/** The metrics attached to `context`, if any. */
export function metricsOf(context: ApiContext): BrokerMetrics | undefined {
  return attached.get(context);
}
