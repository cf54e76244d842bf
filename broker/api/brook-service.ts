/**
 * The brook.v1.Brook gRPC service: binds each RPC to its handler and turns the outcomes into
 * gRPC answers. Per-partition problems are error codes inside responses (the handlers' job);
 * what refuses a whole call becomes a gRPC status here:
 * - malformed protobuf -> INVALID_ARGUMENT (grpc-js alone would answer INTERNAL, so request
 *   decoding is wrapped to tell a client's bad bytes from a broker bug);
 * - StatusError -> its status (RESOURCE_EXHAUSTED, ...);
 * - anything else -> INTERNAL, logged with its stack (a bug).
 */
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { FetchResponse, SubscribeRequest, SubscribeResponse } from '../../proto/brook-types.js';
import type { ApiContext } from './api-context.js';
import { AdminHandler } from './admin-handler.js';
import { FetchHandler } from './fetch-handler.js';
import { encodeFetchResponse } from './fetch-response-encoder.js';
import { ListOffsetsHandler } from './list-offsets-handler.js';
import { MetadataHandler } from './metadata-handler.js';
import { ProduceHandler } from './produce-handler.js';
import { StatusError } from './status-error.js';
import { SubscribeHandler } from './subscribe-handler.js';

/** Marks a request whose bytes did not decode; carries the decoder's message. */
const MALFORMED = Symbol('malformed request');

interface MalformedRequest {
  readonly [MALFORMED]: string;
}

function isMalformed(request: unknown): request is MalformedRequest {
  return typeof request === 'object' && request !== null && MALFORMED in request;
}

/**
 * A copy of `service` whose request decoders return a marker instead of throwing, and whose Fetch
 * responses carrying stored batches are encoded by encodeFetchResponse (one copy of the data)
 * rather than the generic encoder.
 */
export function withTolerantDecoding(service: ServiceDefinition): ServiceDefinition {
  const wrapped: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    const encode = method.responseSerialize;
    wrapped[name] = {
      ...method,
      responseSerialize: name === 'Fetch' ? (response: FetchResponse) => encodeFetchResponse(response) ?? encode(response) : encode,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return { [MALFORMED]: error instanceof Error ? error.message : String(error) };
        }
      },
    };
  }
  return wrapped as ServiceDefinition;
}

type UnaryWork<Req, Res> = (request: Req, cancelled: AbortSignal) => Promise<Res> | Res;

/** The service implementation for server.addService. */
export function createBrookService(context: ApiContext): UntypedServiceImplementation {
  const produce = new ProduceHandler(context);
  const fetch = new FetchHandler(context);
  const subscribe = new SubscribeHandler(context);
  const listOffsets = new ListOffsetsHandler(context);
  const admin = new AdminHandler(context);
  const metadata = new MetadataHandler(context);
  const logger = context.logger;

  function unary<Req, Res>(method: string, work: UnaryWork<Req, Res>) {
    return (call: ServerUnaryCall<Req | MalformedRequest, Res>, callback: sendUnaryData<Res>): void => {
      if (isMalformed(call.request)) {
        callback({ code: status.INVALID_ARGUMENT, details: `malformed ${method} request: ${call.request[MALFORMED]}` });
        return;
      }
      const cancel = new AbortController();
      call.once('cancelled', () => cancel.abort());
      Promise.resolve()
        .then(() => work(call.request as Req, cancel.signal))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(toStatus(error, method)),
        );
    };
  }

  function toStatus(error: unknown, method: string): { code: status; details: string } {
    if (error instanceof StatusError) return { code: error.code, details: error.message };
    logger.error({ err: error, method }, 'handler failed');
    return { code: status.INTERNAL, details: `${method} failed: ${error instanceof Error ? error.message : String(error)}` };
  }

  return {
    Metadata: unary('Metadata', (request) => metadata.metadata(request)),
    Produce: unary('Produce', (request) => produce.produce(request)),
    Fetch: unary('Fetch', (request, cancelled) => fetch.fetch(request, cancelled)),
    ListOffsets: unary('ListOffsets', (request) => listOffsets.listOffsets(request)),
    CreateTopics: unary('CreateTopics', (request) => admin.createTopics(request)),
    DeleteTopics: unary('DeleteTopics', (request) => admin.deleteTopics(request)),
    DescribeTopics: unary('DescribeTopics', (request) => admin.describeTopics(request)),
    AlterTopicConfigs: unary('AlterTopicConfigs', (request) => admin.alterTopicConfigs(request)),
    CreatePartitions: unary('CreatePartitions', (request) => admin.createPartitions(request)),
    DescribeCluster: unary('DescribeCluster', () => admin.describeCluster()),
    ReassignPartitions: unary('ReassignPartitions', (request) => admin.reassignPartitions(request)),
    DecommissionBroker: unary('DecommissionBroker', (request) => admin.decommissionBroker(request)),
    Subscribe: subscribeCall as UntypedServiceImplementation[string],
  };

  function subscribeCall(stream: ServerWritableStream<SubscribeRequest | MalformedRequest, SubscribeResponse>): void {
    // A server stream ends with a status when 'error' is emitted on it (grpc-js convention).
    const fail = (code: status, details: string): void => void stream.emit('error', { code, details });
    if (isMalformed(stream.request)) {
      fail(status.INVALID_ARGUMENT, `malformed Subscribe request: ${stream.request[MALFORMED]}`);
      return;
    }
    const cancel = new AbortController();
    stream.once('cancelled', () => cancel.abort());
    subscribe.subscribe(stream as ServerWritableStream<SubscribeRequest, SubscribeResponse>, cancel.signal).then(
      () => {
        if (!cancel.signal.aborted) stream.end();
      },
      (error: unknown) => {
        const { code, details } = toStatus(error, 'Subscribe');
        fail(code, details);
      },
    );
  }
}
