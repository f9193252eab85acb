import type { EventStore, ReadAllDataOptions, ReadAllDataPage } from './event-store.port';
import { comparePositions, type LogPosition } from './position';

/** Checks what every adapter's `readAllData` must refuse; returns the page size to use. */
export function validateReadAllData(options: ReadAllDataOptions): number {
  if (!Number.isInteger(options.maxCount) || options.maxCount < 1) {
    throw new RangeError(`maxCount must be a positive integer, got ${options.maxCount}`);
  }
  return options.maxCount;
}

/**
 * `readAllData` through `readAll`: one `readAll` page per call, cut at `upTo`. For adapters with no cheaper
 * bulk read (EventStoreDB's client hands out whole events anyway).
 */
export async function readAllDataViaReadAll(
  store: Pick<EventStore, 'readAll'>,
  options: ReadAllDataOptions,
): Promise<ReadAllDataPage> {
  const maxCount = validateReadAllData(options);
  const { from, upTo } = options;
  if (comparePositions(from, upTo) >= 0)
    return { eventIds: [], types: [], dataJson: [], next: from, isEnd: true };
  const page = await store.readAll({ from, direction: 'forwards', maxCount, filter: options.filter });
  const eventIds: string[] = [];
  const types: string[] = [];
  const dataJson: string[] = [];
  let next: LogPosition = from;
  let passed = false;
  for (const event of page.events) {
    if (comparePositions(event.position, upTo) > 0) {
      passed = true;
      break;
    }
    eventIds.push(event.eventId);
    types.push(event.type);
    dataJson.push(JSON.stringify(event.data));
    next = event.position;
  }
  const isEnd = passed || page.isEnd || page.next === 'end' || comparePositions(next, upTo) >= 0;
  return { eventIds, types, dataJson, next, isEnd };
}
