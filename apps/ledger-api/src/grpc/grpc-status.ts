import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { encodeRetryStatus, STATUS_DETAILS_KEY } from '@ledger/client';
import { ContendedChangeError, DomainError, type DomainErrorKind } from '@ledger/domain';
import { EventStoreError, MalformedTokenError } from '@ledger/event-store';
import { ConsistencyTimeoutError } from '@ledger/projections';

/** How long a client should wait before retrying an UNAVAILABLE (the HTTP API's Retry-After: 1). */
export const RETRY_DELAY_MS = 1000;

const CODE_BY_KIND: Record<DomainErrorKind, status> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  // A rule of the contract refused the request: retrying it unchanged cannot succeed.
  conflict: status.FAILED_PRECONDITION,
};

/** A failure the adapter itself detects (bad input, a missing key), carried with its gRPC code. */
export class GrpcFailure extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcFailure';
  }
}

export interface DescribedFailure {
  readonly error: ServiceError;
  /** Set for failures the adapter did not foresee: they are logged, the caller sees only INTERNAL. */
  readonly unexpected?: unknown;
}

/** The one place failures become gRPC statuses (the HTTP twin is LedgerExceptionFilter). */
export function toGrpcStatus(exception: unknown): DescribedFailure {
  if (exception instanceof GrpcFailure) return { error: serviceError(exception.code, exception.message) };
  // A lost optimistic-concurrency race: the client may retry the whole call (gRPC's ABORTED).
  if (exception instanceof ContendedChangeError) {
    return { error: serviceError(status.ABORTED, exception.message) };
  }
  if (exception instanceof DomainError) {
    return { error: serviceError(CODE_BY_KIND[exception.kind], exception.message) };
  }
  if (exception instanceof MalformedTokenError) {
    return { error: serviceError(status.INVALID_ARGUMENT, exception.message) };
  }
  if (exception instanceof ConsistencyTimeoutError) {
    return { error: unavailable(exception.message) };
  }
  if (exception instanceof EventStoreError) {
    return { error: unavailable('the event store is unavailable; retry'), unexpected: exception };
  }
  return { error: serviceError(status.INTERNAL, 'internal error'), unexpected: exception };
}

function unavailable(message: string): ServiceError {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeRetryStatus(status.UNAVAILABLE, message, RETRY_DELAY_MS));
  return serviceError(status.UNAVAILABLE, message, metadata);
}

function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata });
}
