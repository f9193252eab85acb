export * from './incident-report';
export { canonicalJson } from '@ledger/domain';
export { validateReplayRequest, normalizedRequest, MAX_REPLAY_IDS, type ReplayQuery } from './replay-request';
export { replayIncident, reportDigest, summarize, DEFAULT_REPLAY_PAGE_SIZE } from './replay-incident';
export { recordReplay, type RecordReplayOptions, type RecordedReplay } from './record-replay';
export { renderReport, isReportFormat, REPORT_FORMATS, type ReportFormat } from './render/render-report';
export { headline } from './render/figures';
export { ReportDigester, exposureCanonicalJson } from './report-digest';
export {
  ndjsonReportChunks,
  renderNdjson,
  reportPage,
  DEFAULT_REPORT_PAGE_LIMIT,
  MAX_REPORT_PAGE_LIMIT,
  type IncidentReportPage,
  type NdjsonReportHeader,
  type NdjsonReportTrailer,
} from './render/report-stream';
export {
  writeReportBundle,
  reportBundleLayout,
  BUNDLE_FILES,
  type ReportBundleLayout,
} from './render/report-bundle';
export { renderHtml, DETAIL_LIMIT, type RenderHtmlOptions } from './render/render-html';
export {
  ViewColumns,
  VIEW_COLUMNS_DIR,
  type CatchUpResult,
  type CatchUpOptions,
  type ColumnsView,
} from './view-columns/view-columns';
