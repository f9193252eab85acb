import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { encodeRetryStatus, OLDEST_RESUMABLE_TOKEN_KEY, STATUS_DETAILS_KEY } from '@ledger/client';
import { ContendedChangeError, DomainError, type DomainErrorKind } from '@ledger/domain';
import { EventStoreError, MalformedTokenError } from '@ledger/event-store';
import { ConsistencyTimeoutError } from '@ledger/projections';
import { WatchConnectionLimitError, WatchTokenTooOldError } from '../watch/relationship-feed.service';

/** How long a client should wait before retrying an UNAVAILABLE (the HTTP API's Retry-After: 1). */
export const RETRY_DELAY_MS = 1000;
/** How long a Watch refused for the key's stream limit should wait (the HTTP API's Retry-After: 5). */
export const WATCH_RETRY_DELAY_MS = 5000;

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

/** A Watch feed that failed after it started (its history could not be read): the store is away. */
export class WatchFeedFailedError extends Error {
  constructor(
    message: string,
    readonly resumeAfter: string,
  ) {
    super(message);
    this.name = 'WatchFeedFailedError';
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
  if (exception instanceof ConsistencyTimeoutError || exception instanceof WatchFeedFailedError) {
    return { error: unavailable(exception.message) };
  }
  if (exception instanceof WatchConnectionLimitError) {
    return { error: withRetry(status.RESOURCE_EXHAUSTED, exception.message, WATCH_RETRY_DELAY_MS) };
  }
  // The HTTP API's 410: the range the feed replays starts after this token; resync, then watch without it.
  if (exception instanceof WatchTokenTooOldError) {
    const metadata = new Metadata();
    metadata.set(OLDEST_RESUMABLE_TOKEN_KEY, exception.oldestToken);
    return { error: serviceError(status.OUT_OF_RANGE, exception.message, metadata) };
  }
  if (exception instanceof EventStoreError) {
    return { error: unavailable('the event store is unavailable; retry'), unexpected: exception };
  }
  return { error: serviceError(status.INTERNAL, 'internal error'), unexpected: exception };
}

function unavailable(message: string): ServiceError {
  return withRetry(status.UNAVAILABLE, message, RETRY_DELAY_MS);
}

function withRetry(code: status, message: string, retryDelayMs: number): ServiceError {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeRetryStatus(code, message, retryDelayMs));
  return serviceError(code, message, metadata);
}

function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata });
}
