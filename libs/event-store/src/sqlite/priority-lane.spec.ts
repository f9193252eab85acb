import { describe, expect, it } from '@jest/globals';
import type { PendingAppend } from './append-request';
import { SMALL_REQUEST_EVENTS, takeSmallAhead } from './priority-lane';

function request(name: string, stream: string, events: number): PendingAppend {
  const ids = Array.from({ length: events }, (_, i) => `${name}-${i}`);
  return {
    stream,
    expected: 'any',
    ids,
    types: ids.map(() => 't'),
    data: ids.map(() => '{}'),
    metadata: ids.map(() => null),
    sink: { settle: () => undefined },
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

  it('never lets an append overtake an earlier one to the same stream', () => {
    const queue = [
      request('batch', 'views-1', BIG),
      request('same', 'views-1', 1),
      request('other', 'views-2', 1),
      request('batch2', 'views-2', BIG),
      request('after', 'views-2', 1),
    ];
    const taken = takeSmallAhead(queue, 10_000);
    expect(taken && names(taken.group)).toEqual(['other']);
    expect(taken && names(taken.rest)).toEqual(['batch', 'same', 'batch2', 'after']);
  });

  it('changes nothing when the queue starts small or nothing small waits', () => {
    expect(takeSmallAhead([request('a', 's', 1), request('batch', 't', BIG)], 10_000)).toBeNull();
    expect(takeSmallAhead([request('batch', 's', BIG), request('batch2', 't', BIG)], 10_000)).toBeNull();
    expect(takeSmallAhead([request('batch', 's', BIG)], 10_000)).toBeNull();
  });

  it('keeps the urgent group within the group limit, and what stays behind keeps its order', () => {
    const queue = [request('batch', 's', BIG), request('a', 't', 2), request('b', 'u', 2), request('c', 'v', 1)];
    const taken = takeSmallAhead(queue, 3);
    expect(taken && names(taken.group)).toEqual(['a', 'c']);
    expect(taken && names(taken.rest)).toEqual(['batch', 'b']);
  });
});
