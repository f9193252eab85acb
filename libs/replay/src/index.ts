export * from './incident-report';
export { canonicalJson } from '@ledger/domain';
export { validateReplayRequest, normalizedRequest, MAX_REPLAY_IDS, type ReplayQuery } from './replay-request';
export { replayIncident, reportDigest, summarize, DEFAULT_REPLAY_PAGE_SIZE } from './replay-incident';
export { recordReplay, type RecordReplayOptions, type RecordedReplay } from './record-replay';
export { renderReport, isReportFormat, REPORT_FORMATS, type ReportFormat } from './render/render-report';
export { headline } from './render/figures';
