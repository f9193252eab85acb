import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { IncidentReport } from '../incident-report';
import { replayIncident } from '../replay-incident';
import { incidentFleet } from '../testing/incident-fleet';
import { InMemoryEventStore } from '../testing/in-memory-event-store';
import { formatCount } from './figures';
import { writeReportBundle } from './report-bundle';

/** Debian's package, as `.ci/run` installs it; playwright-core drives it and never downloads a browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** A functional bound (the page must open at all), not a performance assertion. */
const LOAD_TIMEOUT_MS = 60_000;
const MAX_HTML_BYTES = 5 * 1024 * 1024;
/** The checked-in picture of the report in docs/: refreshed only when asked, so a test run leaves the tree clean. */
const DOC_SCREENSHOT = path.resolve(__dirname, '../../../../docs/images/incident-report.png');
const REFRESH_DOC_IMAGES = process.env.UPDATE_DOC_IMAGES === '1';

jest.setTimeout(180_000);

describe('a large incident report in real headless Chromium', () => {
  let report: IncidentReport;
  let dir: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) — this test never skips`,
      );
    }
    const store = new InMemoryEventStore();
    // A fleet-wide incident: 105,000 leaked views over 5,000 cameras.
    await incidentFleet({ devices: 5000, leakedViews: 105_000, incidentMinutes: 90 }).appendTo(store);
    report = await replayIncident(store, {});
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'incident-report-'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('opens within the bound and shows the headline figures, with the complete lists beside it', async () => {
    expect(report.summary.exposures).toBeGreaterThanOrEqual(100_000);
    const layout = await writeReportBundle(report, path.join(dir, 'incident.html'));
    expect(fs.statSync(layout.html).size).toBeLessThan(MAX_HTML_BYTES);

    const page = await browser!.newPage({ viewport: { width: 1200, height: 1000 } });
    await page.goto(`file://${layout.html}`, { waitUntil: 'load', timeout: LOAD_TIMEOUT_MS });
    const figure = (name: string): Promise<string> =>
      page.locator(`[data-figure="${name}"] .n`).innerText({ timeout: LOAD_TIMEOUT_MS });
    const { summary } = report;
    expect(await figure('viewersExposed')).toBe(formatCount(summary.viewersExposed));
    expect(await figure('viewersOpened')).toBe(formatCount(summary.viewersOpened));
    expect(await figure('viewersPlayedVideo')).toBe(formatCount(summary.viewersPlayedVideo));
    expect(await figure('ownersAffected')).toBe(formatCount(summary.ownersAffected));
    expect(await figure('exposures')).toBe(formatCount(summary.exposures));
    expect(await page.locator('#digest').innerText()).toBe(report.digest);
    expect(await page.locator('svg.timeline rect.bar').count()).toBeGreaterThan(10);
    expect(await page.locator('table.parties.owner tbody tr').count()).toBe(100);

    // The links resolve to the complete lists.
    const ownersHref = await page.locator('#files a').first().getAttribute('href');
    expect(fs.existsSync(path.join(dir, ownersHref ?? 'missing'))).toBe(true);

    // Every run takes the screenshot (a page that cannot be drawn fails here); it goes to the run's own
    // directory unless UPDATE_DOC_IMAGES=1 asks for the docs' copy to be refreshed.
    const screenshot = REFRESH_DOC_IMAGES ? DOC_SCREENSHOT : path.join(dir, 'incident-report.png');
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: false });
    expect(fs.statSync(screenshot).size).toBeGreaterThan(0);
    await page.close();
  });
});
