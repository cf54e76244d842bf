/**
 * The HTTP endpoint Prometheus scrapes: GET /metrics on metrics.listen. Metrics are never a
 * reason for the broker not to run: when the address cannot be bound (taken, not allowed) the
 * broker logs a warning and carries on without the endpoint.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { BrokerMetrics } from './broker-metrics.js';

/** Longest a scrape may take before its connection is dropped. */
const SCRAPE_TIMEOUT_MS = 10_000;

export interface RunningMetricsServer {
  /** host:port it listens on (the real port when asked for port 0). */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts the endpoint; resolves undefined (after a warning) when it cannot listen. */
export function startMetricsServer(metrics: BrokerMetrics, host: string, port: number, logger: Logger): Promise<RunningMetricsServer | undefined> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(request.method !== 'GET' && path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' });
      response.end('brook serves GET /metrics\n');
      return;
    }
    metrics.scrape().then(
      (body) => {
        response.writeHead(200, { 'content-type': metrics.contentType });
        response.end(body);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics scrape failed');
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('scrape failed\n');
      },
    );
  });
  server.requestTimeout = SCRAPE_TIMEOUT_MS;
  return new Promise((resolve) => {
    const onError = (error: Error): void => {
      logger.warn({ err: error, host, port }, 'metrics endpoint not started; the broker runs without it');
      resolve(undefined);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      server.on('error', (error) => logger.warn({ err: error }, 'metrics endpoint error'));
      const bound = server.address();
      const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
      const address = host.includes(':') ? `[${host}]:${boundPort}` : `${host}:${boundPort}`;
      logger.info({ metricsAddress: address }, 'metrics listening');
      resolve({ address, close: () => closeServer(server) });
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
