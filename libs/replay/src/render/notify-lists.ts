import { stringify } from 'csv-stringify/sync';
import type { Exposure } from '../incident-report';
import { compareText } from './figures';

/** One owner or viewer with what was exposed: a line of a notify list. */
export interface PartyExposures {
  readonly id: string;
  readonly exposures: number;
  readonly devices: readonly string[];
  /** The other side: viewers who saw an owner's devices, or owners whose devices a viewer saw. */
  readonly counterparts: number;
  readonly opened: boolean;
  readonly playedVideo: boolean;
  readonly firstExposureAt: string;
  readonly lastExposureAt: string;
}

interface Tally {
  exposures: number;
  readonly devices: Set<string>;
  readonly counterparts: Set<string>;
  opened: boolean;
  playedVideo: boolean;
  first: string;
  last: string;
}

/**
 * Exposures per owner at the time (who to notify) and per viewer, in one pass over the report, each list by
 * id. Exposures without an owner (unregistered or decommissioned devices) have no one to notify on the owner
 * side and are left out of the owners list (`ownerless` counts them).
 */
export function notifyLists(exposures: readonly Exposure[]): {
  owners: PartyExposures[];
  viewers: PartyExposures[];
  ownerless: number;
} {
  const owners = new Map<string, Tally>();
  const viewers = new Map<string, Tally>();
  let ownerless = 0;
  const tally = (map: Map<string, Tally>, id: string, e: Exposure, counterpart: string | null): void => {
    let t = map.get(id);
    if (t === undefined) {
      t = {
        exposures: 0,
        devices: new Set(),
        counterparts: new Set(),
        opened: false,
        playedVideo: false,
        first: e.occurredAt,
        last: e.occurredAt,
      };
      map.set(id, t);
    }
    t.exposures++;
    t.devices.add(e.deviceId);
    if (counterpart !== null) t.counterparts.add(counterpart);
    if (e.action !== 'delivered') t.opened = true;
    if (e.action === 'played' && (e.mediaType === 'event_video' || e.mediaType === 'live_stream'))
      t.playedVideo = true;
    if (e.occurredAt < t.first) t.first = e.occurredAt;
    if (e.occurredAt > t.last) t.last = e.occurredAt;
  };
  for (const e of exposures) {
    if (e.ownerId === null) ownerless++;
    else tally(owners, e.ownerId, e, e.viewerId);
    tally(viewers, e.viewerId, e, e.ownerId);
  }
  const list = (map: Map<string, Tally>): PartyExposures[] =>
    [...map.entries()]
      .sort(([a], [b]) => compareText(a, b))
      .map(([id, t]) => ({
        id,
        exposures: t.exposures,
        devices: [...t.devices].sort(compareText),
        counterparts: t.counterparts.size,
        opened: t.opened,
        playedVideo: t.playedVideo,
        firstExposureAt: t.first,
        lastExposureAt: t.last,
      }));
  return { owners: list(owners), viewers: list(viewers), ownerless };
}

/** The `limit` parties with most exposures (ties by id), for the report's "most exposed" tables. */
export function mostExposed(parties: readonly PartyExposures[], limit: number): PartyExposures[] {
  return [...parties].sort((a, b) => b.exposures - a.exposures || compareText(a.id, b.id)).slice(0, limit);
}

export const OWNER_COLUMNS = [
  'ownerId',
  'exposures',
  'devices',
  'viewers',
  'firstExposureAt',
  'lastExposureAt',
  'deviceIds',
] as const;

export const VIEWER_COLUMNS = [
  'viewerId',
  'exposures',
  'devices',
  'owners',
  'opened',
  'playedVideo',
  'firstExposureAt',
  'lastExposureAt',
  'deviceIds',
] as const;

const CSV_OPTIONS = { escape_formulas: true, record_delimiter: 'unix' } as const;

/** Every owner to notify, one row each: what of theirs was seen, by how many, when. */
export function ownersCsv(owners: readonly PartyExposures[]): string {
  return stringify(
    owners.map((o) => [
      o.id,
      o.exposures,
      o.devices.length,
      o.counterparts,
      o.firstExposureAt,
      o.lastExposureAt,
      o.devices.join(' '),
    ]),
    { ...CSV_OPTIONS, header: true, columns: [...OWNER_COLUMNS] },
  );
}

/** Every exposed viewer, one row each: how much they received, whether they opened it or played video. */
export function viewersCsv(viewers: readonly PartyExposures[]): string {
  return stringify(
    viewers.map((v) => [
      v.id,
      v.exposures,
      v.devices.length,
      v.counterparts,
      v.opened ? 'yes' : 'no',
      v.playedVideo ? 'yes' : 'no',
      v.firstExposureAt,
      v.lastExposureAt,
      v.devices.join(' '),
    ]),
    { ...CSV_OPTIONS, header: true, columns: [...VIEWER_COLUMNS] },
  );
}
