import { InvalidInputError } from '@ledger/domain';
import type { Exposure, IncidentReport } from '@ledger/replay';

/** Most exposures one page of a replay answer may hold (the DTO and the service import this one constant). */
export const MAX_REPLAY_PAGE_LIMIT = 10_000;

/**
 * How a replay is answered over HTTP. `json`: the whole report as one JSON document; `ndjson`: one line per
 * part, so a report of any size streams; `page`: the report with one slice of its exposures. Every shape
 * carries the digest over the whole report.
 */
export type ReplayAnswerShape =
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
 * Exposures per piece of an answer: about a quarter of a megabyte of text, so handing one piece across threads
 * and writing it to a socket is a short task on the service's thread, whatever the size of the report.
 */
export const EXPOSURES_PER_ANSWER_PIECE = 1000;

/**
 * The answer's text in pieces, left open at its end so the record (known only once the main thread appended
 * it) is added by `replayAnswerClosing` without parsing or copying the report again: JSON shapes lack their
 * closing brace, NDJSON lacks its last line. Joined, the JSON shapes are `JSON.stringify` of the report (or of
 * the page) without its last character.
 */
export function* replayAnswerPieces(report: IncidentReport, shape: ReplayAnswerShape): Generator<string> {
  switch (shape.kind) {
    case 'json': {
      const { window, logRange, summary, digest } = report;
      yield `{"window":${JSON.stringify(window)},"logRange":${JSON.stringify(logRange)},"summary":${JSON.stringify(summary)},"exposures":[`;
      yield* exposureArrayPieces(report.exposures);
      yield `],"digest":${JSON.stringify(digest)}`;
      return;
    }
    case 'ndjson': {
      yield `${JSON.stringify({ report: replayHeader(report) })}\n`;
      const line = (exposure: Exposure): string => `{"exposure":${JSON.stringify(exposure)}}`;
      for (const run of exposureRuns(report.exposures, line, '\n')) yield `${run}\n`;
      return;
    }
    case 'page': {
      const total = report.exposures.length;
      const slice = report.exposures.slice(shape.offset, shape.offset + shape.limit);
      const end = shape.offset + slice.length;
      const page = {
        offset: shape.offset,
        limit: shape.limit,
        returned: slice.length,
        total,
        nextOffset: end < total ? end : null,
      };
      const header = JSON.stringify({ ...replayHeader(report), page });
      yield `${header.slice(0, -1)},"exposures":[`;
      yield* exposureArrayPieces(slice);
      yield ']';
      return;
    }
    default: {
      const unreachable: never = shape;
      throw new TypeError(`unknown answer shape ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The exposures, `EXPOSURES_PER_ANSWER_PIECE` at a time, each rendered by `render` and joined by `separator`. */
function* exposureRuns(
  exposures: readonly Exposure[],
  render: (exposure: Exposure) => string,
  separator: string,
): Generator<string> {
  for (let start = 0; start < exposures.length; start += EXPOSURES_PER_ANSWER_PIECE) {
    const end = Math.min(start + EXPOSURES_PER_ANSWER_PIECE, exposures.length);
    const items = new Array<string>(end - start);
    for (let i = start; i < end; i++) items[i - start] = render(exposures[i]);
    yield items.join(separator);
  }
}

/** The members of a JSON array of exposures, in pieces that concatenate to the array's inside. */
function* exposureArrayPieces(exposures: readonly Exposure[]): Generator<string> {
  let first = true;
  for (const run of exposureRuns(exposures, (exposure) => JSON.stringify(exposure), ',')) {
    yield first ? run : `,${run}`;
    first = false;
  }
}

/** The end of an answer whose pieces `replayAnswerPieces` gave: the replay's own record, and the closing. */
export function replayAnswerClosing(shape: ReplayAnswerShape, recorded: RecordedReplayRef): string {
  const record = JSON.stringify({ eventId: recorded.eventId, token: recorded.token });
  return shape.kind === 'ndjson' ? `{"recorded":${record}}\n` : `,"recorded":${record}}`;
}
