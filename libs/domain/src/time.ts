/** Business and record times travel as RFC 3339 UTC strings with milliseconds; inside, as epoch ms. */
export type Millis = number;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/i;

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants the output form can write. */
export const MIN_TIME: Millis = utc(0, 1, 1, 0, 0, 0, 0);
export const MAX_TIME: Millis = utc(9999, 12, 31, 23, 59, 59, 999);

/**
 * Parses RFC 3339 (any offset, up to ns digits, truncated to ms); undefined when it is not one, or when its UTC
 * instant falls outside years 0000–9999 (which the output form could not write back).
 *
 * Calendar: proleptic Gregorian, so `0000-02-29` exists (year 0 is a leap year). Leap seconds: a second of 60
 * is accepted where RFC 3339 allows one — the last minute of a month, in UTC — and read as the last
 * millisecond before it (`…23:59:59.999Z`): it keeps its order against every stamp outside the leap second,
 * and epoch milliseconds have no leap seconds to name it exactly.
 */
export function parseRfc3339(text: unknown): Millis | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const fraction = m[7] ?? '';
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMs = 0;
  if (m[8] === undefined) {
    const [offsetHours, offsetMinutes] = [Number(m[10]), Number(m[11])];
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offsetMs = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const millis = fraction === '' ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  const leap = second === 60;
  const ms = utc(year, month, day, hour, minute, leap ? 59 : second, leap ? 999 : millis) - offsetMs;
  if (leap && !isLeapSecondSlot(ms)) return undefined;
  if (ms < MIN_TIME || ms > MAX_TIME) return undefined;
  return ms;
}

/** RFC 3339 §5.7: a leap second is the 61st second of the last minute of a month, in UTC. */
function isLeapSecondSlot(lastMsOfMinute: Millis): boolean {
  const at = new Date(lastMsOfMinute);
  const next = new Date(lastMsOfMinute + 1);
  return at.getUTCHours() === 23 && at.getUTCMinutes() === 59 && next.getUTCDate() === 1;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Epoch ms of a UTC calendar instant; `Date.UTC` alone would read years 0–99 as 1900–1999. */
function utc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): Millis {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const date = new Date(Date.UTC(2000, 0, 1));
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

let lastFormatted: { readonly ms: Millis; readonly text: string } = { ms: 0, text: '1970-01-01T00:00:00.000Z' };

/**
 * The one output form: `2024-02-16T09:41:07.123Z` (every accepted time is inside years 0000–9999). The last
 * instant's text is kept: the service formats the current millisecond for every write and answer made in it
 * (several per millisecond under load, twice per authorization), each time a `Date` and its ISO text.
 */
export function formatTime(ms: Millis): string {
  if (ms === lastFormatted.ms) return lastFormatted.text;
  const text = new Date(ms).toISOString();
  lastFormatted = { ms, text };
  return text;
}

export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
