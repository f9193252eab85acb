import type { PendingAppend } from './append-request';

/** Requests of at most this many events are small: an authorization, a single view, an ownership change. */
export const SMALL_REQUEST_EVENTS = 16;

export interface SmallAhead {
  readonly group: PendingAppend[];
  readonly rest: PendingAppend[];
  readonly events: number;
}

/**
 * The priority lane of group commit. When the queue starts with a big request (a batch of views), the small
 * requests queued behind big ones are committed first, in a group of their own, so a one-event append waits
 * for one short commit rather than for the batch's thousand inserts. A small request only goes ahead of big
 * requests that write other streams: two appends to one stream keep the order they were made in, so expected
 * revisions and a stream's order are exactly what they would be without the lane. Appends to different
 * streams made concurrently have no order between them to keep. Null when nothing may go ahead.
 */
export function takeSmallAhead(queue: readonly PendingAppend[], maxEvents: number): SmallAhead | null {
  if (queue.length < 2 || queue[0].ids.length <= SMALL_REQUEST_EVENTS) return null;
  const group: PendingAppend[] = [];
  const rest: PendingAppend[] = [];
  /** Streams of the requests left behind, which what comes after them may not overtake. */
  const heldBack = new Set<string>();
  let events = 0;
  for (const pending of queue) {
    const size = pending.ids.length;
    if (size <= SMALL_REQUEST_EVENTS && events + size <= maxEvents && !heldBack.has(pending.stream)) {
      group.push(pending);
      events += size;
    } else {
      rest.push(pending);
      heldBack.add(pending.stream);
    }
  }
  return group.length === 0 ? null : { group, rest, events };
}
