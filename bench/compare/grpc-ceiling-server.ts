/**
 * The gRPC ceiling's server, run as its own process (as a broker is): one unary method that takes
 * the request bytes and answers 8 bytes, with the same HTTP/2 windows a broker grants
 * (broker/transport/server-flow-control.ts) and the same message size limit. Prints
 * "grpc ceiling listening on HOST:PORT" once it serves; exits on SIGTERM.
 *
 *   node bench/compare/grpc-ceiling-server.js [WINDOW_BYTES]
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { widenServerFlowControl } from '../../broker/transport/server-flow-control.js';
import { CEILING_METHOD_PATH, CEILING_REQUEST_BYTES_MAX, CEILING_WINDOW_BYTES_DEFAULT } from './grpc-ceiling.js';

const windowBytes = Number(process.argv[2] ?? CEILING_WINDOW_BYTES_DEFAULT);
const identity = (value: Buffer) => value;
const answer = Buffer.alloc(8);
const server = new grpc.Server({ 'grpc.max_receive_message_length': CEILING_REQUEST_BYTES_MAX, 'grpc.max_send_message_length': CEILING_REQUEST_BYTES_MAX });
server.addService({
  call: { path: CEILING_METHOD_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
}, {
  call: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, answer),
});
const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
const logger = { warn: (...args: unknown[]) => process.stderr.write(`${JSON.stringify(args)}\n`) } as unknown as Logger;
widenServerFlowControl(server, windowBytes, logger);
process.stdout.write(`grpc ceiling listening on 127.0.0.1:${port}\n`);
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
