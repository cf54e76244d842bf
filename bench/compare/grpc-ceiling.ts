/**
 * The ceiling W5 is held against: a bare gRPC unary call carrying the same bytes as one of
 * Brook's produce requests (1 MiB by default), to a server process that does nothing with them,
 * with widened HTTP/2 windows on both ends (the client's grpc-node.flow_control_window, the
 * server's as a broker sets them). Measured by the same tool in the same run, with as many calls
 * outstanding as the producer keeps requests in flight.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { RunResult } from './bench-result.js';
import { LiveProgress } from './live-progress.js';
import { CompletionSignal, driveAtMaxRate, type DriverTarget } from './load-driver.js';
import type { ProcessGroup } from './process-group.js';
import { nowNs, ThroughputMeter } from './throughput-meter.js';
import { makePayload } from './workload-spec.js';

export const CEILING_METHOD_PATH = '/brook.bench.Ceiling/Call';
export const CEILING_REQUEST_BYTES_MAX = 64 * 1024 * 1024;
/** The broker's default flow.control.window.bytes. */
export const CEILING_WINDOW_BYTES_DEFAULT = 16 * 1024 * 1024;
const SERVER_SCRIPT = fileURLToPath(new URL('./grpc-ceiling-server.js', import.meta.url));
const CALL_TIMEOUT_MS = 30_000;

export interface CeilingSpec {
  /** Bytes per call. */
  readonly requestBytes: number;
  readonly calls: number;
  readonly concurrency: number;
  readonly maxSeconds: number;
  readonly windowBytes: number;
}

/** Starts the ceiling server, runs `spec.calls` calls (or until maxSeconds), stops the server. */
export async function measureGrpcCeiling(group: ProcessGroup, spec: CeilingSpec, run: { label: string; progress: boolean }): Promise<RunResult> {
  const server = await group.start({ name: 'grpc ceiling server', command: process.execPath, args: [SERVER_SCRIPT, String(spec.windowBytes)], readyPattern: /grpc ceiling listening on (\S+)/, startTimeoutMs: 15_000 });
  const client = new grpc.Client(server.ready[1], grpc.credentials.createInsecure(), {
    'grpc-node.flow_control_window': spec.windowBytes,
    'grpc.max_send_message_length': CEILING_REQUEST_BYTES_MAX,
    'grpc.max_receive_message_length': CEILING_REQUEST_BYTES_MAX,
  });
  const payload = makePayload(spec.requestBytes);
  const meter = new ThroughputMeter(run.progress ? new LiveProgress(run.label, spec.calls) : null);
  const signal = new CompletionSignal();
  const errors: Error[] = [];
  let outstanding = 0;
  const identity = (value: Buffer) => value;
  const target: DriverTarget = {
    signal,
    outstanding: () => outstanding,
    send(from, to) {
      for (let i = from; i < to; i++) {
        outstanding++;
        client.makeUnaryRequest(CEILING_METHOD_PATH, identity, identity, payload, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error) => {
          outstanding--;
          if (error) errors.push(error);
          else meter.add(1, spec.requestBytes);
          signal.notify();
        });
      }
    },
  };
  try {
    // One call first, so the connection is up before the clock starts (as the producer's is).
    await new Promise<void>((resolve, reject) => client.makeUnaryRequest(CEILING_METHOD_PATH, identity, identity, payload, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error) => (error ? reject(error) : resolve())));
    const startNs = nowNs();
    meter.start(startNs);
    await driveAtMaxRate(target, { records: spec.calls, deadlineNs: startNs + spec.maxSeconds * 1e9, chunkRecords: 1, windowRecords: spec.concurrency });
  } finally {
    client.close();
    await server.stop();
  }
  if (errors.length > 0) throw new Error(`gRPC ceiling call failed: ${errors[0].message}`);
  const throughput = meter.finish(meter.lastCompletionNs);
  return { ...throughput, system: 'grpc', kind: 'grpc-ceiling', label: run.label, durability: 'none (bytes discarded)', parameters: { ...spec }, latency: null, missingRecords: 0, firstError: null };
}
