/**
 * Loads proto/raft.proto with protobufjs and builds the gRPC method definition of
 * RaftTransport.Connect by hand (no @grpc/proto-loader), so frames are decoded by protobufjs
 * directly: decoded `bytes` fields (entry data, snapshot data) are views into the received
 * buffer, never copies, and no intermediate plain-object conversion runs per message.
 */
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { protoFilePath } from '../../proto/proto-file-path.js';

/** Full gRPC path of the one method of the transport. */
export const RAFT_CONNECT_PATH = '/brook.raft.v1.RaftTransport/Connect';

/** Absolute path of raft.proto. */
export function raftProtoPath(): string {
  return protoFilePath('raft.proto');
}

export interface RaftProto {
  /** brook.raft.v1.Frame: encode(plainObject).finish() / decode(buffer). */
  readonly Frame: protobuf.Type;
}

let cached: RaftProto | undefined;

/** Loads raft.proto once per process. */
export function loadRaftProto(): RaftProto {
  if (cached !== undefined) return cached;
  const root = protobuf.loadSync(raftProtoPath());
  const service = root.lookupService('brook.raft.v1.RaftTransport');
  const connect = service.methods['Connect'];
  assert.ok(connect !== undefined && connect.requestStream === true && connect.responseStream === true, 'raft.proto: Connect must be a bidirectional stream');
  cached = Object.freeze({ Frame: root.lookupType('brook.raft.v1.Frame') });
  return cached;
}

const passThrough = (frame: Buffer): Buffer => frame;

/**
 * The gRPC method definition of RaftTransport.Connect, the same for both sides: frames are
 * written already encoded (PeerTransport encodes them itself, to know their size) and arrive
 * decoded by protobufjs, whose `bytes` fields are views into the received buffer.
 */
export function connectMethodDefinition<Decoded>(): grpc.MethodDefinition<Buffer, Decoded> & grpc.MethodDefinition<Decoded, Buffer> {
  const { Frame } = loadRaftProto();
  const decode = (bytes: Buffer): Decoded => Frame.decode(bytes) as unknown as Decoded;
  return {
    path: RAFT_CONNECT_PATH,
    requestStream: true,
    responseStream: true,
    originalName: 'connect',
    requestSerialize: passThrough,
    requestDeserialize: decode,
    responseSerialize: passThrough,
    responseDeserialize: decode,
  } as grpc.MethodDefinition<Buffer, Decoded> & grpc.MethodDefinition<Decoded, Buffer>;
}
