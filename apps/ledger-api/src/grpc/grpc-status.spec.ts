import { status } from '@grpc/grpc-js';
import { decodeRetryDelayMs, OLDEST_RESUMABLE_TOKEN_KEY, STATUS_DETAILS_KEY } from '@ledger/client';
import {
  ContendedChangeError,
  DeviceAlreadyRegisteredError,
  DeviceNotFoundError,
  IdempotencyKeyReusedError,
  InvalidInputError,
} from '@ledger/domain';
import { MalformedTokenError } from '@ledger/event-store';
import { ConsistencyTimeoutError } from '@ledger/projections';
import { WatchConnectionLimitError, WatchTokenTooOldError } from '../watch/relationship-feed.service';
import { GrpcFailure, toGrpcStatus, WatchFeedFailedError } from './grpc-status';

describe('toGrpcStatus: domain failures to gRPC codes, in one place', () => {
  it.each([
    [
      new InvalidInputError('views.0.occurredAt', 'is more than 5 minutes in the future'),
      status.INVALID_ARGUMENT,
    ],
    [new MalformedTokenError('nope'), status.INVALID_ARGUMENT],
    [new DeviceNotFoundError('cam-1'), status.NOT_FOUND],
    [new DeviceAlreadyRegisteredError('cam-1'), status.FAILED_PRECONDITION],
    [new IdempotencyKeyReusedError(), status.FAILED_PRECONDITION],
    [new ContendedChangeError('cam-1'), status.ABORTED],
    [
      new GrpcFailure(status.PERMISSION_DENIED, 'this API key lacks the ledger:write scope'),
      status.PERMISSION_DENIED,
    ],
  ])('%s → %s', (error, code) => {
    const described = toGrpcStatus(error);
    expect(described.error.code).toBe(code);
    expect(described.error.details).toBe(error.message);
    expect(described.unexpected).toBeUndefined();
  });

  it('a consistency timeout is UNAVAILABLE carrying a google.rpc.RetryInfo of one second', () => {
    const { error } = toGrpcStatus(new ConsistencyTimeoutError('lt1.zz', 300));
    expect(error.code).toBe(status.UNAVAILABLE);
    const details = error.metadata.get(STATUS_DETAILS_KEY)[0];
    expect(details).toBeInstanceOf(Buffer);
    expect(decodeRetryDelayMs(details as Buffer)).toBe(1000);
  });

  it.each([
    [new WatchConnectionLimitError('reader', 2), status.RESOURCE_EXHAUSTED, 5000],
    [new WatchFeedFailedError('the feed failed while reading history', 'lt1.ab'), status.UNAVAILABLE, 1000],
  ])('a refused or failed Watch (%s) is %s with a RetryInfo of %s ms', (error, code, delayMs) => {
    const described = toGrpcStatus(error);
    expect([described.error.code, described.error.details]).toEqual([code, error.message]);
    expect(decodeRetryDelayMs(described.error.metadata.get(STATUS_DETAILS_KEY)[0] as Buffer)).toBe(delayMs);
    expect(described.unexpected).toBeUndefined();
  });

  it('a Watch token too old to resume from is OUT_OF_RANGE naming the oldest resumable token', () => {
    const { error } = toGrpcStatus(new WatchTokenTooOldError('lt1.oldest'));
    expect(error.code).toBe(status.OUT_OF_RANGE);
    expect(error.details).toContain('the oldest resumable token is lt1.oldest');
    expect(error.metadata.get(OLDEST_RESUMABLE_TOKEN_KEY)).toEqual(['lt1.oldest']);
  });

  it('hides the text of an unforeseen failure and hands it over for logging', () => {
    const bug = new TypeError('cannot read properties of undefined');
    const described = toGrpcStatus(bug);
    expect([described.error.code, described.error.details]).toEqual([status.INTERNAL, 'internal error']);
    expect(described.unexpected).toBe(bug);
  });
});
