import type { IncidentReport } from '../incident-report';
import { renderCsv } from './render-csv';
import { renderHtml } from './render-html';
import { renderMarkdown } from './render-markdown';

export const REPORT_FORMATS = ['json', 'csv', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function isReportFormat(value: unknown): value is ReportFormat {
  return typeof value === 'string' && (REPORT_FORMATS as readonly string[]).includes(value);
}

/** The report as a file: pretty JSON (the §4 shape), CSV (one row per exposure), Markdown or HTML. */
export function renderReport(report: IncidentReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return renderCsv(report);
    case 'md':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
    default: {
      const unreachable: never = format;
      throw new RangeError(`unknown report format ${String(unreachable)}`);
    }
  }
}
