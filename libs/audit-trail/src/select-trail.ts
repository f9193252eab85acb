import {
  applyDeviceEvent,
  ownershipIntervals,
  Streams,
  toDeviceEvent,
  userAccessAt,
  VIEW_EVENT_TYPES,
  type DeviceTimeline,
  type Millis,
} from '@ledger/domain';
import {
  comparePositions,
  START,
  type AllFilter,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '@ledger/event-store';
import { normalizeTrailFilter, type TrailFilter } from './trail-filter';

export const DEFAULT_PAGE_SIZE = 1000;

export interface SelectionProgress {
  /** Events read from the log so far (all passes). */
  readonly scanned: number;
  /** Events selected into the trail so far. */
  readonly selected: number;
}

export interface SelectTrailOptions {
  /** Read up to and including this position; defaults to the head when the selection starts. */
  readonly head?: LogPosition;
  readonly pageSize?: number;
  /** Called after every page read. */
  readonly onProgress?: (progress: SelectionProgress) => void;
}

const VIEW_TYPES = new Set<string>(VIEW_EVENT_TYPES);

/**
 * The events of a trail, in log order, read page by page up to a head captured once, so an export is a
 * consistent snapshot and memory does not grow with the log (a user trail keeps the ownership intervals of
 * every device in memory for its first pass; see docs/audit-trail.md).
 */
export async function* selectTrail(
  store: EventStore,
  filter: TrailFilter,
  options: SelectTrailOptions = {},
): AsyncGenerator<RecordedEvent> {
  const { filter: normalized, fromMs, toMs } = normalizeTrailFilter(filter);
  const head = options.head ?? (await store.headPosition());
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const counters = { scanned: 0, selected: 0 };
  const report = (): void => options.onProgress?.({ ...counters });
  const { deviceId, userId } = normalized;

  let matchesUser: ((event: RecordedEvent) => boolean) | null = null;
  if (userId !== undefined) {
    const history = await userHistory(store, userId, deviceId, head, pageSize, counters, report);
    matchesUser = (event) => userTouches(event, userId, history);
  }
  const matchesDevice =
    deviceId === undefined ? null : (event: RecordedEvent) => deviceTouches(event, deviceId);

  const prefixes =
    deviceId === undefined
      ? [Streams.devicePrefix, Streams.viewsPrefix]
      : [Streams.device(deviceId), Streams.viewsPrefix];
  for await (const page of pages(store, { streamPrefixes: prefixes }, head, pageSize)) {
    for (const event of page) {
      counters.scanned++;
      if (matchesDevice && !matchesDevice(event)) continue;
      if (matchesUser && !matchesUser(event)) continue;
      const at = businessTime(event);
      if (at === undefined || at < fromMs || at >= toMs) continue;
      counters.selected++;
      yield event;
    }
    report();
  }
}

/** Pages of `$all` strictly after START and at or before `head`. */
async function* pages(
  store: EventStore,
  filter: AllFilter,
  head: LogPosition,
  pageSize: number,
): AsyncGenerator<readonly RecordedEvent[]> {
  if (comparePositions(head, START) <= 0) return;
  let from: LogPosition = START;
  for (;;) {
    const page = await store.readAll({ from, direction: 'forwards', maxCount: pageSize, filter });
    const cut = page.events.findIndex((event) => comparePositions(event.position, head) > 0);
    if (cut >= 0) {
      if (cut > 0) yield page.events.slice(0, cut);
      return;
    }
    if (page.events.length > 0) yield page.events;
    if (page.isEnd || page.next === 'end') return;
    // A filtered page may skip ahead without returning anything; stop only when it made no progress at all.
    if (page.events.length === 0 && comparePositions(page.next, from) <= 0) return;
    if (comparePositions(page.next, head) >= 0) return;
    from = page.next;
  }
}

/** Business time, or the record time for events that have none (the ledger's own audit events). */
function businessTime(event: RecordedEvent): Millis | undefined {
  const time = event.data.occurredAt ?? event.data.recordedAt;
  if (typeof time !== 'string') return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

function deviceTouches(event: RecordedEvent, deviceId: string): boolean {
  if (event.stream === Streams.device(deviceId)) return true;
  return VIEW_TYPES.has(event.type) && event.data.deviceId === deviceId;
}

interface UserHistory {
  /** Per device, the intervals in which the user owned it: "who saw my camera". */
  readonly owned: ReadonlyMap<string, ReadonlyArray<readonly [Millis, Millis]>>;
  /** Transfers and decommissions that ended the user's access although they do not name the user. */
  readonly endedAccess: ReadonlySet<string>;
}

/**
 * First pass over the ownership changes: folds every device's timeline (the §2 implementation) to learn when
 * the user owned what, and which events ended the user's access as a side effect.
 */
async function userHistory(
  store: EventStore,
  userId: string,
  deviceId: string | undefined,
  head: LogPosition,
  pageSize: number,
  counters: { scanned: number },
  report: () => void,
): Promise<UserHistory> {
  const timelines = new Map<string, DeviceTimeline>();
  const endedAccess = new Set<string>();
  const prefix = deviceId === undefined ? Streams.devicePrefix : Streams.device(deviceId);
  for await (const page of pages(store, { streamPrefixes: [prefix] }, head, pageSize)) {
    for (const recorded of page) {
      counters.scanned++;
      const event = toDeviceEvent(recorded);
      if (!event) continue;
      if (deviceId !== undefined && recorded.stream !== Streams.device(deviceId)) continue;
      const id = event.data.deviceId;
      const timeline = timelines.get(id) ?? null;
      const endsEveryone =
        event.type === 'DeviceDecommissioned' ||
        (event.type === 'OwnershipTransferred' && !event.data.keepViewers);
      if (
        timeline &&
        endsEveryone &&
        userAccessAt(timeline, userId, Date.parse(event.data.occurredAt)) !== null
      ) {
        endedAccess.add(recorded.eventId);
      }
      timelines.set(id, applyDeviceEvent(timeline, event));
    }
    report();
  }
  const owned = new Map<string, Array<readonly [Millis, Millis]>>();
  for (const [id, timeline] of timelines) {
    const intervals = ownershipIntervals(timeline, userId);
    if (intervals.length > 0) owned.set(id, intervals);
  }
  return { owned, endedAccess };
}

function userTouches(event: RecordedEvent, userId: string, history: UserHistory): boolean {
  const data = event.data;
  switch (event.type) {
    case 'DeviceRegistered':
      return data.ownerId === userId;
    case 'AccessGranted':
    case 'AccessRevoked':
      return data.userId === userId;
    case 'OwnershipTransferred':
      return (
        data.previousOwnerId === userId ||
        data.newOwnerId === userId ||
        history.endedAccess.has(event.eventId)
      );
    case 'DeviceDecommissioned':
      return history.endedAccess.has(event.eventId);
    case 'MediaViewed':
    case 'MediaAccessDenied': {
      if (data.viewerId === userId) return true;
      const intervals = typeof data.deviceId === 'string' ? history.owned.get(data.deviceId) : undefined;
      if (!intervals || typeof data.occurredAt !== 'string') return false;
      const at = Date.parse(data.occurredAt);
      return intervals.some(([start, end]) => start <= at && at < end);
    }
    default:
      return false;
  }
}
