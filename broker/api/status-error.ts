import type { status } from '@grpc/grpc-js';

/**
 * Refuses a whole call with a gRPC status (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE)
 * rather than per-partition error codes; the service wrapper sends it as the call's status.
 */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}
