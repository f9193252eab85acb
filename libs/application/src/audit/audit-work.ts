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
import { replayAnswerPieces, replayHeader, type ReplayAnswerShape, type ReplayHeader } from './replay-answer';

/**
 * A replay's answer being handed over: its header (what the record needs) at once, its text piece by piece,
 * as UTF-8 bytes, when asked for. The text is left open for the record (`replayAnswerClosing`).
 */
export interface ReplayAnswerPieces {
  readonly header: ReplayHeader;
  /** The next piece of the answer's text, or null once it is all handed over; fails once closed. */
  next(): Promise<Uint8Array | null>;
  /** Stops the work (a worker is ended); safe to call more than once, and after the last piece. */
  close(): void;
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
  /** The report object itself (the CLI renders it). */
  replay(request: ReplayRequest, onProgress?: ReplayProgress): Promise<IncidentReport>;
  /**
   * The report in one of the HTTP answer shapes, rendered where the report is, and handed over in pieces: the
   * thread that answers never holds (nor copies, nor encodes) the whole answer at once.
   */
  replayAnswer(
    request: ReplayRequest,
    shape: ReplayAnswerShape,
    onProgress?: ReplayProgress,
  ): Promise<ReplayAnswerPieces>;
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

export function runReplay(
  store: EventStore,
  request: ReplayRequest,
  onProgress?: ReplayProgress,
  columns?: ViewColumns,
): Promise<IncidentReport> {
  return replayIncident(store, request, {
    onProgress: onProgress ? (read, _total, phase) => onProgress(read, phase) : undefined,
    ...(columns ? { columns } : {}),
  });
}

/** The answer's pieces as UTF-8 bytes, each in an `ArrayBuffer` of its own (so it can be transferred). */
export function* replayAnswerBytes(report: IncidentReport, shape: ReplayAnswerShape): Generator<Uint8Array> {
  const encoder = new TextEncoder();
  for (const text of replayAnswerPieces(report, shape)) yield encoder.encode(text);
}

/** Pieces rendered on demand from a report in this thread. */
class InlineAnswerPieces implements ReplayAnswerPieces {
  readonly header: ReplayHeader;
  private closed = false;
  private readonly pieces: Generator<Uint8Array>;

  constructor(report: IncidentReport, shape: ReplayAnswerShape) {
    this.header = replayHeader(report);
    this.pieces = replayAnswerBytes(report, shape);
  }

  next(): Promise<Uint8Array | null> {
    if (this.closed) return Promise.reject(new Error('the replay answer was closed'));
    const next = this.pieces.next();
    return Promise.resolve(next.done ? null : next.value);
  }

  close(): void {
    this.closed = true;
    this.pieces.return(undefined);
  }
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

  replay(request: ReplayRequest, onProgress?: ReplayProgress): Promise<IncidentReport> {
    return runReplay(this.store, request, onProgress, this.columns);
  }

  async replayAnswer(
    request: ReplayRequest,
    shape: ReplayAnswerShape,
    onProgress?: ReplayProgress,
  ): Promise<ReplayAnswerPieces> {
    return new InlineAnswerPieces(await this.replay(request, onProgress), shape);
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
