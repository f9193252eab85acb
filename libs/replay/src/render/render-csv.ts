import { stringify } from 'csv-stringify/sync';
import type { IncidentReport } from '../incident-report';

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

/** One row per exposure, in report order, with a header; a null owner is an empty cell. */
export function renderCsv(report: IncidentReport): string {
  const rows = report.exposures.map((e) => [
    e.eventId,
    e.occurredAt,
    e.viewerId,
    e.deviceId,
    e.ownerId ?? '',
    e.mediaId,
    e.mediaType,
    e.action,
    e.reason,
  ]);
  return stringify(rows, {
    header: true,
    columns: [...EXPOSURE_COLUMNS],
    escape_formulas: true,
    record_delimiter: 'unix',
  });
}
