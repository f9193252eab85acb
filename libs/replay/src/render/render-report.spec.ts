import { parse } from 'csv-parse/sync';
import type { Exposure, IncidentReport } from '../incident-report';
import { replayIncident, reportDigest, summarize } from '../replay-incident';
import { incidentFleet } from '../testing/incident-fleet';
import { InMemoryEventStore } from '../testing/in-memory-event-store';
import { exposureTimeline } from './exposure-timeline';
import { headline } from './figures';
import { EXPOSURE_COLUMNS } from './render-csv';
import { renderReport } from './render-report';

async function fleetReport(
  options: Parameters<typeof incidentFleet>[0] = {},
  request = {},
): Promise<IncidentReport> {
  const store = new InMemoryEventStore();
  await incidentFleet(options).appendTo(store);
  return replayIncident(store, request);
}

/** Every tag closed in order (void elements and `/>` aside), no stray `<`, `>` or `&` in text. */
function expectWellFormed(html: string): void {
  const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
  const body = html.replace(/^<!DOCTYPE html>\n/, '').replace(/<style>[\s\S]*?<\/style>/, '<style></style>');
  const stack: string[] = [];
  const strayText: string[] = [];
  const mismatched: string[] = [];
  const tag = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"<>]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m !== null; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    if (/[<>]|&(?!(amp|lt|gt|quot|#39);)/.test(text)) strayText.push(text);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) mismatched.push(`</${name}> closes <${open}>`);
    } else if (!selfClosing && !VOID.has(name)) stack.push(name);
  }
  expect(strayText).toEqual([]);
  expect(mismatched).toEqual([]);
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
}

const rows = (section: string): number => (section.match(/<tr><td/g) ?? []).length;

