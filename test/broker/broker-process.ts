/**
 * Test harness: runs a real broker process (broker/main.js from the same build as this test) on
 * 127.0.0.1 with a free port and a temporary data dir, and talks to it with raw gRPC.
 */
import type { ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadBrookProto } from '../../proto/brook-proto.js';
import { startReadyProcess } from '../fixtures/ready-process.js';

/** The broker entry point, relative to this compiled module (<out>/test/broker -> <out>/broker). */
export const BROKER_MAIN = fileURLToPath(new URL('../../broker/main.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly dataDir: string;
  /** Everything the broker printed so far (JSON log lines). */
  output(): string;
  /** Sends `signal` and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** A fresh temporary data dir; remove with removeDir. */
export function makeDataDir(prefix = 'brook-broker-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts a broker with `--data-dir dataDir --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0` plus `args`; resolves once it listens. */
export async function startBrokerProcess(dataDir: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<BrokerProcess> {
  const started = await startReadyProcess({
    name: 'broker',
    args: [BROKER_MAIN, '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'info', '--metrics-listen', '127.0.0.1:0', ...args],
    env,
    readyPattern: /"address":"([^"]+)"[^\n]*"msg":"broker listening"/,
    startTimeoutMs: START_TIMEOUT_MS,
  });
  return { child: started.child, address: started.ready[1], dataDir, output: started.output, stop: started.stop };
}

/** The broker and raw client of brokerPerFile, readable from inside the tests. */
export interface RunningBroker {
  readonly broker: BrokerProcess;
  readonly client: RawClient;
}

/**
 * One broker started with `args` and a raw client of it, for the tests of the calling file: a
 * `before` hook starts them and then runs `setUp` (the file's own preparation: file-level hooks
 * are not ordered among themselves, so it belongs here), an `after` hook closes them, removes the
 * data dir and asserts that the broker exited cleanly on SIGTERM.
 */
export function brokerPerFile(args: readonly string[], setUp?: (running: RunningBroker) => void | Promise<void>): RunningBroker {
  let broker: BrokerProcess | undefined;
  let client: RawClient | undefined;
  let dataDir: string | undefined;
  before(async () => {
    dataDir = makeDataDir();
    broker = await startBrokerProcess(dataDir, args);
    client = new RawClient(broker.address);
    await setUp?.(running);
  });
  after(async () => {
    client?.close();
    const code = await broker?.stop('SIGTERM');
    if (dataDir !== undefined) removeDir(dataDir);
    assert.equal(code, 0, 'broker exits cleanly on SIGTERM');
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the broker starts in a before hook: use it inside a test or a later hook');
    return value;
  };
  const running: RunningBroker = {
    get broker(): BrokerProcess {
      return started(broker);
    },
    get client(): RawClient {
      return started(client);
    },
  };
  return running;
}

/** A raw gRPC client of brook.v1.Brook with promise-returning unary calls. */
export class RawClient {
  readonly client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

  constructor(address: string) {
    const { Client } = loadBrookProto();
    this.client = new Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    }) as RawClient['client'];
  }

  /** Calls a unary RPC; rejects with the grpc ServiceError on a non-OK status. */
  call<Res = any>(method: string, request: object, deadlineMs = 20_000): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const fn = this.client[method] as (req: object, options: grpc.CallOptions, cb: (error: grpc.ServiceError | null, res: Res) => void) => void;
      fn.call(this.client, request, { deadline: Date.now() + deadlineMs }, (error, response) => (error === null ? resolve(response) : reject(error)));
    });
  }

  /** Sends `bytes` as the request of `method` without encoding them (for malformed-input tests). */
  callRaw(method: string, bytes: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/brook.v1.Brook/${method}`,
        (value: Buffer) => value,
        (value: Buffer) => value,
        bytes,
        { deadline: Date.now() + 20_000 },
        (error: grpc.ServiceError | null, response?: Buffer) => (error === null || error === undefined ? resolve(response!) : reject(error)),
      );
    });
  }

  subscribe(request: object): grpc.ClientReadableStream<any> {
    return (this.client.Subscribe as (req: object) => grpc.ClientReadableStream<any>).call(this.client, request);
  }

  close(): void {
    this.client.close();
  }
}
