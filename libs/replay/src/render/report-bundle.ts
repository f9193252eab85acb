import { mkdir, open, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { IncidentReport } from '../incident-report';
import { notifyLists, ownersCsv, viewersCsv } from './notify-lists';
import { EXPOSURE_COLUMNS, exposureCsvRow } from './render-csv';
import { renderHtml, type ReportFileLinks } from './render-html';

/**
 * Where an HTML report's files go: `incident.html` beside a folder `incident-files/` holding the complete
 * notify lists and every exposure as CSV. The HTML links to them by relative path, so the folder and the
 * file travel together.
 */
export interface ReportBundleLayout {
  readonly html: string;
  readonly dir: string;
  readonly owners: string;
  readonly viewers: string;
  readonly exposures: string;
  /** The same files as the HTML links to them. */
  readonly links: ReportFileLinks;
}

export const BUNDLE_FILES = {
  owners: 'owners-to-notify.csv',
  viewers: 'viewers-exposed.csv',
  exposures: 'exposures.csv',
} as const;

export function reportBundleLayout(htmlFile: string): ReportBundleLayout {
  const parsed = path.parse(htmlFile);
  const folder = `${parsed.ext.toLowerCase() === '.html' || parsed.ext.toLowerCase() === '.htm' ? parsed.name : parsed.base}-files`;
  const dir = path.join(parsed.dir, folder);
  const links = {
    owners: `${folder}/${BUNDLE_FILES.owners}`,
    viewers: `${folder}/${BUNDLE_FILES.viewers}`,
    exposures: `${folder}/${BUNDLE_FILES.exposures}`,
  };
  return {
    html: htmlFile,
    dir,
    owners: path.join(dir, BUNDLE_FILES.owners),
    viewers: path.join(dir, BUNDLE_FILES.viewers),
    exposures: path.join(dir, BUNDLE_FILES.exposures),
    links,
  };
}

const EXPOSURE_ROWS_PER_WRITE = 5000;

/**
 * Writes the HTML report (bounded in size whatever the incident) and, beside it, the complete notify lists
 * and every exposure as CSV files. Returns the layout written.
 */
export async function writeReportBundle(
  report: IncidentReport,
  htmlFile: string,
): Promise<ReportBundleLayout> {
  const layout = reportBundleLayout(htmlFile);
  await mkdir(layout.dir, { recursive: true });
  const lists = notifyLists(report.exposures);
  await writeFile(layout.owners, ownersCsv(lists.owners));
  await writeFile(layout.viewers, viewersCsv(lists.viewers));
  const file = await open(layout.exposures, 'w');
  try {
    const exposures = report.exposures;
    for (let start = 0; start === 0 || start < exposures.length; start += EXPOSURE_ROWS_PER_WRITE) {
      const rows = exposures.slice(start, start + EXPOSURE_ROWS_PER_WRITE).map(exposureCsvRow);
      await file.write(
        stringify(rows, {
          header: start === 0,
          columns: [...EXPOSURE_COLUMNS],
          escape_formulas: true,
          record_delimiter: 'unix',
        }),
      );
    }
  } finally {
    await file.close();
  }
  await writeFile(layout.html, renderHtml(report, { files: layout.links }));
  return layout;
}
