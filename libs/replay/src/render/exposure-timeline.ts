import type { Millis } from '@ledger/domain';
import type { Exposure } from '../incident-report';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Bucket widths a reader can name, smallest first; the first that fits `maxBuckets` is used. */
const NICE_BUCKETS: ReadonlyArray<[number, string]> = [
  [MINUTE, 'minute'],
  [2 * MINUTE, '2 minutes'],
  [5 * MINUTE, '5 minutes'],
  [10 * MINUTE, '10 minutes'],
  [15 * MINUTE, '15 minutes'],
  [30 * MINUTE, '30 minutes'],
  [HOUR, 'hour'],
  [2 * HOUR, '2 hours'],
  [3 * HOUR, '3 hours'],
  [6 * HOUR, '6 hours'],
  [12 * HOUR, '12 hours'],
  [DAY, 'day'],
  [2 * DAY, '2 days'],
  [7 * DAY, 'week'],
  [14 * DAY, '2 weeks'],
  [28 * DAY, '4 weeks'],
];

export interface TimelineBar {
  /** Bucket start (epoch ms, a multiple of the bucket width). */
  readonly start: Millis;
  readonly count: number;
}

export interface ExposureTimeline {
  readonly bucketMs: number;
  /** "minute", "5 minutes", … as in "exposures per minute". */
  readonly bucketLabel: string;
  /** Axis range [start, end), whole buckets, a little wider than the exposures. */
  readonly start: Millis;
  readonly end: Millis;
  /** Non-empty buckets only, in time order. */
  readonly bars: readonly TimelineBar[];
  readonly max: number;
}

/**
 * Exposures counted per minute, or per a wider nice bucket when the exposures span more than `maxBuckets`
 * minutes (a window of many days). The axis covers the exposures, not the whole window, so an incident of an
 * hour inside a month-long window is still readable. Null when there are no exposures.
 */
export function exposureTimeline(exposures: readonly Exposure[], maxBuckets = 240): ExposureTimeline | null {
  if (exposures.length === 0) return null;
  let first = Infinity;
  let last = -Infinity;
  const times = exposures.map((e) => Date.parse(e.occurredAt));
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  let [bucketMs, bucketLabel] = NICE_BUCKETS[NICE_BUCKETS.length - 1];
  for (const [width, label] of NICE_BUCKETS) {
    if (Math.floor(last / width) - Math.floor(first / width) + 1 <= maxBuckets) {
      bucketMs = width;
      bucketLabel = label;
      break;
    }
  }
  while (Math.floor(last / bucketMs) - Math.floor(first / bucketMs) + 1 > maxBuckets) {
    bucketMs *= 2;
    bucketLabel = `${Math.round(bucketMs / DAY)} days`;
  }
  const counts = new Map<number, number>();
  for (const t of times) {
    const bucket = Math.floor(t / bucketMs) * bucketMs;
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  }
  const bars = [...counts.entries()].sort(([a], [b]) => a - b).map(([start, count]) => ({ start, count }));
  const firstBucket = Math.floor(first / bucketMs);
  const spanned = Math.floor(last / bucketMs) - firstBucket + 1;
  const total = Math.max(spanned + 2, 15);
  const before = Math.floor((total - spanned) / 2);
  const start = (firstBucket - before) * bucketMs;
  return {
    bucketMs,
    bucketLabel,
    start,
    end: start + total * bucketMs,
    bars,
    max: bars.reduce((m, b) => Math.max(m, b.count), 0),
  };
}
