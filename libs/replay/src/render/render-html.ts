import type { Exposure, IncidentReport } from '../incident-report';
import { escapeHtml as h } from './escape-html';
import { exposureTimeline } from './exposure-timeline';
import {
  byOwner,
  byViewer,
  formatCount,
  headline,
  REASON_LABELS,
  reasonCounts,
  type ExposureGroup,
} from './figures';
import { mostExposed, notifyLists, type PartyExposures } from './notify-lists';
import { timelineSvg } from './timeline-svg';

/**
 * Up to this many exposures the report lists every one, grouped by owner and by viewer; past it (a fleet-wide
 * incident) it shows the parties with most exposures and points to the complete lists as CSV files, so the
 * page stays a few hundred kilobytes, well under 5 MB, whatever the incident.
 */
export const DETAIL_LIMIT = 1000;
/** Rows of each "most exposures" table of a large report. */
export const MOST_EXPOSED_ROWS = 100;

/** The CSV files written beside the report (`writeReportBundle`), as links relative to the HTML file. */
export interface ReportFileLinks {
  readonly owners: string;
  readonly viewers: string;
  readonly exposures: string;
}

export interface RenderHtmlOptions {
  readonly files?: ReportFileLinks;
}

const STYLE = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--alert:#b42318;--alert-bg:#fef3f2;--ok:#1a7f37;--ok-bg:#eefbf1;--bar:#d1453b}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--fg);font:14px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:32px 28px 64px}
h1{font-size:26px;margin:0 0 2px}
h2{font-size:19px;margin:36px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:22px 0 6px}
p{margin:6px 0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.sub{color:var(--muted);margin:0 0 18px}
.lede{font-size:19px;line-height:1.45;font-weight:600;padding:14px 18px;border-left:5px solid var(--alert);background:var(--alert-bg);border-radius:4px}
.lede.clear{border-color:var(--ok);background:var(--ok-bg)}
.figures{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:12px;margin:18px 0}
.figure{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.figure .n{display:block;font-size:26px;font-weight:650;font-variant-numeric:tabular-nums}
.figure .l{display:block;color:var(--muted);font-size:12.5px}
.figure.key .n{color:var(--alert)}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:6px 18px;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
nav.toc{margin:12px 0 0;color:var(--muted)}
nav.toc a{color:inherit;margin-right:14px}
table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:13px}
th,td{text-align:left;padding:5px 9px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.when{white-space:nowrap;font-variant-numeric:tabular-nums}
.reason{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;white-space:nowrap;background:#eef1f4}
.reason.never_granted{background:#fde2e1;color:#8a1c14}
.reason.revoked{background:#fff1d6;color:#7a4a00}
.reason.expired{background:#f1e8ff;color:#5b2a9e}
.reason.transferred{background:#e0efff;color:#0b4a8f}
.reason.decommissioned{background:#e8ecef;color:#3d4852}
.reason.unknown_device{background:#e8ecef;color:#3d4852}
.group{margin:0 0 18px;break-inside:avoid}
.group .meta{color:var(--muted);margin:0 0 4px}
svg.timeline{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:8px;background:#fff}
svg.timeline text{font:12px -apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--muted)}
svg.timeline text.axis-title{font-size:12.5px;fill:var(--fg)}
svg.timeline text.date{font-size:11px}
svg.timeline text.empty{font-size:16px}
svg.timeline .grid line{stroke:#eaeef2}
svg.timeline .axis,svg.timeline .tick{stroke:#8c959f}
svg.timeline .bar{fill:var(--bar)}
footer{margin-top:40px;color:var(--muted);font-size:12.5px}
@media print{main{padding:0}h2{break-after:avoid}.figures{grid-template-columns:repeat(4,1fr)}}
`;

function reasonBadge(reason: Exposure['reason']): string {
  return `<span class="reason ${h(reason)}" title="${h(REASON_LABELS[reason])}">${h(reason)}</span>`;
}

function idList(ids: readonly string[]): string {
  return ids.map((id) => `<code>${h(id)}</code>`).join(', ');
}

function figure(name: string, value: number | string, label: string, key = false): string {
  const n = typeof value === 'number' ? formatCount(value) : value;
  return `<div class="figure${key ? ' key' : ''}" data-figure="${h(name)}"><span class="n">${h(n)}</span><span class="l">${h(label)}</span></div>`;
}

function partyTable(parties: readonly PartyExposures[], side: 'owner' | 'viewer'): string {
  const head =
    side === 'owner'
      ? '<th>Owner</th><th class="num">Exposures</th><th class="num">Devices</th><th class="num">Seen by</th><th>First</th><th>Last</th>'
      : '<th>Viewer</th><th class="num">Exposures</th><th class="num">Devices</th><th class="num">Owners</th><th>Opened</th><th>Played video</th><th>First</th><th>Last</th>';
  const rows = parties.map(
    (p) =>
      `<tr><td><code>${h(p.id)}</code></td><td class="num">${h(formatCount(p.exposures))}</td>` +
      `<td class="num">${h(formatCount(p.devices.length))}</td><td class="num">${h(formatCount(p.counterparts))}</td>` +
      (side === 'viewer'
        ? `<td>${p.opened ? 'yes' : 'no'}</td><td>${p.playedVideo ? 'yes' : 'no'}</td>`
        : '') +
      `<td class="when">${h(p.firstExposureAt)}</td><td class="when">${h(p.lastExposureAt)}</td></tr>`,
  );
  return `<table class="parties ${side}"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function filesSection(
  files: ReportFileLinks | undefined,
  owners: number,
  viewers: number,
  exposures: number,
): string {
  if (files === undefined) {
    return '<p class="meta">The complete lists are written as CSV files beside this report by <code>ledger replay --format html --out FILE</code>.</p>';
  }
  const link = (href: string, text: string): string =>
    `<li><a href="${h(encodeURI(href))}">${h(text)}</a> <span class="meta">(<code>${h(href)}</code>)</span></li>`;
  return (
    '<ul class="files">' +
    link(files.owners, `Owners to notify: all ${formatCount(owners)}`) +
    link(files.viewers, `Exposed viewers: all ${formatCount(viewers)}`) +
    link(files.exposures, `Every exposure: all ${formatCount(exposures)}`) +
    '</ul>'
  );
}

function exposureTable(exposures: readonly Exposure[], counterpart: 'viewer' | 'owner'): string {
  const head =
    counterpart === 'viewer'
      ? '<th>When (UTC)</th><th>Device</th><th>Seen by</th><th>Media</th><th>Type</th><th>Action</th><th>Reason</th>'
      : '<th>When (UTC)</th><th>Device</th><th>Owner then</th><th>Media</th><th>Type</th><th>Action</th><th>Reason</th>';
  const rows = exposures.map((e) => {
    const who = counterpart === 'viewer' ? e.viewerId : e.ownerId;
    return (
      `<tr><td class="when">${h(e.occurredAt)}</td><td><code>${h(e.deviceId)}</code></td>` +
      `<td>${who === null ? '<span class="mono">—</span>' : `<code>${h(who)}</code>`}</td>` +
      `<td><code>${h(e.mediaId)}</code></td><td>${h(e.mediaType)}</td><td>${h(e.action)}</td>` +
      `<td>${reasonBadge(e.reason)}</td></tr>`
    );
  });
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function span(group: ExposureGroup): string {
  const first = group.exposures[0].occurredAt;
  const last = group.exposures[group.exposures.length - 1].occurredAt;
  return first === last ? `at ${first}` : `from ${first} to ${last}`;
}

function ownerSection(group: ExposureGroup, index: number): string {
  const n = group.exposures.length;
  const title = group.key === null ? 'No owner at the time' : `Owner <code>${h(group.key)}</code>`;
  const note =
    group.key === null
      ? 'The device was not registered, or was decommissioned, when these views happened: there is no owner to notify for them.'
      : `Notify <code>${h(group.key)}</code>: ${h(formatCount(n))} exposure${n === 1 ? '' : 's'} of ${h(
          group.devices.length === 1 ? 'device' : 'devices',
        )} ${idList(group.devices)}, seen by ${h(formatCount(group.viewers.length))} other user${
          group.viewers.length === 1 ? '' : 's'
        } ${h(span(group))}.`;
  return (
    `<section class="group owner" id="owner-${index}" data-owner="${h(group.key ?? '')}">` +
    `<h3>${title}</h3><p class="meta">${note}</p>${exposureTable(group.exposures, 'viewer')}</section>`
  );
}

function viewerSection(group: ExposureGroup, index: number): string {
  const n = group.exposures.length;
  const opened = group.exposures.some((e) => e.action !== 'delivered');
  const played = group.exposures.some(
    (e) => e.action === 'played' && (e.mediaType === 'event_video' || e.mediaType === 'live_stream'),
  );
  const did = played ? 'opened it and played video' : opened ? 'opened it' : 'did not open it';
  return (
    `<section class="group viewer" id="viewer-${index}" data-viewer="${h(group.key ?? '')}">` +
    `<h3>Viewer <code>${h(group.key ?? '')}</code></h3>` +
    `<p class="meta">Received ${h(formatCount(n))} item${n === 1 ? '' : 's'} of media from ${h(
      formatCount(group.devices.length),
    )} device${group.devices.length === 1 ? '' : 's'} that ${group.devices.length === 1 ? 'was' : 'were'} not theirs; ${h(
      did,
    )}; ${h(span(group))}.</p>${exposureTable(group.exposures, 'owner')}</section>`
  );
}

/** "1 h 12 min", "3 d 4 h", "42 s"; "—" when there is no exposure. */
function duration(first: string | null, last: string | null): string {
  if (first === null || last === null) return '—';
  const seconds = Math.round((Date.parse(last) - Date.parse(first)) / 1000);
  const d = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${seconds % 60} s`;
  return `${seconds} s`;
}

/**
 * One self-contained HTML file (inline CSS and SVG, no scripts, no network): the breach-notice headline,
 * the window, log range and digest, exposures over time, one table per affected owner (who to notify) and
 * one per exposed viewer.
 */
export function renderHtml(report: IncidentReport, options: RenderHtmlOptions = {}): string {
  const { summary, exposures } = report;
  const clear = summary.exposures === 0;
  const detailed = exposures.length <= DETAIL_LIMIT;
  const timeline = exposureTimeline(exposures);
  const { from, to } = report.window;
  const scope =
    from === null && to === null
      ? 'Every view in the log'
      : `Views from ${from ?? 'the beginning of the log'} to ${to === null ? 'the end of the log' : `${to} (exclusive)`}`;

  const body: string[] = [
    '<main>',
    '<header>',
    '<h1>Incident replay report</h1>',
    `<p class="sub">${h(scope)} (business time, UTC), judged against the ownership history at the instant of each view.</p>`,
    `<p class="lede${clear ? ' clear' : ''}" id="headline">${h(headline(summary))}</p>`,
    '<div class="figures">',
    figure('viewersExposed', summary.viewersExposed, 'users received media from cameras not theirs', !clear),
    figure('viewersOpened', summary.viewersOpened, 'of them opened or played it', !clear),
    figure('viewersPlayedVideo', summary.viewersPlayedVideo, 'of them played video', !clear),
    figure('ownersAffected', summary.ownersAffected, 'owners affected (to notify)', !clear),
    figure('exposures', summary.exposures, 'exposures (unauthorized views)'),
    figure('viewsExamined', summary.viewsExamined, 'views examined'),
    figure('devicesAffected', summary.devicesAffected, 'devices affected'),
    figure(
      'duration',
      duration(summary.firstExposureAt, summary.lastExposureAt),
      'from first to last exposure',
    ),
    '</div>',
    '<dl class="facts">',
    `<dt>Window</dt><dd>${
      from === null && to === null
        ? 'the whole log (no bounds given)'
        : `from ${from === null ? 'the beginning of the log' : `<code>${h(from)}</code>`} to ${
            to === null ? 'the end of the log' : `<code>${h(to)}</code> (exclusive)`
          }`
    }</dd>`,
    `<dt>First exposure</dt><dd><code>${h(summary.firstExposureAt ?? '—')}</code></dd>`,
    `<dt>Last exposure</dt><dd><code>${h(summary.lastExposureAt ?? '—')}</code></dd>`,
    `<dt>Log range read</dt><dd><code>${h(report.logRange.from)}</code> to <code>${h(report.logRange.to)}</code></dd>`,
    `<dt>Digest</dt><dd><code id="digest">${h(report.digest)}</code></dd>`,
    '</dl>',
    clear
      ? ''
      : `<nav class="toc"><a href="#timeline">Timeline</a><a href="#reasons">Reasons</a><a href="#owners">Owners to notify</a><a href="#viewers">Exposed viewers</a>${options.files || !detailed ? '<a href="#files">Complete lists</a>' : ''}</nav>`,
    '</header>',
    '<section id="timeline"><h2>Exposures over time</h2>',
    timelineSvg(timeline),
    '</section>',
  ];
  if (!clear) {
    body.push(
      '<section id="reasons"><h2>Why these views were not authorized</h2><table><thead><tr><th>Reason</th><th>Meaning</th><th class="num">Exposures</th></tr></thead><tbody>',
      ...reasonCounts(exposures).map(
        ([reason, n]) =>
          `<tr><td>${reasonBadge(reason)}</td><td>${h(REASON_LABELS[reason])}</td><td class="num">${h(formatCount(n))}</td></tr>`,
      ),
      '</tbody></table></section>',
    );
    if (detailed) {
      body.push(
        `<section id="owners"><h2>Owners to notify (${h(formatCount(summary.ownersAffected))})</h2>`,
        '<p class="meta">Each table lists what was seen from the owner\'s devices, by whom, when, and why it was not authorized. The owner is the one at the instant of each view.</p>',
        ...byOwner(exposures).map(ownerSection),
        '</section>',
        `<section id="viewers"><h2>Exposed viewers (${h(formatCount(summary.viewersExposed))})</h2>`,
        ...byViewer(exposures).map(viewerSection),
        '</section>',
      );
    } else {
      const lists = notifyLists(exposures);
      const topOwners = mostExposed(lists.owners, MOST_EXPOSED_ROWS);
      const topViewers = mostExposed(lists.viewers, MOST_EXPOSED_ROWS);
      body.push(
        `<section id="owners"><h2>Owners to notify (${h(formatCount(summary.ownersAffected))})</h2>`,
        `<p class="meta">The ${h(formatCount(topOwners.length))} owners with most exposures (the owner at the instant of each view); every owner is in the complete list below.${
          lists.ownerless > 0
            ? ` ${h(formatCount(lists.ownerless))} exposures were of devices with no owner at the time (unregistered or decommissioned).`
            : ''
        }</p>`,
        partyTable(topOwners, 'owner'),
        '</section>',
        `<section id="viewers"><h2>Exposed viewers (${h(formatCount(summary.viewersExposed))})</h2>`,
        `<p class="meta">The ${h(formatCount(topViewers.length))} viewers with most exposures; every viewer is in the complete list below.</p>`,
        partyTable(topViewers, 'viewer'),
        '</section>',
      );
    }
    if (options.files || !detailed) {
      body.push(
        '<section id="files"><h2>Complete lists</h2>',
        filesSection(options.files, summary.ownersAffected, summary.viewersExposed, summary.exposures),
        '</section>',
      );
    }
  }
  body.push(
    "<footer>Generated by the access ledger's incident replay (contract §4). The digest covers the window, the summary and the exposures: replaying the same log gives the same digest.</footer>",
    '</main>',
  );
  const title = clear
    ? 'Incident replay: no exposures'
    : `Incident replay: ${formatCount(summary.exposures)} exposures, ${formatCount(summary.viewersExposed)} users`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
