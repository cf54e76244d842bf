/**
 * Loads proto/brook.proto at run time with @grpc/proto-loader, so broker and clients share one
 * definition without a code-generation step.
 *
 * Loader options, and what they mean for the shapes in brook-types.ts:
 * - keepCase: false — fields are lowerCamelCase in JavaScript (`record_batch` -> `recordBatch`).
 * - longs: Number — int64 fields are JS numbers. Offsets and timestamps in Brook stay below
 *   2^53, so no precision is lost.
 * - enums: String — enum fields decode as their names ('NONE', 'OFFSET_OUT_OF_RANGE', ...);
 *   either names or numbers may be written.
 * - defaults: true — absent scalar, repeated and map fields decode as their default (0, '', [],
 *   {}); nullable fields (one-field oneofs: record keys, values, header values, timestamps) stay absent
 *   (undefined) when not sent, which is how null is carried.
 * - oneofs: false — no virtual oneof properties.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFilePath } from './proto-file-path.js';

/** Options every Brook process loads brook.proto with; see the file comment. */
export const BROOK_PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: false,
});

/** Fully qualified gRPC service name. */
export const BROOK_SERVICE_NAME = 'brook.v1.Brook';

/** Absolute path of brook.proto, found from this module's location (works from dist/ and elsewhere). */
export function brookProtoPath(): string {
  return protoFilePath('brook.proto');
}

export interface BrookProto {
  /** The package definition, e.g. for message (de)serializers: definition['brook.v1.Record']. */
  readonly definition: protoLoader.PackageDefinition;
  /** The Brook service definition, for `server.addService(...)`. */
  readonly service: grpc.ServiceDefinition;
  /** Client constructor: `new proto.Client('127.0.0.1:9092', grpc.credentials.createInsecure())`. */
  readonly Client: grpc.ServiceClientConstructor;
}

let cached: BrookProto | undefined;

/** Loads (once per process) and returns the Brook service definition and client constructor. */
export function loadBrookProto(): BrookProto {
  if (cached !== undefined) return cached;
  const definition = protoLoader.loadSync(brookProtoPath(), BROOK_PROTO_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    brook: { v1: { Brook: grpc.ServiceClientConstructor } };
  };
  const Client = loaded.brook.v1.Brook;
  cached = Object.freeze({ definition, service: Client.service, Client });
  return cached;
}
