import {
  normalizeTrailFilter,
  recordExport,
  type ExportFormat,
  type ExportSigner,
  type ExportSummary,
  type TrailFilter,
} from '@ledger/audit-trail';
import type { EventStore } from '@ledger/event-store';
import { positionToToken } from '@ledger/event-store';
import {
  normalizedRequest,
  recordReplay,
  validateReplayRequest,
  type IncidentReport,
  type ReplayRequest,
} from '@ledger/replay';
import type { AuditWork, ExportCut, RebuildSummary, ReplayAnswerPieces, ReplayProgress } from './audit-work';
import { HeavyWorkGate, type HeavyWorkKind } from './heavy-work-gate';
import {
  replayAnswerClosing,
  type RecordedReplayRef,
  type ReplayAnswerShape,
  type ReplayHeader,
} from './replay-answer';

/**
 * A replay on the record whose answer is still to be sent: iterate it for the answer's UTF-8 bytes in the
 * shape asked for, ending with the replay's own record. It holds its replay slot (and its worker) until the
 * iteration ends or `close` is called, which the caller must do if it does not iterate to the end.
 */
export class ReplayAnswer implements AsyncIterable<Uint8Array> {
  private closed = false;

  constructor(
    private readonly pieces: ReplayAnswerPieces,
    private readonly shape: ReplayAnswerShape,
    readonly recorded: RecordedReplayRef,
    private readonly release: () => void,
  ) {}

  get header(): ReplayHeader {
    return this.pieces.header;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for (;;) {
        if (this.closed) throw new Error('the replay answer was closed before it was all sent');
        const piece = await this.pieces.next();
        if (piece === null) break;
        yield piece;
      }
    } finally {
      this.close();
    }
    // All handed over, the worker done and the slot free: only the closing, known here, is left to send.
    yield Buffer.from(replayAnswerClosing(this.shape, this.recorded));
  }

  /** The whole answer as one string: for small answers (tests); a service streams the iteration instead. */
  async text(): Promise<string> {
    const pieces: Uint8Array[] = [];
    for await (const piece of this) pieces.push(piece);
    return Buffer.concat(pieces).toString('utf8');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pieces.close();
    this.release();
  }
}

export interface RecordedIncidentReport {
  readonly report: IncidentReport;
  readonly recorded: RecordedReplayRef;
}

/** Where an export's text goes; awaited, so a slow reader slows the export down instead of filling memory. */
export type ExportSink = (chunk: string) => Promise<void> | void;

export interface RecordedExport {
  readonly summary: ExportSummary;
  /** Token of the `AuditTrailExported` event. */
  readonly token: string;
}

/**
 * The export is complete and signed, but it could not be put on the record, so its manifest was withheld:
 * what the client holds is a truncated export that `ledger verify` refuses.
 */
export class ExportNotRecordedError extends Error {
  constructor(override readonly cause: unknown) {
    super(
      `the export could not be recorded (${cause instanceof Error ? cause.message : String(cause)}); ` +
        'its signed manifest was withheld, so this export is incomplete and will not verify',
    );
    this.name = 'ExportNotRecordedError';
  }
}

/**
 * The audit use cases of contract §4 and §5, for the HTTP service and the CLI alike: replay then record
 * `IncidentReplayed`, export then record `AuditTrailExported` (before the manifest that makes the export
 * verifiable is released), and rebuilds. The heavy reading is `work`'s (in this thread or in workers), the
 * records are appended here, on the caller's store; `gate` bounds how much runs at once.
 */
export class AuditService {
  constructor(
    private readonly store: EventStore,
    readonly signer: ExportSigner,
    private readonly work: AuditWork,
    private readonly gate: HeavyWorkGate = new HeavyWorkGate(),
  ) {}

