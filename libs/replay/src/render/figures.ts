import type { DenialReason } from '@ledger/domain';
import type { Exposure, IncidentReport, ReplaySummary } from '../incident-report';

/** 13000 → "13,000", independent of the machine's locale. */
export function formatCount(n: number): string {
  const digits = String(Math.trunc(Math.abs(n)));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${grouped}` : grouped;
}

function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** The breach-notice sentence: how many received foreign media, opened it, played video; owners affected. */
export function headline(summary: ReplaySummary): string {
  if (summary.exposures === 0) {
    return `No user received media from a camera that was not theirs: ${plural(
      summary.viewsExamined,
      'view',
      'views',
    )} examined, all authorized.`;
  }
  const cameras =
    summary.devicesAffected === 1 ? 'a camera that was not theirs' : 'cameras that were not theirs';
  return (
    `${plural(summary.viewersExposed, 'user', 'users')} received media from ${cameras}; ` +
    `${formatCount(summary.viewersOpened)} of them opened it; ` +
    `${formatCount(summary.viewersPlayedVideo)} played video; ` +
    `${plural(summary.ownersAffected, 'owner', 'owners')} affected.`
  );
}

export const REASON_LABELS: Readonly<Record<DenialReason, string>> = {
  never_granted: 'never granted',
  revoked: 'access revoked',
  expired: 'share expired',
  transferred: 'device transferred',
  decommissioned: 'device decommissioned',
  unknown_device: 'device not registered',
};

export interface ExposureGroup {
  /** Owner or viewer id; null for exposures of devices that had no owner at the time. */
  readonly key: string | null;
  readonly exposures: Exposure[];
  readonly devices: string[];
  readonly viewers: string[];
  readonly owners: string[];
}

function group(exposures: readonly Exposure[], keyOf: (e: Exposure) => string | null): ExposureGroup[] {
  const groups = new Map<string | null, Exposure[]>();
  for (const exposure of exposures) {
    const key = keyOf(exposure);
    const list = groups.get(key);
    if (list) list.push(exposure);
    else groups.set(key, [exposure]);
  }
  const distinct = (list: Exposure[], pick: (e: Exposure) => string | null): string[] =>
    [...new Set(list.map(pick).filter((id): id is string => id !== null))].sort(compareText);
  return [...groups.entries()]
    .sort(([a], [b]) => (a === null ? (b === null ? 0 : 1) : b === null ? -1 : compareText(a, b)))
    .map(([key, list]) => ({
      key,
      exposures: list,
      devices: distinct(list, (e) => e.deviceId),
      viewers: distinct(list, (e) => e.viewerId),
      owners: distinct(list, (e) => e.ownerId),
    }));
}

/** Exposures per owner at the time (who to notify), owners by id, the ownerless group last. */
export function byOwner(exposures: readonly Exposure[]): ExposureGroup[] {
  return group(exposures, (e) => e.ownerId);
}

/** Exposures per viewer, by viewer id. */
export function byViewer(exposures: readonly Exposure[]): ExposureGroup[] {
  return group(exposures, (e) => e.viewerId);
}

export function reasonCounts(exposures: readonly Exposure[]): Array<[DenialReason, number]> {
  const counts = new Map<DenialReason, number>();
  for (const e of exposures) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
  return (Object.keys(REASON_LABELS) as DenialReason[])
    .filter((reason) => counts.has(reason))
    .map((reason) => [reason, counts.get(reason) ?? 0]);
}

export function windowText(report: IncidentReport): string {
  const { from, to } = report.window;
  if (from === null && to === null) return 'the whole log (no bounds given)';
  return `from ${from ?? 'the beginning of the log'} to ${to === null ? 'the end of the log' : `${to} (exclusive)`}`;
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
