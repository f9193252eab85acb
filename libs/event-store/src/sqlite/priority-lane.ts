import type { PendingAppend } from './append-request';

/** Requests of at most this many events are small: an authorization, a single view, an ownership change. */
export const SMALL_REQUEST_EVENTS = 16;

export interface SmallAhead {
  readonly group: PendingAppend[];
  readonly rest: PendingAppend[];
  readonly events: number;
}

/**
 * Whether `later` may be committed before `earlier`, a request queued ahead of it. Requests to other streams
 * always may. To one stream, only concurrent appends with no order between them: both made with expected
 * revision `any` (no revision decides their outcome, only the revisions they are given change) and by separate
 * calls — neither was acknowledged when the other was made, so no caller can have ordered them, as with two
 * concurrent appends to EventStoreDB. The requests of one `appendMany` share their sink and keep their order.
 */
export function mayOvertake(later: PendingAppend, earlier: PendingAppend): boolean {
  if (later.stream !== earlier.stream) return true;
  return later.expected === 'any' && earlier.expected === 'any' && later.sink !== earlier.sink;
}

/**
 * The priority lane of group commit. When the queue starts with a big request (a batch of views), the small
 * requests queued behind big ones are committed first, in a group of their own, so a one-event append waits
 * for one short commit rather than for the batch's thousand inserts. A small request goes ahead only of the
 * requests it may overtake (`mayOvertake`): an append that could be ordered after another (same stream, same
 * `appendMany`, or an expected revision that depends on what is before it) keeps its place, so expected
 * revisions and the order of every append that has one are what they would be without the lane. An
 * authorization whose view lands in the stream a batch of views is queued for goes ahead of that batch as well:
 * otherwise it waited for every batch queued before it (with four batches between reading and answer, that was
 * the p99 tail of authorizations during bulk ingest). Null when nothing may go ahead.
 */
export function takeSmallAhead(queue: readonly PendingAppend[], maxEvents: number): SmallAhead | null {
  if (queue.length < 2 || queue[0].ids.length <= SMALL_REQUEST_EVENTS) return null;
  return takeSmall(queue, maxEvents);
}

/**
 * The small requests of the queue that may be committed before everything left behind (`mayOvertake`), in
 * queue order, up to `maxEvents`: the urgent group the writer thread commits right after a big group in flight.
 * Null when there is none.
 */
export function takeSmall(queue: readonly PendingAppend[], maxEvents: number): SmallAhead | null {
  const group: PendingAppend[] = [];
  const rest: PendingAppend[] = [];
  /** The requests left behind per stream, which what comes after them may overtake only if `mayOvertake`. */
  const heldBack = new Map<string, PendingAppend[]>();
  let events = 0;
  for (const pending of queue) {
    const size = pending.ids.length;
    const before = heldBack.get(pending.stream);
    if (
      size <= SMALL_REQUEST_EVENTS &&
      events + size <= maxEvents &&
      (before === undefined || before.every((earlier) => mayOvertake(pending, earlier)))
    ) {
      group.push(pending);
      events += size;
    } else {
      rest.push(pending);
      if (before === undefined) heldBack.set(pending.stream, [pending]);
      else before.push(pending);
    }
  }
  return group.length === 0 ? null : { group, rest, events };
}
