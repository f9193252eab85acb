import {
  AccessDeniedError,
  CancelledError,
  convertToCommandError,
  DeadlineExceededError,
  InvalidArgumentError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  StreamDeletedError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  AppendTooLargeError,
  ConcurrencyError,
  EventStoreError,
  StoreClosedError,
  StoreUnavailableError,
} from '../errors';
import type { ExpectedRevision } from '../event-store.port';
import { IncompatibleServerError } from './event-mapping';

export interface ErrorContext {
  readonly operation: string;
  readonly stream?: string;
  readonly expected?: ExpectedRevision;
  /** The store was closed: whatever failed, it failed because of that. */
  readonly closed: boolean;
}

/** A failure that says nothing about the request, only about reaching the server: retrying later may work. */
export function isTransient(error: unknown): boolean {
  if (error instanceof IncompatibleServerError) return false;
  if (error instanceof StoreUnavailableError) return true;
  if (error instanceof EventStoreError) return false;
  const vendor = asVendorError(error);
  return !(
    vendor instanceof AccessDeniedError ||
    vendor instanceof InvalidArgumentError ||
    vendor instanceof StreamDeletedError ||
    vendor instanceof WrongExpectedVersionError ||
    vendor instanceof MaxAppendSizeExceededError
  );
}

function asVendorError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  try {
    return convertToCommandError(error);
  } catch {
    return error;
  }
}

function describeRevision(revision: unknown): string {
  if (typeof revision === 'bigint') return revision < 0n ? 'no_stream' : revision.toString();
  return String(revision);
}

/** A plain copy of a vendor error for `cause`: the message survives, the vendor type does not. */
function plainCause(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const copy = new Error(error.message);
  copy.name = error.constructor?.name ?? error.name;
  return copy;
}

/** Translates anything the vendor client throws into the port's errors; nothing else leaves the adapter. */
export function toPortError(error: unknown, context: ErrorContext): EventStoreError {
  if (error instanceof EventStoreError) return error;
  if (context.closed) return new StoreClosedError();
  const vendor = asVendorError(error);
  const cause = plainCause(vendor);
  const where = context.stream === undefined ? context.operation : `${context.operation} ${context.stream}`;

  if (vendor instanceof WrongExpectedVersionError) {
    const expected =
      context.expected === undefined
        ? describeRevision(vendor.expectedVersion)
        : describeRevision(context.expected);
    return new ConcurrencyError(
      context.stream ?? vendor.streamName,
      expected,
      describeRevision(vendor.actualVersion),
    );
  }
  if (vendor instanceof MaxAppendSizeExceededError) {
    return new AppendTooLargeError(context.stream ?? where, vendor.maxAppendSize, null);
  }
  if (vendor instanceof StreamDeletedError) {
    return new StoreUnavailableError(`${where}: the stream was deleted on the EventStoreDB server`, {
      cause,
    });
  }
  if (vendor instanceof AccessDeniedError) {
    return new StoreUnavailableError(`${where}: access denied by EventStoreDB (check the credentials)`, {
      cause,
    });
  }
  if (vendor instanceof NotLeaderError) {
    return new StoreUnavailableError(`${where}: the EventStoreDB node is not the leader; retry`, { cause });
  }
  if (
    vendor instanceof UnavailableError ||
    vendor instanceof DeadlineExceededError ||
    vendor instanceof TimeoutError ||
    vendor instanceof CancelledError
  ) {
    return new StoreUnavailableError(`${where}: EventStoreDB is unavailable (${cause.message})`, { cause });
  }
  return new StoreUnavailableError(`${where}: EventStoreDB failed (${cause.name}: ${cause.message})`, {
    cause,
  });
}
