import { escapeHtml } from './escape-html';
import { formatCount } from './figures';
import type { ExposureTimeline } from './exposure-timeline';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TICK_INTERVALS = [
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  28 * DAY,
];

const WIDTH = 1000;
const HEIGHT = 300;
const M = { left: 64, right: 24, top: 20, bottom: 64 };
const PLOT_W = WIDTH - M.left - M.right;
const PLOT_H = HEIGHT - M.top - M.bottom;

const fixed = (n: number): string => (Math.round(n * 100) / 100).toString();

/** 1, 2 or 5 times a power of ten, at least `raw`, at least 1. */
function niceStep(raw: number): number {
  if (raw <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function timeLabel(ms: number, withDate: boolean, daily: boolean): string[] {
  const iso = new Date(ms).toISOString();
  if (daily) return [iso.slice(0, 10)];
  return withDate ? [iso.slice(11, 16), iso.slice(0, 10)] : [iso.slice(11, 16)];
}

/**
 * The exposures-over-time bar chart as inline SVG: one bar per non-empty bucket (with a tooltip), a y axis
 * of counts, a time axis in UTC and both axis titles. No scripts, no external resources.
 */
export function timelineSvg(timeline: ExposureTimeline | null): string {
  const title = timeline
    ? `Exposures per ${timeline.bucketLabel} (UTC)`
    : 'Exposures over time: none in this window';
  if (!timeline) {
    return (
      `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} 90" role="img" aria-labelledby="timeline-title">` +
      `<title id="timeline-title">${escapeHtml(title)}</title>` +
      `<text class="empty" x="${WIDTH / 2}" y="50" text-anchor="middle">No exposures in this window: nothing to chart</text></svg>`
    );
  }

  const parts: string[] = [
    `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="timeline-title">`,
    `<title id="timeline-title">${escapeHtml(title)}</title>`,
  ];
  const bottom = M.top + PLOT_H;
  const { bucketMs, start, end, bars, max } = timeline;
  const slots = Math.round((end - start) / bucketMs);
  const slot = PLOT_W / slots;
  const barWidth = slot >= 3 ? Math.min(slot * 0.8, 28) : slot;
  const step = niceStep(max / 4);
  const yMax = Math.max(step, Math.ceil(max / step) * step);
  const y = (count: number): number => bottom - (count / yMax) * PLOT_H;

  parts.push('<g class="grid">');
  for (let v = 0; v <= yMax; v += step) {
    parts.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${fixed(y(v))}" y2="${fixed(y(v))}"/>`);
  }
  parts.push('</g><g class="y-axis">');
  for (let v = 0; v <= yMax; v += step) {
    parts.push(
      `<text x="${M.left - 8}" y="${fixed(y(v) + 4)}" text-anchor="end">${escapeHtml(formatCount(v))}</text>`,
    );
  }
  parts.push(
    `<text class="axis-title" transform="translate(16 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(
      `exposures per ${timeline.bucketLabel}`,
    )}</text>`,
    '</g>',
  );

  parts.push('<g class="bars">');
  for (const bar of bars) {
    const x = M.left + ((bar.start - start) / bucketMs) * slot + (slot - barWidth) / 2;
    const top = y(bar.count);
    const from = new Date(bar.start).toISOString().slice(0, 16).replace('T', ' ');
    const tip = `${from} UTC (+${timeline.bucketLabel}): ${formatCount(bar.count)} exposure${bar.count === 1 ? '' : 's'}`;
    parts.push(
      `<rect class="bar" x="${fixed(x)}" y="${fixed(top)}" width="${fixed(barWidth)}" height="${fixed(Math.max(bottom - top, 1))}" data-start="${escapeHtml(new Date(bar.start).toISOString())}" data-count="${bar.count}"><title>${escapeHtml(tip)}</title></rect>`,
    );
  }
  parts.push('</g>');

  const interval = TICK_INTERVALS.find((i) => i >= bucketMs && (end - start) / i <= 8) ?? (end - start) / 4;
  const daily = interval >= DAY;
  parts.push(
    `<g class="x-axis"><line class="axis" x1="${M.left}" x2="${M.left + PLOT_W}" y1="${bottom}" y2="${bottom}"/>`,
  );
  let previousDate = '';
  for (let t = Math.ceil(start / interval) * interval; t <= end; t += interval) {
    const x = M.left + ((t - start) / (end - start)) * PLOT_W;
    const date = new Date(t).toISOString().slice(0, 10);
    const label = timeLabel(t, date !== previousDate, daily);
    previousDate = date;
    parts.push(`<line class="tick" x1="${fixed(x)}" x2="${fixed(x)}" y1="${bottom}" y2="${bottom + 5}"/>`);
    label.forEach((line, i) => {
      parts.push(
        `<text x="${fixed(x)}" y="${bottom + 18 + i * 14}" text-anchor="middle"${i > 0 ? ' class="date"' : ''}>${escapeHtml(line)}</text>`,
      );
    });
  }
  parts.push(
    `<text class="axis-title" x="${M.left + PLOT_W / 2}" y="${HEIGHT - 6}" text-anchor="middle">time (UTC)</text>`,
    '</g></svg>',
  );
  return parts.join('');
}
