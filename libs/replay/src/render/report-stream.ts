import { InvalidInputError } from '@ledger/domain';
import type { Exposure, IncidentReport, ReplaySummary, ReplayWindow } from '../incident-report';

/** First line of an NDJSON report: what was replayed and how many exposure lines follow. */
export interface NdjsonReportHeader {
  readonly header: {
    readonly window: ReplayWindow;
    readonly logRange: IncidentReport['logRange'];
    readonly exposures: number;
  };
}

/** Last line of an NDJSON report: the summary and the §4 digest of the whole report. */
export interface NdjsonReportTrailer {
  readonly trailer: { readonly summary: ReplaySummary; readonly digest: string };
}

const LINES_PER_CHUNK = 1000;

/**
 * The report as NDJSON, in chunks of whole lines (about a thousand per chunk) ready to write to a stream: a
 * header line `{"header": {window, logRange, exposures}}`, one line per exposure in report order (the §4
 * exposure object, keys in the contract's order), and a trailer `{"trailer": {summary, digest}}`. The digest
 * is §4's over the whole report, so a reader can check the lines it received with `ReportDigester`: feed it
 * every exposure line, then the header's window and the trailer's summary.
 */
export function* ndjsonReportChunks(report: IncidentReport): Generator<string> {
  const header: NdjsonReportHeader = {
    header: { window: report.window, logRange: report.logRange, exposures: report.exposures.length },
  };
  yield `${JSON.stringify(header)}\n`;
  const exposures = report.exposures;
  for (let start = 0; start < exposures.length; start += LINES_PER_CHUNK) {
    const end = Math.min(start + LINES_PER_CHUNK, exposures.length);
    const lines = new Array<string>(end - start);
    for (let i = start; i < end; i++) lines[i - start] = JSON.stringify(exposures[i]);
    yield `${lines.join('\n')}\n`;
  }
  const trailer: NdjsonReportTrailer = { trailer: { summary: report.summary, digest: report.digest } };
  yield `${JSON.stringify(trailer)}\n`;
}

/** The whole NDJSON report as one string (small reports, tests). */
export function renderNdjson(report: IncidentReport): string {
  return [...ndjsonReportChunks(report)].join('');
}

export const DEFAULT_REPORT_PAGE_LIMIT = 1000;
export const MAX_REPORT_PAGE_LIMIT = 10_000;

/** One page of a report's exposures, with everything else of the report, so each page stands on its own. */
export interface IncidentReportPage {
  readonly window: ReplayWindow;
  readonly logRange: IncidentReport['logRange'];
  readonly summary: ReplaySummary;
  /** §4's digest of the whole report, the same on every page. */
  readonly digest: string;
  readonly page: {
    readonly offset: number;
    readonly limit: number;
    /** Exposures in the whole report. */
    readonly total: number;
    /** Offset of the next page; null on the last. */
    readonly nextOffset: number | null;
  };
  readonly exposures: readonly Exposure[];
}

function pageNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Exposures `[offset, offset + limit)` of the report (report order: occurredAt, then log position). An offset
 * at or past the end gives an empty page; `limit` is 1 to `MAX_REPORT_PAGE_LIMIT`.
 */
export function reportPage(
  report: IncidentReport,
  request: { readonly offset?: unknown; readonly limit?: unknown } = {},
): IncidentReportPage {
  const offset =
    request.offset === undefined ? 0 : pageNumber(request.offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
  const limit =
    request.limit === undefined
      ? DEFAULT_REPORT_PAGE_LIMIT
      : pageNumber(request.limit, 'limit', 1, MAX_REPORT_PAGE_LIMIT);
  const total = report.exposures.length;
  const exposures = report.exposures.slice(offset, offset + limit);
  return {
    window: report.window,
    logRange: report.logRange,
    summary: report.summary,
    digest: report.digest,
    page: { offset, limit, total, nextOffset: offset + limit < total ? offset + limit : null },
    exposures,
  };
}
