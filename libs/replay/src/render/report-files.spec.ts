import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Exposure, IncidentReport } from '../incident-report';
import { replayIncident } from '../replay-incident';
import { ReportDigester } from '../report-digest';
import { incidentFleet } from '../testing/incident-fleet';
import { InMemoryEventStore } from '../testing/in-memory-event-store';
import { DETAIL_LIMIT } from './render-html';
import { reportBundleLayout, writeReportBundle } from './report-bundle';
import { ndjsonReportChunks, renderNdjson, reportPage } from './report-stream';

async function fleetReport(options: Parameters<typeof incidentFleet>[0]): Promise<IncidentReport> {
  const store = new InMemoryEventStore();
  await incidentFleet(options).appendTo(store);
  return replayIncident(store, {});
}

let large: IncidentReport;
let small: IncidentReport;
let dir: string;

beforeAll(async () => {
  large = await fleetReport({ devices: 400, leakedViews: 6000 });
  small = await fleetReport({ devices: 20, leakedViews: 30 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-bundle-'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('writeReportBundle', () => {
  it('writes a bounded HTML page and the complete lists beside it', async () => {
    expect(large.exposures.length).toBeGreaterThan(DETAIL_LIMIT);
    const layout = await writeReportBundle(large, path.join(dir, 'incident.html'));
    expect(layout).toEqual(reportBundleLayout(path.join(dir, 'incident.html')));
    expect(layout.dir).toBe(path.join(dir, 'incident-files'));
    const html = fs.readFileSync(layout.html, 'utf8');
    // A large report lists the parties with most exposures, not every exposure.
    expect(html).not.toContain('class="group owner"');
    expect(html).toContain('class="parties owner"');
    expect(html).toContain('href="incident-files/owners-to-notify.csv"');
    expect(html).toContain('href="incident-files/viewers-exposed.csv"');
    expect(html).toContain('href="incident-files/exposures.csv"');
    expect(html).toContain(large.digest);

    const owners = parse(fs.readFileSync(layout.owners, 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    const ownerIds = new Set(large.exposures.map((e) => e.ownerId).filter((id) => id !== null));
    expect(owners.map((row) => row.ownerId).sort()).toEqual([...ownerIds].sort());
    expect(owners).toHaveLength(large.summary.ownersAffected);
    const viewers = parse(fs.readFileSync(layout.viewers, 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(viewers).toHaveLength(large.summary.viewersExposed);
    expect(viewers.filter((v) => v.opened === 'yes')).toHaveLength(large.summary.viewersOpened);
    expect(viewers.filter((v) => v.playedVideo === 'yes')).toHaveLength(large.summary.viewersPlayedVideo);
    const sum = (rows: Record<string, string>[]): number => rows.reduce((n, r) => n + Number(r.exposures), 0);
    expect(sum(viewers)).toBe(large.summary.exposures);
    const exposures = parse(fs.readFileSync(layout.exposures, 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(exposures.map((row) => row.eventId)).toEqual(large.exposures.map((e) => e.eventId));
  });

  it('keeps the detailed layout for a small incident, with links to the files', async () => {
    const layout = await writeReportBundle(small, path.join(dir, 'small.html'));
    const html = fs.readFileSync(layout.html, 'utf8');
    expect(html).toContain('class="group owner"');
    expect(html).toContain('href="small-files/owners-to-notify.csv"');
  });

  it('names the folder after the file, whatever its extension', () => {
    expect(reportBundleLayout('/r/x.htm').dir).toBe('/r/x-files');
    expect(reportBundleLayout('/r/report').dir).toBe('/r/report-files');
  });
});

describe('NDJSON report', () => {
  it('is a header, one line per exposure and a trailer whose digest the lines reproduce', () => {
    const lines = renderNdjson(large)
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(lines).toHaveLength(large.exposures.length + 2);
    const header = lines[0] as { header: { window: IncidentReport['window']; exposures: number } };
    expect(header).toEqual({
      header: { window: large.window, logRange: large.logRange, exposures: large.exposures.length },
    });
    const trailer = lines[lines.length - 1] as {
      trailer: { summary: IncidentReport['summary']; digest: string };
    };
    expect(trailer).toEqual({ trailer: { summary: large.summary, digest: large.digest } });
    const digester = new ReportDigester();
    for (const line of lines.slice(1, -1)) digester.add(line as Exposure);
    expect(digester.finish(header.header.window, trailer.trailer.summary)).toBe(large.digest);
  });

  it('comes in chunks of whole lines', () => {
    const chunks = [...ndjsonReportChunks(large)];
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
  });
});

describe('reportPage', () => {
  it('pages through every exposure in order, with the whole report digest on each page', () => {
    const seen: Exposure[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null) {
      const page = reportPage(large, { offset, limit: 1000 });
      expect(page.digest).toBe(large.digest);
      expect(page.summary).toEqual(large.summary);
      expect(page.page.total).toBe(large.exposures.length);
      seen.push(...page.exposures);
      offset = page.page.nextOffset;
      pages++;
    }
    expect(seen).toEqual(large.exposures);
    expect(pages).toBe(Math.ceil(large.exposures.length / 1000));
    expect(reportPage(large, { offset: large.exposures.length + 5 }).exposures).toEqual([]);
  });

  it.each([
    [{ offset: -1 }, 'offset'],
    [{ offset: 1.5 }, 'offset'],
    [{ limit: 0 }, 'limit'],
    [{ limit: 10_001 }, 'limit'],
    [{ limit: '10' }, 'limit'],
  ])('refuses %j naming the field', (request, field) => {
    expect(() => reportPage(small, request)).toThrow(expect.objectContaining({ field }));
  });
});