  /**
   * A replay in one of the HTTP answer shapes, on the record before any of it is answered. The answer stays
   * where it was rendered (the worker) and is handed over piece by piece as the caller iterates it.
   */
  async replayAnswer(request: ReplayRequest, shape: ReplayAnswerShape, actor: string): Promise<ReplayAnswer> {
    const normalized = normalizedRequest(validateReplayRequest(request));
    const release = this.gate.enter('replay');
    let pieces: ReplayAnswerPieces | null = null;
    try {
      pieces = await this.work.replayAnswer(normalized, shape);
      const recorded = await recordReplay(this.store, pieces.header, actor, normalized);
      return new ReplayAnswer(pieces, shape, recorded, release);
    } catch (error) {
      pieces?.close();
      release();
      throw error;
    }
  }

  /** A replay as a report object (the CLI renders it itself), on the record before it is returned. */
  async replay(
    request: ReplayRequest,
    actor: string,
    onProgress?: ReplayProgress,
  ): Promise<RecordedIncidentReport> {
    const normalized = normalizedRequest(validateReplayRequest(request));
    const report = await this.guarded('replay', () => this.work.replay(normalized, onProgress));
    const recorded = await recordReplay(this.store, report, actor, normalized);
    return { report, recorded };
  }

  /**
   * Checks an export request (InvalidInputError naming the field) and takes its slot, before anything is
   * sent: the caller can still answer 400 or 429 cleanly, then `run` streams it.
   */
  beginExport(filter: TrailFilter, format: ExportFormat, actor: string, cutAt?: ExportCut): PreparedExport {
    const { filter: normalized } = normalizeTrailFilter(filter);
    const release = this.gate.enter('export');
    return new PreparedExport(this.store, this.work, normalized, format, actor, release, cutAt);
  }

  /** `beginExport` then `run`, for callers with nothing to answer in between (the CLI). */
  exportTrail(
    filter: TrailFilter,
    format: ExportFormat,
    actor: string,
    sink: ExportSink,
  ): Promise<RecordedExport> {
    return this.beginExport(filter, format, actor).run(sink);
  }

  rebuild(onProgress?: (events: number) => void): Promise<RebuildSummary> {
    return this.guarded('rebuild', () => this.work.rebuild(onProgress));
  }

  private async guarded<T>(kind: HeavyWorkKind, run: () => Promise<T>): Promise<T> {
    const release = this.gate.enter(kind);
    try {
      return await run();
    } finally {
      release();
    }
  }
}

/** An export whose request was accepted and whose slot is held until `run` ends (or `cancel`). */
export class PreparedExport {
  private started = false;

  constructor(
    private readonly store: EventStore,
    private readonly work: AuditWork,
    readonly filter: TrailFilter,
    readonly format: ExportFormat,
    private readonly actor: string,
    private readonly release: () => void,
    /** The signed tree head the export is cut at, when the service keeps one (the manifest carries it). */
    private readonly cutAt?: ExportCut,
  ) {}

  /**
   * Streams the records to `sink`, then appends `AuditTrailExported`, and only then hands out the signed
   * manifest (the last line): a client never holds a verifiable export the ledger has no record of. When
   * the record fails, the manifest is withheld and `ExportNotRecordedError` is thrown.
   */
  async run(sink: ExportSink): Promise<RecordedExport> {
    if (this.started) throw new Error('an export runs once');
    this.started = true;
    const pieces = this.work.trail(this.filter, this.format, this.cutAt);
    try {
      for await (const piece of pieces) {
        if (piece.kind === 'records') {
          await sink(piece.text);
          continue;
        }
        let token: string;
        try {
          const appended = await recordExport(
            this.store,
            piece.summary,
            this.filter,
            this.format,
            this.actor,
          );
          token = positionToToken(appended.position);
        } catch (error) {
          throw new ExportNotRecordedError(error);
        }
        await sink(piece.text);
        return { summary: piece.summary, token };
      }
      throw new Error('the export ended without its manifest');
    } finally {
      await pieces.return(undefined);
      this.release();
    }
  }

  /** Gives the slot back without running (the client went away before the first byte). */
  cancel(): void {
    this.release();
  }
}
