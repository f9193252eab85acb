import { InvalidInputError } from '@ledger/domain';
import type { IncidentReport } from '@ledger/replay';

/** Most exposures one page of a replay answer may hold (the DTO and the service import this one constant). */
export const MAX_REPLAY_PAGE_LIMIT = 10_000;

/**
 * How a replay is handed back. `report`: the report object itself (the CLI renders it); `json`: the whole
 * report as one JSON document; `ndjson`: one line per part, so a report of any size streams; `page`: the
 * report with one slice of its exposures. Every shape carries the digest over the whole report.
 */
export type ReplayAnswerShape =
  | { readonly kind: 'report' }
  | { readonly kind: 'json' }
  | { readonly kind: 'ndjson' }
  | { readonly kind: 'page'; readonly offset: number; readonly limit: number };

/** The report without its exposures: what the main thread needs to put a replay on the record. */
export type ReplayHeader = Omit<IncidentReport, 'exposures'>;

/** The `IncidentReplayed` record a replay caused. */
export interface RecordedReplayRef {
  readonly eventId: string;
  readonly token: string;
}

export function replayHeader(report: IncidentReport): ReplayHeader {
  return { window: report.window, logRange: report.logRange, summary: report.summary, digest: report.digest };
}

/** Checks a page request once, at the edge; `offset` past the end is a valid, empty page. */
export function pageShape(offset: number | undefined, limit: number | undefined): ReplayAnswerShape {
  const start = offset ?? 0;
  const size = limit ?? 1000;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new InvalidInputError('offset', 'must be a non-negative integer');
  }
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_REPLAY_PAGE_LIMIT) {
    throw new InvalidInputError('limit', `must be an integer from 1 to ${MAX_REPLAY_PAGE_LIMIT}`);
  }
  return { kind: 'page', offset: start, limit: size };
}

/**
 * The answer's text, left open at its end so the record (known only once the main thread appended it) is
 * added by `closeReplayAnswer` without parsing or copying the report again: JSON shapes lack their closing
 * brace, NDJSON lacks its last line.
 */
export function openReplayAnswer(report: IncidentReport, shape: ReplayAnswerShape): string {
  switch (shape.kind) {
    case 'report':
    case 'json':
      return JSON.stringify(report).slice(0, -1);
    case 'ndjson': {
      const lines = [JSON.stringify({ report: replayHeader(report) })];
      for (const exposure of report.exposures) lines.push(JSON.stringify({ exposure }));
      return `${lines.join('\n')}\n`;
    }
    case 'page': {
      const total = report.exposures.length;
      const slice = report.exposures.slice(shape.offset, shape.offset + shape.limit);
      const end = shape.offset + slice.length;
      const page = {
        ...replayHeader(report),
        page: {
          offset: shape.offset,
          limit: shape.limit,
          returned: slice.length,
          total,
          nextOffset: end < total ? end : null,
        },
        exposures: slice,
      };
      return JSON.stringify(page).slice(0, -1);
    }
    default: {
      const unreachable: never = shape;
      throw new TypeError(`unknown answer shape ${JSON.stringify(unreachable)}`);
    }
  }
}

export function closeReplayAnswer(
  open: string,
  shape: ReplayAnswerShape,
  recorded: RecordedReplayRef,
): string {
  const record = JSON.stringify({ eventId: recorded.eventId, token: recorded.token });
  return shape.kind === 'ndjson' ? `${open}{"recorded":${record}}\n` : `${open},"recorded":${record}}`;
}
