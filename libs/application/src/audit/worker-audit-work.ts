import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ExportFormat, TrailFilter, TrailPiece } from '@ledger/audit-trail';
import type { LedgerConfig } from '@ledger/config';
import { InvalidInputError } from '@ledger/domain';
import { StoreUnavailableError } from '@ledger/event-store';
import type { IncidentReport, ReplayRequest } from '@ledger/replay';
import type { AuditWork, ExportCut, RebuildSummary, ReplayAnswerPieces, ReplayProgress } from './audit-work';
import type {
  AuditJob,
  AuditWorkerData,
  MainToWorker,
  SerializedFailure,
  WorkerToMain,
} from './audit-worker-job';
import type { ReplayAnswerShape, ReplayHeader } from './replay-answer';

/** Lets a worker load the TypeScript sources when the service itself runs from them (tests, `-r register-ts`). */
const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'register-ts.js');

/**
 * Starts the audit worker beside this file: the compiled `audit.worker.js` under dist, or — when this module
 * was itself loaded from TypeScript — the `.ts` entry through the same swc hook the test children use.
 */
export function startAuditWorker(data: AuditWorkerData): Worker {
  const compiled = path.extname(__filename) === '.js';
  const entry = path.join(__dirname, compiled ? 'audit.worker.js' : 'audit.worker.ts');
  return compiled
    ? new Worker(entry, { workerData: data })
    : new Worker(`require(${JSON.stringify(REGISTER_TS)});\nrequire(${JSON.stringify(entry)});`, {
        eval: true,
        workerData: data,
      });
}

export function failureToError(failure: SerializedFailure): Error {
  if (failure.category === 'invalid' && failure.field !== undefined) {
    return new InvalidInputError(failure.field, failure.message);
  }
  if (failure.category === 'store') return new StoreUnavailableError(failure.message);
  return new Error(`audit worker failed: ${failure.message}`);
}

/** Messages of one worker, awaited one at a time; an error or an early exit fails the next await. */
class WorkerInbox {
  private readonly queued: WorkerToMain[] = [];
  private waiter: { resolve: (m: WorkerToMain) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(worker: Worker) {
    worker.on('message', (message: WorkerToMain) => {
      if (this.waiter) {
        const { resolve } = this.waiter;
        this.waiter = null;
        resolve(message);
      } else this.queued.push(message);
    });
    const fail = (error: Error): void => {
      this.failure ??= error;
      if (this.waiter) {
        const { reject } = this.waiter;
        this.waiter = null;
        reject(this.failure);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the audit worker exited (code ${code}) before it answered`)));
  }

  next(): Promise<WorkerToMain> {
    const message = this.queued.shift();
    if (message) return Promise.resolve(message);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

/** A replay answer still on its worker: each piece is asked for, then taken over (transferred, not copied). */
class WorkerAnswerPieces implements ReplayAnswerPieces {
  private closed = false;

  constructor(
    private readonly worker: Worker,
    private readonly inbox: WorkerInbox,
    readonly header: ReplayHeader,
  ) {}

  async next(): Promise<Uint8Array | null> {
    if (this.closed) throw new Error('the replay answer was closed: its worker has ended');
    const next: MainToWorker = { kind: 'next' };
    this.worker.postMessage(next);
    const message = await this.inbox.next();
    if (message.kind === 'answer-piece') return message.bytes;
    if (message.kind === 'end') {
      this.close();
      return null;
    }
    this.close();
    if (message.kind === 'failed') throw failureToError(message.failure);
    throw new Error(`audit worker answered ${message.kind} while handing over a replay answer`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.worker.terminate();
  }
}

/** Each job on a worker thread of its own, which opens its own handle to the store the service uses. */
export class WorkerAuditWork implements AuditWork {
  constructor(private readonly config: LedgerConfig) {}

  async replay(request: ReplayRequest, onProgress?: ReplayProgress): Promise<IncidentReport> {
    const message = await this.run({ kind: 'replay', request }, (events) => onProgress?.(events, 'views'));
    if (message.kind !== 'replayed') throw new Error(`audit worker answered ${message.kind} to a replay`);
    return message.report;
  }

  async replayAnswer(
    request: ReplayRequest,
    shape: ReplayAnswerShape,
    onProgress?: ReplayProgress,
  ): Promise<ReplayAnswerPieces> {
    const worker = startAuditWorker({ config: this.config, job: { kind: 'replay-answer', request, shape } });
    const inbox = new WorkerInbox(worker);
    try {
      for (;;) {
        const message = await inbox.next();
        if (message.kind === 'progress') onProgress?.(message.events, 'views');
        else if (message.kind === 'failed') throw failureToError(message.failure);
        else if (message.kind === 'answer-header')
          return new WorkerAnswerPieces(worker, inbox, message.header);
        else throw new Error(`audit worker answered ${message.kind} to a replay`);
      }
    } catch (error) {
      void worker.terminate();
      throw error;
    }
  }

  async rebuild(onProgress?: (events: number) => void): Promise<RebuildSummary> {
    const message = await this.run({ kind: 'rebuild' }, onProgress);
    if (message.kind !== 'rebuilt') throw new Error(`audit worker answered ${message.kind} to a rebuild`);
    return message.result;
  }

  async *trail(
    filter: TrailFilter,
    format: ExportFormat,
    cutAt?: ExportCut,
  ): AsyncGenerator<TrailPiece, void, undefined> {
    const worker = startAuditWorker({
      config: this.config,
      job: { kind: 'trail', filter, format, ...(cutAt ? { cutAt } : {}) },
    });
    const inbox = new WorkerInbox(worker);
    const next: MainToWorker = { kind: 'next' };
    try {
      for (;;) {
        worker.postMessage(next);
        const message = await inbox.next();
        if (message.kind === 'piece') yield message.piece;
        else if (message.kind === 'end') return;
        else if (message.kind === 'failed') throw failureToError(message.failure);
      }
    } finally {
      // Stopped early (client gone, record failed): the worker's reads end with it.
      void worker.terminate();
    }
  }

  private async run(job: AuditJob, onProgress?: (events: number) => void): Promise<WorkerToMain> {
    const worker = startAuditWorker({ config: this.config, job });
    const inbox = new WorkerInbox(worker);
    try {
      for (;;) {
        const message = await inbox.next();
        if (message.kind === 'progress') onProgress?.(message.events);
        else if (message.kind === 'failed') throw failureToError(message.failure);
        else return message;
      }
    } finally {
      void worker.terminate();
    }
  }
}
