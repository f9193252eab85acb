import type { MessagePort } from 'node:worker_threads';
import {
  loadExportSigner,
  trailPieces,
  type ExportFormat,
  type TrailFilter,
  type TrailPiece,
} from '@ledger/audit-trail';
import type { LedgerConfig } from '@ledger/config';
import { DomainError, InvalidInputError } from '@ledger/domain';
import { EventStoreError, openEventStore, type EventStore } from '@ledger/event-store';
import type { IncidentReport, ReplayRequest } from '@ledger/replay';
import {
  replayAnswerBytes,
  runRebuild,
  runReplay,
  viewColumnsFor,
  type ExportCut,
  type RebuildSummary,
} from './audit-work';
import { yieldToTheServiceThread } from '../background-thread';
import { replayHeader, type ReplayAnswerShape, type ReplayHeader } from './replay-answer';

/** One job per worker: the worker opens its own store handle, does it, closes the handle and ends. */
export type AuditJob =
  | { readonly kind: 'replay'; readonly request: ReplayRequest }
  | { readonly kind: 'replay-answer'; readonly request: ReplayRequest; readonly shape: ReplayAnswerShape }
  | {
      readonly kind: 'trail';
      readonly filter: TrailFilter;
      readonly format: ExportFormat;
      readonly cutAt?: ExportCut;
    }
  | { readonly kind: 'rebuild' };

export interface AuditWorkerData {
  /** Which store to open (and, for exports, the signing key): the service's own configuration. */
  readonly config: LedgerConfig;
  readonly job: AuditJob;
}

/** What crosses the thread boundary when a job fails: enough to raise the same kind of error again. */
export interface SerializedFailure {
  readonly name: string;
  readonly message: string;
  readonly category: 'invalid' | 'store' | 'other';
  readonly field?: string;
}

export type WorkerToMain =
  | { readonly kind: 'progress'; readonly events: number }
  | { readonly kind: 'replayed'; readonly report: IncidentReport }
  | { readonly kind: 'answer-header'; readonly header: ReplayHeader }
  /** Its `bytes.buffer` is transferred, not copied: the service's thread takes it over as it is. */
  | { readonly kind: 'answer-piece'; readonly bytes: Uint8Array }
  | { readonly kind: 'rebuilt'; readonly result: RebuildSummary }
  | { readonly kind: 'piece'; readonly piece: TrailPiece }
  | { readonly kind: 'end' }
  | { readonly kind: 'failed'; readonly failure: SerializedFailure };

/**
 * Export pieces and answer pieces are pulled one at a time, so a slow reader holds back the worker instead of
 * filling memory.
 */
export type MainToWorker = { readonly kind: 'next' };

export function serializeFailure(error: unknown): SerializedFailure {
  if (error instanceof InvalidInputError) {
    return {
      name: error.name,
      message: error.message.slice(error.field.length + 1),
      category: 'invalid',
      field: error.field,
    };
  }
  if (error instanceof EventStoreError)
    return { name: error.name, message: error.message, category: 'store' };
  if (error instanceof DomainError) return { name: error.name, message: error.message, category: 'other' };
  return {
    name: error instanceof Error ? error.name : 'Error',
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    category: 'other',
  };
}

/**
 * The nice value an audit worker thread gives itself. Replays, exports and rebuilds are background work: when
 * the cores are all busy, the thread that answers checks and authorizations should get the CPU first, and the
 * audit work whatever is left (at 10, about a tenth of a core it competes for). Nothing is refused or queued
 * for it; a replay only takes longer on a saturated machine.
 */
export const AUDIT_WORKER_NICENESS = 10;

/** The worker side: runs `data.job` and reports through `port`. */
export async function serveAuditJob(port: MessagePort, data: AuditWorkerData): Promise<void> {
  yieldToTheServiceThread(AUDIT_WORKER_NICENESS);
  const post = (message: WorkerToMain): void => port.postMessage(message);
  let store: EventStore | null = null;
  try {
    store = await openEventStore(data.config);
    const job = data.job;
    switch (job.kind) {
      case 'replay': {
        const report = await runReplay(
          store,
          job.request,
          (events) => post({ kind: 'progress', events }),
          viewColumnsFor(data.config),
        );
        post({ kind: 'replayed', report });
        break;
      }
      case 'replay-answer': {
        const report = await runReplay(
          store,
          job.request,
          (events) => post({ kind: 'progress', events }),
          viewColumnsFor(data.config),
        );
        // The log is read: the handle is not kept open for as long as a slow client takes.
        const reading = store;
        store = null;
        await reading.close();
        post({ kind: 'answer-header', header: replayHeader(report) });
        for (const bytes of replayAnswerBytes(report, job.shape)) {
          await nextRequest(port);
          const piece: WorkerToMain = { kind: 'answer-piece', bytes };
          // TextEncoder gives each piece an ArrayBuffer of its own, never a shared one.
          port.postMessage(piece, [bytes.buffer as ArrayBuffer]);
        }
        await nextRequest(port);
        post({ kind: 'end' });
        break;
      }
      case 'rebuild': {
        const result = await runRebuild(store, (events) => post({ kind: 'progress', events }));
        post({ kind: 'rebuilt', result });
        break;
      }
      case 'trail': {
        const signer = loadExportSigner(data.config);
        const pieces = trailPieces(
          store,
          job.filter,
          job.format,
          signer,
          job.cutAt ? { cutAt: job.cutAt } : {},
        );
        for (;;) {
          await nextRequest(port);
          const next = await pieces.next();
          if (next.done) {
            post({ kind: 'end' });
            break;
          }
          post({ kind: 'piece', piece: next.value });
        }
        break;
      }
      default: {
        const unreachable: never = job;
        throw new TypeError(`unknown audit job ${JSON.stringify(unreachable)}`);
      }
    }
  } catch (error) {
    post({ kind: 'failed', failure: serializeFailure(error) });
  } finally {
    // The worker ends by itself once the handle is closed: nothing else keeps its event loop alive.
    await store?.close().catch(() => undefined);
  }
}

function nextRequest(port: MessagePort): Promise<void> {
  return new Promise((resolve) => port.once('message', (_message: MainToWorker) => resolve()));
}
