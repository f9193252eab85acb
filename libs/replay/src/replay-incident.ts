import {
  applyDeviceEvent,
  formatTime,
  isDeviceEventType,
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
  type JsonObject,
  type LogPosition,
} from '@ledger/event-store';
import type {
  Exposure,
  IncidentReport,
  ReplayOptions,
  ReplayPhase,
  ReplayRequest,
  ReplaySummary,
} from './incident-report';
import { reportDigest } from './report-digest';
import { validateReplayRequest, type ReplayQuery } from './replay-request';
import { detached, emptyViewKeys, readViewKeys } from './view-keys';
import { parseStoredTime } from './stored-time';
import { judgeFromColumns } from './view-columns/judge-columns';

export { reportDigest } from './report-digest';

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
  let readEvents = 0;
  const progress = (phase: ReplayPhase) => (count: number) => {
    readEvents += count;
    options.onProgress?.(readEvents, undefined, phase);
  };

  let reportHead = head;
  let judged: { viewsExamined: number; found: Exposure[]; times: number[] } | null = null;
  if (options.columns) {
    judged = await options.columns.withCaughtUp(
      store,
      head,
      (caughtUp) => {
        if (!caughtUp.usable) return null;
        // Another catch-up may have gone past this head: the report then covers the log up to where it read.
        reportHead = caughtUp.view.position;
        options.onProgress?.(caughtUp.view.ownershipChanges + caughtUp.view.views, undefined, 'views');
        return judgeFromColumns(caughtUp.view, query);
      },
      { onProgress: (read) => options.onProgress?.(read, undefined, 'ownership') },
    );
  }
  judged ??= await judgeFromLog(store, head, query, pageSize, progress);
  const { viewsExamined, found, times } = judged;

  // Found in log order; a stable sort by time gives (occurredAt, log position).
  const order = found.map((_, index) => index).sort((a, b) => times[a] - times[b] || a - b);
  const exposures = order.map((index) => found[index]);
  const summary = summarize(viewsExamined, exposures);
  return {
    window: query.window,
    logRange: { from: positionToToken(START), to: positionToToken(reportHead) },
    summary,
    exposures,
    digest: reportDigest(query.window, summary, exposures),
  };
}

/** Both passes over the log itself: the path of every store, and the reference the columns are held to. */
async function judgeFromLog(
  store: EventStore,
  head: LogPosition,
  query: ReplayQuery,
  pageSize: number,
  progress: (phase: ReplayPhase) => (count: number) => void,
): Promise<{ viewsExamined: number; found: Exposure[]; times: number[] }> {
  const deviceFilter = query.deviceIds;
  const viewerFilter = query.viewerIds;
  const timelines = new Map<string, DeviceTimeline>();
  await scanUpTo(store, head, OWNERSHIP_FILTER, pageSize, progress('ownership'), (_ids, types, json) => {
    for (let i = 0; i < types.length; i++) {
      const type = types[i];
      if (!isDeviceEventType(type)) continue;
      const event = toDeviceEvent({ type, data: JSON.parse(json[i]) as JsonObject });
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
  const keys = emptyViewKeys();
  await scanUpTo(store, head, VIEW_FILTER, pageSize, progress('views'), (eventIds, _types, json) => {
    for (let i = 0; i < eventIds.length; i++) {
      // Views are read off their text without building objects (most are authorized and dropped at once);
      // text not in the form the fast read is sure of goes through JSON.parse.
      let copy = false;
      if (!readViewKeys(json[i], keys)) {
        const view = JSON.parse(json[i]) as ViewData;
        keys.viewerId = view.viewerId;
        keys.deviceId = view.deviceId;
        keys.occurredAt = view.occurredAt;
        keys.mediaId = view.mediaId;
        keys.mediaType = view.mediaType;
        keys.action = view.action;
        copy = true;
      }
      const at = parseStoredTime(keys.occurredAt);
      // NaN fails both comparisons, so an unreadable time is never examined.
      if (!(at >= fromMs && at < toMs)) continue;
      if (deviceFilter !== null && !deviceFilter.has(keys.deviceId)) continue;
      if (viewerFilter !== null && !viewerFilter.has(keys.viewerId)) continue;
      viewsExamined++;
      const timeline = timelines.get(keys.deviceId);
      const judgement = judge(timeline, keys.viewerId, at);
      if (judgement.allowed) continue;
      times.push(at);
      // What is kept must not pin the page it was sliced from.
      const keep = copy ? (text: string): string => text : detached;
      found.push({
        eventId: detached(eventIds[i]),
        occurredAt: formatTime(at),
        viewerId: keep(keys.viewerId),
        deviceId: keep(keys.deviceId),
        ownerId: ownerAt(timeline, at),
        mediaId: keep(keys.mediaId),
        mediaType: keep(keys.mediaType) as ViewData['mediaType'],
        action: keep(keys.action) as ViewData['action'],
        reason: judgement.reason,
      });
    }
  });

  return { viewsExamined, found, times };
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
 * Reads `$all` forwards through the port's bulk read (`readAllData`), up to and including `head`, handing each
 * page's columns to `visit`.
 */
async function scanUpTo(
  store: EventStore,
  head: LogPosition,
  filter: AllFilter,
  pageSize: number,
  progress: (count: number) => void,
  visit: (eventIds: readonly string[], types: readonly string[], dataJson: readonly string[]) => void,
): Promise<void> {
  let from: LogPosition = START;
  while (comparePositions(from, head) < 0) {
    const page = await store.readAllData({ from, upTo: head, maxCount: pageSize, filter });
    if (page.eventIds.length > 0) {
      visit(page.eventIds, page.types, page.dataJson);
      progress(page.eventIds.length);
    }
    if (page.isEnd || comparePositions(page.next, from) <= 0) return;
    from = page.next;
  }
}
