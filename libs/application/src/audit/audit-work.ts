import {
  trailPieces,
  type ExportFormat,
  type ExportSigner,
  type TrailFilter,
  type TrailPiece,
} from '@ledger/audit-trail';
import type { ExportOptions } from '@ledger/audit-trail';

/** Where an export is cut: a signed tree head and the position of its last leaf. */
export type ExportCut = NonNullable<ExportOptions['cutAt']>;
import type { EventStore } from '@ledger/event-store';
import { rebuildFromLog } from '@ledger/projections';
import type { LedgerConfig } from '@ledger/config';
import {
  replayIncident,
  ViewColumns,
  type IncidentReport,
  type ReplayPhase,
  type ReplayRequest,
} from '@ledger/replay';
import { openReplayAnswer, replayHeader, type ReplayAnswerShape, type ReplayHeader } from './replay-answer';

export interface ReplayWorkResult {
  readonly header: ReplayHeader;
  /** The report itself, for the `report` shape only. */
  readonly report: IncidentReport | null;
  /** The answer text left open for its record (`openReplayAnswer`), for every other shape. */
  readonly openAnswer: string | null;
}

/** What a rebuild of the relationship projection from position zero found. */
export interface RebuildSummary {
  readonly digest: string;
  readonly token: string;
  readonly events: number;
  readonly devices: number;
  readonly relationships: number;
  readonly durationMs: number;
}

export type ReplayProgress = (readEvents: number, phase: ReplayPhase) => void;

/**
 * The heavy part of each audit use case: reads only, never an append (the audit service records on its own
 * store). One implementation runs it in the calling thread (the CLI, which has nothing else to serve), one in
 * a worker thread with its own store handle (the HTTP service, whose thread answers checks).
 */
export interface AuditWork {
  replay(
    request: ReplayRequest,
    shape: ReplayAnswerShape,
    onProgress?: ReplayProgress,
  ): Promise<ReplayWorkResult>;
  /** The export in pieces; the manifest is always the last piece. `return()` stops the work early. */
  /** `cutAt`: the signed tree head the export is cut at (read up to it, carried in the manifest). */
  trail(
    filter: TrailFilter,
    format: ExportFormat,
    cutAt?: ExportCut,
  ): AsyncGenerator<TrailPiece, void, undefined>;
  rebuild(onProgress?: (events: number) => void): Promise<RebuildSummary>;
}

/**
 * The replay's views projection of the embedded store's data dir; none on EventStoreDB, where the replay reads
 * the log itself.
 */
export function viewColumnsFor(config: LedgerConfig): ViewColumns | undefined {
  return config.eventStoreConnectionString === null ? new ViewColumns(config.dataDir) : undefined;
}

export async function runReplay(
  store: EventStore,
  request: ReplayRequest,
  shape: ReplayAnswerShape,
  onProgress?: ReplayProgress,
  columns?: ViewColumns,
): Promise<ReplayWorkResult> {
  const report = await replayIncident(store, request, {
    onProgress: onProgress ? (read, _total, phase) => onProgress(read, phase) : undefined,
    ...(columns ? { columns } : {}),
  });
  return shape.kind === 'report'
    ? { header: replayHeader(report), report, openAnswer: null }
    : { header: replayHeader(report), report: null, openAnswer: openReplayAnswer(report, shape) };
}

export async function runRebuild(
  store: EventStore,
  onProgress?: (events: number) => void,
): Promise<RebuildSummary> {
  const started = Date.now();
  const result = await rebuildFromLog(store, { onProgress });
  return {
    digest: result.digest,
    token: result.token,
    events: result.events,
    devices: result.devices,
    relationships: result.relationships,
    durationMs: Date.now() - started,
  };
}

/** The work on the caller's own store, in the caller's thread. */
export class InlineAuditWork implements AuditWork {
  /** `columns`: the data dir's views projection, caught up and read by each replay (embedded store only). */
  constructor(
    private readonly store: EventStore,
    private readonly signer: ExportSigner,
    private readonly columns?: ViewColumns,
  ) {}

  replay(
    request: ReplayRequest,
    shape: ReplayAnswerShape,
    onProgress?: ReplayProgress,
  ): Promise<ReplayWorkResult> {
    return runReplay(this.store, request, shape, onProgress, this.columns);
  }

  trail(
    filter: TrailFilter,
    format: ExportFormat,
    cutAt?: ExportCut,
  ): AsyncGenerator<TrailPiece, void, undefined> {
    return trailPieces(this.store, filter, format, this.signer, cutAt ? { cutAt } : {});
  }

  rebuild(onProgress?: (events: number) => void): Promise<RebuildSummary> {
    return runRebuild(this.store, onProgress);
  }
}
