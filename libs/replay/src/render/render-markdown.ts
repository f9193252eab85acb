import type { IncidentReport } from '../incident-report';
import { byOwner, formatCount, headline, REASON_LABELS, reasonCounts, windowText } from './figures';

/** Inline code for ids and tokens; plain text with table-breaking characters escaped for the rest. */
function code(text: string): string {
  return /^[A-Za-z0-9._:+\-/= ]*$/.test(text) ? `\`${text}\`` : cell(text);
}

function cell(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+!|<>]/g, (ch) => `\\${ch}`).replace(/\r?\n/g, ' ');
}

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

/** Headline figures, then the owners to notify, then every exposure. */
export function renderMarkdown(report: IncidentReport): string {
  const { summary } = report;
  const lines: string[] = [
    '# Incident replay report',
    '',
    `**${cell(headline(summary))}**`,
    '',
    ...table(
      ['', ''],
      [
        ['Window (business time)', cell(windowText(report))],
        ['Log range read', `${code(report.logRange.from)} to ${code(report.logRange.to)}`],
        ['Digest', code(report.digest)],
      ],
    ),
    '',
    '## Summary',
    '',
    ...table(
      ['Figure', 'Value'],
      [
        ['Views examined', formatCount(summary.viewsExamined)],
        ['Exposures (unauthorized views)', formatCount(summary.exposures)],
        ['Users who received foreign media', formatCount(summary.viewersExposed)],
        ['… of whom opened or played it', formatCount(summary.viewersOpened)],
        ['… of whom played video', formatCount(summary.viewersPlayedVideo)],
        ['Owners affected', formatCount(summary.ownersAffected)],
        ['Devices affected', formatCount(summary.devicesAffected)],
        ['First exposure', summary.firstExposureAt ?? '—'],
        ['Last exposure', summary.lastExposureAt ?? '—'],
      ],
    ),
    '',
  ];
  if (report.exposures.length > 0) {
    lines.push(
      '## Reasons',
      '',
      ...table(
        ['Reason', 'Exposures'],
        reasonCounts(report.exposures).map(([reason, n]) => [
          `${code(reason)} (${REASON_LABELS[reason]})`,
          formatCount(n),
        ]),
      ),
      '',
      '## Owners to notify',
      '',
      ...table(
        ['Owner', 'Devices', 'Seen by', 'Exposures', 'First', 'Last'],
        byOwner(report.exposures).map((g) => [
          g.key === null ? 'no owner at the time' : code(g.key),
          g.devices.map(code).join(', '),
          formatCount(g.viewers.length),
          formatCount(g.exposures.length),
          g.exposures[0].occurredAt,
          g.exposures[g.exposures.length - 1].occurredAt,
        ]),
      ),
      '',
      '## Exposures',
      '',
      ...table(
        ['When (UTC)', 'Viewer', 'Device', 'Owner', 'Media', 'Type', 'Action', 'Reason', 'Event'],
        report.exposures.map((e) => [
          e.occurredAt,
          code(e.viewerId),
          code(e.deviceId),
          e.ownerId === null ? '—' : code(e.ownerId),
          code(e.mediaId),
          e.mediaType,
          e.action,
          e.reason,
          code(e.eventId),
        ]),
      ),
      '',
    );
  }
  return `${lines.join('\n')}`;
}
