import type { AllFilter, EventStore, RecordedEvent } from './event-store.port';
import { comparePositions, START, type LogPosition } from './position';

export interface ReadAllPagesOptions {
  /** Events strictly after this position (default: the beginning). */
  readonly from?: LogPosition;
  /** Stop after this position (default: read to the end as it is while reading). */
  readonly upTo?: LogPosition;
  readonly filter?: AllFilter;
  readonly pageSize?: number;
}

/** `$all` forwards, one page at a time, so callers hold a page, never the log. */
export async function* readAllPages(
  store: EventStore,
  options: ReadAllPagesOptions = {},
): AsyncGenerator<readonly RecordedEvent[]> {
  let from = options.from ?? START;
  const upTo = options.upTo;
  if (upTo && comparePositions(from, upTo) >= 0) return;
  for (;;) {
    const page = await store.readAll({
      from,
      direction: 'forwards',
      maxCount: options.pageSize ?? 5000,
      filter: options.filter,
    });
    let events = page.events;
    let past = false;
    if (upTo && events.length > 0 && comparePositions(events[events.length - 1].position, upTo) > 0) {
      events = events.filter((event) => comparePositions(event.position, upTo) <= 0);
      past = true;
    }
    if (events.length > 0) yield events;
    if (past || page.isEnd || page.events.length === 0 || page.next === 'end') return;
    from = page.next;
  }
}