describe('renderReport html: a self-contained breach report', () => {
  let report: IncidentReport;
  let html: string;
  beforeAll(async () => {
    report = await fleetReport({ devices: 30, leakedViews: 200 });
    html = renderReport(report, 'html');
  });

  it('is one well-formed file with no scripts and no network', () => {
    expectWellFormed(html);
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(|@import/i);
    expect(html).toMatch(/^<!DOCTYPE html>/);
  });

  it('leads with the breach-notice figures, the window, log range and digest', () => {
    const s = report.summary;
    expect(s.viewersExposed).toBeGreaterThan(s.viewersOpened);
    expect(html).toContain(
      `${s.viewersExposed} users received media from cameras that were not theirs; ${s.viewersOpened} of them opened it; ${s.viewersPlayedVideo} played video; ${s.ownersAffected} owners affected.`,
    );
    expect(html).toContain(report.digest);
    expect(html).toContain(`<code>${report.logRange.from}</code> to <code>${report.logRange.to}</code>`);
    expect(html).toContain('the whole log');
  });

  it('charts exposures per minute: one bar per non-empty minute, with axis titles', () => {
    const minutes = new Set(report.exposures.map((e) => e.occurredAt.slice(0, 16)));
    const bars = [...html.matchAll(/<rect class="bar"[^>]*data-start="([^"]+)" data-count="(\d+)"/g)];
    expect(bars.map((b) => b[1].slice(0, 16))).toEqual([...minutes].sort());
    expect(bars.reduce((sum, b) => sum + Number(b[2]), 0)).toBe(report.exposures.length);
    expect(html).toContain('exposures per minute');
    expect(html).toContain('time (UTC)');
  });

  it('has a table per affected owner listing each of its exposures', () => {
    const owners = new Map<string, Exposure[]>();
    for (const e of report.exposures)
      owners.set(e.ownerId ?? '', [...(owners.get(e.ownerId ?? '') ?? []), e]);
    const sections = [
      ...html.matchAll(/<section class="group owner"[^>]*data-owner="([^"]*)">([\s\S]*?)<\/section>/g),
    ];
    expect(sections.map((s) => s[1]).sort()).toEqual([...owners.keys()].sort());
    for (const [, owner, section] of sections) {
      const exposures = owners.get(owner) ?? [];
      expect(rows(section)).toBe(exposures.length);
      for (const e of exposures)
        expect(section).toContain(`<td class="when">${e.occurredAt}</td><td><code>${e.deviceId}</code></td>`);
    }
    expect(owners.has('')).toBe(true); // the unregistered and decommissioned cameras
    expect(html).toContain('No owner at the time');
  });

  it('has a table per exposed viewer', () => {
    const viewers = new Set(report.exposures.map((e) => e.viewerId));
    const sections = [
      ...html.matchAll(/<section class="group viewer"[^>]*data-viewer="([^"]*)">([\s\S]*?)<\/section>/g),
    ];
    expect(sections.map((s) => s[1]).sort()).toEqual([...viewers].sort());
    expect(sections.reduce((sum, s) => sum + rows(s[2]), 0)).toBe(report.exposures.length);
  });

  it('buckets a many-day incident into fewer, wider bars', async () => {
    const long = await fleetReport({ devices: 20, leakedViews: 300, incidentMinutes: 6 * 24 * 60 });
    const timeline = exposureTimeline(long.exposures);
    expect(timeline?.bucketLabel).toBe('hour');
    const page = renderReport(long, 'html');
    expectWellFormed(page);
    const bars = page.match(/<rect class="bar"/g) ?? [];
    expect(bars.length).toBe(timeline?.bars.length);
    expect(bars.length).toBeLessThanOrEqual(240);
    expect(page).toContain('exposures per hour');
  });

  it('says so plainly when nothing was exposed', async () => {
    const clear = await fleetReport({ devices: 10, leakedViews: 0 }, { from: '2024-02-16T11:00:00Z' });
    const page = renderReport(clear, 'html');
    expectWellFormed(page);
    expect(clear.summary.exposures).toBe(0);
    expect(page).toContain('No user received media from a camera that was not theirs');
    expect(page).toContain('No exposures in this window');
    expect(page).not.toContain('<rect class="bar"');
    expect(page).not.toContain('class="group owner"');
  });

  it('escapes every string it prints', () => {
    const hostile = '<script>alert("x")</script>&\'';
    const exposure: Exposure = {
      eventId: hostile,
      occurredAt: '2024-02-16T09:41:07.123Z',
      viewerId: `v${hostile}`,
      deviceId: `d${hostile}`,
      ownerId: `o${hostile}`,
      mediaId: `m${hostile}`,
      mediaType: 'thumbnail',
      action: 'opened',
      reason: 'never_granted',
    };
    const window = { from: null, to: null };
    const summary = summarize(1, [exposure]);
    const page = renderReport(
      {
        window,
        logRange: { from: 'lt1.s', to: 'lt1.1' },
        summary,
        exposures: [exposure],
        digest: reportDigest(window, summary, [exposure]),
      },
      'html',
    );
    expectWellFormed(page);
    expect(page).not.toContain('<script');
    expect(page).toContain('d&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });
});

describe('renderReport: json, csv and markdown', () => {
  let report: IncidentReport;
  beforeAll(async () => {
    report = await fleetReport({ devices: 12, leakedViews: 40 });
  });

  it('json is the §4 report itself', () => {
    expect(JSON.parse(renderReport(report, 'json'))).toEqual(report);
  });

  it('csv has a header and one row per exposure, in order', () => {
    const records = parse(renderReport(report, 'csv'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(records[0])).toEqual([...EXPOSURE_COLUMNS]);
    expect(records).toEqual(report.exposures.map((e) => ({ ...e, ownerId: e.ownerId ?? '' })));
  });

  it('csv of a clear report is just the header', () => {
    const clear: IncidentReport = { ...report, exposures: [], summary: summarize(3, []) };
    expect(renderReport(clear, 'csv')).toBe(`${EXPOSURE_COLUMNS.join(',')}\n`);
  });

  it('markdown has the headline figures, the owners to notify and every exposure', () => {
    const md = renderReport(report, 'md');
    expect(md).toContain(`**${headline(report.summary)}**`);
    expect(md).toContain('## Owners to notify');
    expect(md).toContain(report.digest);
    for (const e of report.exposures)
      expect(md).toContain(`| ${e.occurredAt} | \`${e.viewerId}\` | \`${e.deviceId}\` |`);
  });
});

describe('exposureTimeline', () => {
  const at = (iso: string): Exposure => ({
    eventId: iso,
    occurredAt: iso,
    viewerId: 'v',
    deviceId: 'd',
    ownerId: 'o',
    mediaId: 'm',
    mediaType: 'thumbnail',
    action: 'delivered',
    reason: 'never_granted',
  });

  it('counts per minute, non-empty minutes only, on an axis a little wider than the exposures', () => {
    const t = exposureTimeline([
      at('2024-02-16T09:41:07.123Z'),
      at('2024-02-16T09:41:59.999Z'),
      at('2024-02-16T09:44:00.000Z'),
    ]);
    expect(t?.bucketLabel).toBe('minute');
    expect(t?.bars).toEqual([
      { start: Date.parse('2024-02-16T09:41:00Z'), count: 2 },
      { start: Date.parse('2024-02-16T09:44:00Z'), count: 1 },
    ]);
    expect(t && t.start < Date.parse('2024-02-16T09:41:00Z')).toBe(true);
    expect(t && t.end > Date.parse('2024-02-16T09:45:00Z')).toBe(true);
  });

  it('widens the bucket to keep at most maxBuckets bars over months', () => {
    const t = exposureTimeline([at('2024-01-01T00:00:00.000Z'), at('2024-12-31T00:00:00.000Z')], 240);
    expect(t?.bucketLabel).toBe('2 days');
    expect(t && (t.end - t.start) / t.bucketMs).toBeLessThanOrEqual(242);
  });

  it('is null without exposures', () => {
    expect(exposureTimeline([])).toBeNull();
  });
});
