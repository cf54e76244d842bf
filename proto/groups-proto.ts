/**
 * Loads proto/groups.proto (the brook.v1.Groups service; it imports brook.proto for ErrorCode and
 * BrokerInfo) at run time with @grpc/proto-loader, with the same options as brook.proto, so the
 * shapes in groups-types.ts apply.
 *
 * ```ts
 * const { Client } = loadGroupsProto();
 * const groups = new Client('127.0.0.1:9092', grpc.credentials.createInsecure());
 * groups.FindCoordinator({ groupId: 'billing' }, (error, response) => { ... });
 * ```
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { dirname } from 'node:path';
import { BROOK_PROTO_LOADER_OPTIONS } from './brook-proto.js';
import { protoFilePath } from './proto-file-path.js';

/** Fully qualified gRPC service name. */
export const GROUPS_SERVICE_NAME = 'brook.v1.Groups';

/** Options the groups proto is loaded with: brook.proto's, plus the proto/ folder for the import. */
export function groupsProtoLoaderOptions(): protoLoader.Options {
  return { ...BROOK_PROTO_LOADER_OPTIONS, includeDirs: [dirname(groupsProtoPath())] };
}

/** Absolute path of groups.proto, found from this module's location (works from dist/ and elsewhere). */
export function groupsProtoPath(): string {
  return protoFilePath('groups.proto');
}

export interface GroupsProto {
  /** The package definition (message (de)serializers: definition['brook.v1.JoinGroupRequest']). */
  readonly definition: protoLoader.PackageDefinition;
  /** The Groups service definition, for `server.addService(...)`. */
  readonly service: grpc.ServiceDefinition;
  /** Client constructor: `new proto.Client('127.0.0.1:9092', grpc.credentials.createInsecure())`. */
  readonly Client: grpc.ServiceClientConstructor;
}

let cached: GroupsProto | undefined;

/** Loads (once per process) and returns the Groups service definition and client constructor. */
export function loadGroupsProto(): GroupsProto {
  if (cached !== undefined) return cached;
  const definition = protoLoader.loadSync(groupsProtoPath(), groupsProtoLoaderOptions());
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    brook: { v1: { Groups: grpc.ServiceClientConstructor } };
  };
  const Client = loaded.brook.v1.Groups;
  cached = Object.freeze({ definition, service: Client.service, Client });
  return cached;
}
