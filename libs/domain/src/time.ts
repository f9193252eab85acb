/** Business and record times travel as RFC 3339 UTC strings with milliseconds; inside, as epoch ms. */
export type Millis = number;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses RFC 3339 (any offset, up to ns digits, truncated to ms); undefined when it is not one. */
export function parseRfc3339(text: unknown): Millis | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(Number(y), month)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse keeps only ms; sub-ms digits are truncated, which is what we document.
  return ms;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The one output form: `2024-02-16T09:41:07.123Z`. */
export function formatTime(ms: Millis): string {
  return new Date(ms).toISOString();
}

export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
