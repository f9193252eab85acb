import { describe, expect, it } from '@jest/globals';
import type { ExpectedRevision } from '../event-store.port';
import type { AppendSink, PendingAppend } from './append-request';
import { SMALL_REQUEST_EVENTS, takeSmallAhead } from './priority-lane';

/** A queued request; each has its own sink (its own `append` call) unless given one (an `appendMany`'s). */
function request(
  name: string,
  stream: string,
  events: number,
  expected: ExpectedRevision = 'any',
  sink: AppendSink = { settle: () => undefined },
): PendingAppend {
  const ids = Array.from({ length: events }, (_, i) => `${name}-${i}`);
  return {
    stream,
    expected,
    ids,
    types: ids.map(() => 't'),
    data: ids.map(() => '{}'),
    metadata: ids.map(() => null),
    unchecked: false,
    sink,
    index: 0,
    outcome: undefined,
    firstPosition: -1,
    firstRevision: -1,
  };
}

const names = (requests: readonly PendingAppend[]) => requests.map((r) => r.ids[0].split('-')[0]);
const BIG = SMALL_REQUEST_EVENTS + 1;

describe('the priority lane of group commit', () => {
  it('commits the small requests queued behind a big one first, in queue order', () => {
    const queue = [request('batch', 'views-1', 1000), request('a', 'views-2', 1), request('b', 'views-3', 1)];
    const taken = takeSmallAhead(queue, 10_000);
    expect(taken && names(taken.group)).toEqual(['a', 'b']);
    expect(taken && names(taken.rest)).toEqual(['batch']);
    expect(taken?.events).toBe(2);
  });

  it('lets a small append go ahead of a concurrent big one to its stream when neither expects a revision', () => {
    // An authorization's view lands in the stream of a queued batch of views: it does not wait for that batch.
    const queue = [
      request('batch', 'views-1', 1000),
      request('batch2', 'views-1', 1000),
      request('auth', 'views-1', 1),
    ];
    const taken = takeSmallAhead(queue, 10_000);
    expect(taken && names(taken.group)).toEqual(['auth']);
    expect(taken && names(taken.rest)).toEqual(['batch', 'batch2']);
  });

  it('never lets an append overtake an earlier one to its stream that it could be ordered after', () => {
    const many: AppendSink = { settle: () => undefined };
    const queue = [
      request('batch', 'views-1', BIG, 'any', many),
      request('sameCall', 'views-1', 1, 'any', many),
      request('batch2', 'device-1', BIG, 2n),
      request('expects', 'device-1', 1, 3n),
      request('batch3', 'device-2', BIG, 'no_stream'),
      request('anyAfter', 'device-2', 1),
      request('other', 'views-2', 1),
    ];
    const taken = takeSmallAhead(queue, 10_000);
    expect(taken && names(taken.group)).toEqual(['other']);
    expect(taken && names(taken.rest)).toEqual([
      'batch',
      'sameCall',
      'batch2',
      'expects',
      'batch3',
      'anyAfter',
    ]);
  });

  it('changes nothing when the queue starts small or nothing small waits', () => {
    expect(takeSmallAhead([request('a', 's', 1), request('batch', 't', BIG)], 10_000)).toBeNull();
    expect(takeSmallAhead([request('batch', 's', BIG), request('batch2', 't', BIG)], 10_000)).toBeNull();
    expect(takeSmallAhead([request('batch', 's', BIG)], 10_000)).toBeNull();
  });

  it('keeps the urgent group within the group limit, and what stays behind keeps its order', () => {
    const queue = [
      request('batch', 's', BIG),
      request('a', 't', 2),
      request('b', 'u', 2),
      request('c', 'v', 1),
    ];
    const taken = takeSmallAhead(queue, 3);
    expect(taken && names(taken.group)).toEqual(['a', 'c']);
    expect(taken && names(taken.rest)).toEqual(['batch', 'b']);
  });
});
