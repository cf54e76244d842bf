/**
 * The brook.v1.Groups gRPC service (proto/groups.proto) and its assembly: the offsets topic of
 * the broker's mode, the coordinator, the offset lookup. The composition root (broker/main.ts)
 * calls startGroupsService and adds the returned service to the client listener.
 *
 * As in the Brook service, group errors are error codes in responses; a gRPC status other than OK
 * means the call was refused as a whole (INVALID_ARGUMENT for bytes that do not decode, INTERNAL
 * for a broker bug, logged with its stack).
 */
import { status, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { loadGroupsProto } from '../../proto/groups-proto.js';
import type { ApiContext } from '../api/api-context.js';
import { ListOffsetsHandler } from '../api/list-offsets-handler.js';
import { isClusterMode } from '../config/broker-config.js';
import type { PartitionLogDeps } from '../storage/partition-log.js';
import { GroupAdmin } from './group-admin.js';
import { GroupCoordinator } from './group-coordinator.js';
import { OffsetLookup } from './offset-lookup.js';
import { ClusterOffsetsTopic, SingleBrokerOffsetsTopic, type OffsetsTopic } from './offsets-topic.js';

export interface GroupsService {
  /** For server.addService: the Groups service with tolerant request decoding. */
  readonly service: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
  readonly coordinator: GroupCoordinator;
  /** Answers waiting calls with NOT_COORDINATOR, stops timers, closes the offsets logs (single broker). */
  close(): Promise<void>;
}

export interface GroupsServiceOptions {
  /** The API's context: config, topics, clock, advertised address, logger. */
  readonly context: ApiContext;
  /** For the single broker's own offsets logs. */
  readonly logDeps: PartitionLogDeps;
  readonly logger: Logger;
}

/** Opens the offsets topic of the broker's mode and starts the coordinator. */
export async function startGroupsService(options: GroupsServiceOptions): Promise<GroupsService> {
  const { context, logger } = options;
  const { config } = context;
  const offsetsTopic: OffsetsTopic = isClusterMode(config)
    ? new ClusterOffsetsTopic(context.topics, config, context.clock, logger)
    : await SingleBrokerOffsetsTopic.open({
        config,
        logDeps: options.logDeps,
        logger,
        self: () => ({ nodeId: config.nodeId, ...context.advertised(), rack: config.rack }),
      });
  const coordinator = new GroupCoordinator({
    offsetsTopic,
    settings: {
      initialRebalanceDelayMs: config.groupsInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupsMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupsMaxSessionTimeoutMs,
    },
    clock: context.clock,
    logger,
  });
  const listOffsets = new ListOffsetsHandler(context);
  const lookup = new OffsetLookup((request) => listOffsets.listOffsets(request), context.clock);
  const admin = new GroupAdmin(coordinator, context.topics, lookup);
  coordinator.start();
  const proto = loadGroupsProto();
  return {
    service: tolerantDecoding(proto.service),
    implementation: groupsImplementation(coordinator, admin, logger),
    coordinator,
    close: async () => {
      coordinator.close();
      lookup.close();
      await offsetsTopic.close();
    },
  };
}

const MALFORMED = Symbol('malformed request');

/** A copy of `service` whose request decoders return a marker instead of throwing. */
function tolerantDecoding(service: ServiceDefinition): ServiceDefinition {
  const wrapped: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    wrapped[name] = {
      ...method,
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

type Work<Req, Res> = (request: Req, clientHost: string) => Promise<Res> | Res;

function groupsImplementation(coordinator: GroupCoordinator, admin: GroupAdmin, logger: Logger): UntypedServiceImplementation {
  function unary<Req, Res>(method: string, work: Work<Req, Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const request = call.request as Req & { [MALFORMED]?: string };
      if (typeof request === 'object' && request !== null && MALFORMED in request) {
        callback({ code: status.INVALID_ARGUMENT, details: `malformed ${method} request: ${request[MALFORMED]}` });
        return;
      }
      Promise.resolve()
        .then(() => work(request, call.getPeer()))
        .then(
          (response) => callback(null, response),
          (error: unknown) => {
            logger.error({ err: error, method }, 'groups handler failed');
            callback({ code: status.INTERNAL, details: `${method} failed: ${error instanceof Error ? error.message : String(error)}` });
          },
        );
    };
  }
  return {
    FindCoordinator: unary('FindCoordinator', (request) => coordinator.findCoordinator(request as never)),
    JoinGroup: unary('JoinGroup', (request, clientHost) => coordinator.joinGroup(request as never, clientHost)),
    SyncGroup: unary('SyncGroup', (request) => coordinator.syncGroup(request as never)),
    Heartbeat: unary('Heartbeat', (request) => coordinator.heartbeat(request as never)),
    LeaveGroup: unary('LeaveGroup', (request) => coordinator.leaveGroup(request as never)),
    OffsetCommit: unary('OffsetCommit', (request) => admin.offsetCommit(request as never)),
    OffsetFetch: unary('OffsetFetch', (request) => admin.offsetFetch(request as never)),
    ListGroups: unary('ListGroups', (request) => admin.listGroups(request as never)),
    DescribeGroups: unary('DescribeGroups', (request) => admin.describeGroups(request as never)),
    DeleteGroups: unary('DeleteGroups', (request) => admin.deleteGroups(request as never)),
    ResetOffsets: unary('ResetOffsets', (request) => admin.resetOffsets(request as never)),
  };
}
