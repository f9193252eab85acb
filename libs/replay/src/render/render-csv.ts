import { stringify } from 'csv-stringify/sync';
import type { Exposure, IncidentReport } from '../incident-report';

export const EXPOSURE_COLUMNS = [
  'eventId',
  'occurredAt',
  'viewerId',
  'deviceId',
  'ownerId',
  'mediaId',
  'mediaType',
  'action',
  'reason',
] as const;

/** An exposure's CSV cells in `EXPOSURE_COLUMNS` order; a null owner is an empty cell. */
export function exposureCsvRow(e: Exposure): string[] {
  return [
    e.eventId,
    e.occurredAt,
    e.viewerId,
    e.deviceId,
    e.ownerId ?? '',
    e.mediaId,
    e.mediaType,
    e.action,
    e.reason,
  ];
}

/** One row per exposure, in report order, with a header. */
export function renderCsv(report: IncidentReport): string {
  return stringify(report.exposures.map(exposureCsvRow), {
    header: true,
    columns: [...EXPOSURE_COLUMNS],
    escape_formulas: true,
    record_delimiter: 'unix',
  });
}
