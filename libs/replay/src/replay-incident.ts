import { createHash } from 'node:crypto';
import {
  applyDeviceEvent,
  formatTime,
  judge,
  ownerAt,
  Streams,
  toDeviceEvent,
  type DeviceTimeline,
  type MediaViewed,
} from '@ledger/domain';
import {
  comparePositions,
  positionToToken,
  START,
  type AllFilter,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '@ledger/event-store';
import { canonicalJson } from '@ledger/domain';
import type {
  Exposure,
  IncidentReport,
  ReplayOptions,
  ReplayPhase,
  ReplayRequest,
  ReplaySummary,
  ReplayWindow,
} from './incident-report';
import { validateReplayRequest } from './replay-request';
import { parseStoredTime } from './stored-time';

export const DEFAULT_REPLAY_PAGE_SIZE = 5000;

const OWNERSHIP_FILTER: AllFilter = { streamPrefixes: [Streams.devicePrefix] };
const VIEW_FILTER: AllFilter = { eventTypes: ['MediaViewed'] };

type ViewData = MediaViewed['data'];

/**
 * Contract §4: judges every view inside the window against the ownership history, by business time.
 *
 * Two forward passes over `$all`, both bounded by the head captured first: the first folds every device's
 * ownership changes into its §2 timeline, the second judges each view against the finished timelines. So a
 * view is judged by its own `occurredAt` whatever was ingested before or after it (late CDN logs, views
 * ingested before their grant). Memory holds the timelines and the exposures, never the views.
 */
export async function replayIncident(
  store: EventStore,
  request: ReplayRequest,
  options: ReplayOptions = {},
): Promise<IncidentReport> {
  const query = validateReplayRequest(request);
  const pageSize = options.pageSize ?? DEFAULT_REPLAY_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new RangeError(`pageSize must be a positive integer`);
  const head = await store.headPosition();
  const deviceFilter = query.deviceIds;
  const viewerFilter = query.viewerIds;
  let readEvents = 0;
  const progress = (phase: ReplayPhase) => (count: number) => {
    readEvents += count;
    options.onProgress?.(readEvents, undefined, phase);
  };

  const timelines = new Map<string, DeviceTimeline>();
  await scanUpTo(store, head, OWNERSHIP_FILTER, pageSize, progress('ownership'), (events, end) => {
    for (let i = 0; i < end; i++) {
      const event = toDeviceEvent(events[i]);
      if (!event) continue;
      const deviceId = event.data.deviceId;
      if (deviceFilter !== null && !deviceFilter.has(deviceId)) continue;
      const current = timelines.get(deviceId) ?? null;
      const next = applyDeviceEvent(current, event);
      if (next !== current) timelines.set(deviceId, next);
    }
  });

  const { fromMs, toMs } = query;
  const found: Exposure[] = [];
  const times: number[] = [];
  let viewsExamined = 0;
  await scanUpTo(store, head, VIEW_FILTER, pageSize, progress('views'), (events, end) => {
    for (let i = 0; i < end; i++) {
      const event = events[i];
      const view = event.data as unknown as ViewData;
      const at = parseStoredTime(view.occurredAt);
      // NaN fails both comparisons, so an unreadable time is never examined.
      if (!(at >= fromMs && at < toMs)) continue;
      if (deviceFilter !== null && !deviceFilter.has(view.deviceId)) continue;
      if (viewerFilter !== null && !viewerFilter.has(view.viewerId)) continue;
      viewsExamined++;
      const timeline = timelines.get(view.deviceId);
      const judgement = judge(timeline, view.viewerId, at);
      if (judgement.allowed) continue;
      times.push(at);
      found.push({
        eventId: event.eventId,
        occurredAt: formatTime(at),
        viewerId: view.viewerId,
        deviceId: view.deviceId,
        ownerId: ownerAt(timeline, at),
        mediaId: view.mediaId,
        mediaType: view.mediaType,
        action: view.action,
        reason: judgement.reason,
      });
    }
  });

  // Found in log order; a stable sort by time gives (occurredAt, log position).
  const order = found.map((_, index) => index).sort((a, b) => times[a] - times[b] || a - b);
  const exposures = order.map((index) => found[index]);
  const summary = summarize(viewsExamined, exposures);
  return {
    window: query.window,
    logRange: { from: positionToToken(START), to: positionToToken(head) },
    summary,
    exposures,
    digest: reportDigest(query.window, summary, exposures),
  };
}

/** `sha256:<hex>` over the canonical JSON of `{window, summary, exposures}` (contract §4). */
export function reportDigest(
  window: ReplayWindow,
  summary: ReplaySummary,
  exposures: readonly Exposure[],
): string {
  const hex = createHash('sha256').update(canonicalJson({ window, summary, exposures })).digest('hex');
  return `sha256:${hex}`;
}

/** The §4 summary figures of exposures already sorted by time. */
export function summarize(viewsExamined: number, exposures: readonly Exposure[]): ReplaySummary {
  const viewers = new Set<string>();
  const opened = new Set<string>();
  const playedVideo = new Set<string>();
  const owners = new Set<string>();
  const devices = new Set<string>();
  for (const exposure of exposures) {
    viewers.add(exposure.viewerId);
    devices.add(exposure.deviceId);
    if (exposure.ownerId !== null) owners.add(exposure.ownerId);
    if (exposure.action === 'opened' || exposure.action === 'played') opened.add(exposure.viewerId);
    if (
      exposure.action === 'played' &&
      (exposure.mediaType === 'event_video' || exposure.mediaType === 'live_stream')
    ) {
      playedVideo.add(exposure.viewerId);
    }
  }
  return {
    viewsExamined,
    exposures: exposures.length,
    viewersExposed: viewers.size,
    viewersOpened: opened.size,
    viewersPlayedVideo: playedVideo.size,
    ownersAffected: owners.size,
    devicesAffected: devices.size,
    firstExposureAt: exposures.length > 0 ? exposures[0].occurredAt : null,
    lastExposureAt: exposures.length > 0 ? exposures[exposures.length - 1].occurredAt : null,
  };
}

/**
 * Reads `$all` forwards in pages, handing each page to `visit` with the count of its events at or before
 * `head`; stops at the first page that passes `head` or at the end of the log.
 */
async function scanUpTo(
  store: EventStore,
  head: LogPosition,
  filter: AllFilter,
  pageSize: number,
  progress: (count: number) => void,
  visit: (events: readonly RecordedEvent[], end: number) => void,
): Promise<void> {
  if (comparePositions(head, START) <= 0) return;
  let from: LogPosition = START;
  for (;;) {
    const page = await store.readAll({ from, direction: 'forwards', maxCount: pageSize, filter });
    const events = page.events;
    let end = events.length;
    const passedHead = end > 0 && comparePositions(events[end - 1].position, head) > 0;
    if (passedHead) end = countAtOrBefore(events, head);
    if (end > 0) {
      visit(events, end);
      progress(end);
    }
    if (passedHead || page.isEnd || page.next === 'end') return;
    if (comparePositions(page.next, from) <= 0 || comparePositions(page.next, head) >= 0) return;
    from = page.next;
  }
}

/** Events of a page (in log order) at or before `head`: a binary search. */
function countAtOrBefore(events: readonly RecordedEvent[], head: LogPosition): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (comparePositions(events[mid].position, head) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
