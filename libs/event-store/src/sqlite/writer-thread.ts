import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../errors';
import type { GroupCommitOutcome, GroupMember } from './group-committer';
import { fromWireError, type FromWriter, type ToWriter, type WriterThreadData } from './writer-thread.protocol';

/** Lets the worker load the TypeScript sources when the store itself runs from them (tests, `-r register-ts`). */
const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'register-ts.js');

function startWorker(data: WriterThreadData): Worker {
  const compiled = path.extname(__filename) === '.js';
  const entry = path.join(__dirname, compiled ? 'writer.worker.js' : 'writer.worker.ts');
  return compiled
    ? new Worker(entry, { workerData: data })
    : new Worker(`require(${JSON.stringify(REGISTER_TS)});\nrequire(${JSON.stringify(entry)});`, {
        eval: true,
        workerData: data,
      });
}

/**
 * The store's side of its writer thread. A 1000-row group commit is tens of milliseconds of inserts and an
 * fsync; on the event loop, every request (a check, an authorization) waited behind it. Here the commit runs
 * on the thread's own connection while the loop keeps serving; the caller is answered only once the thread
 * reports the transaction committed, which with `synchronous=FULL` means after the fsync. One group is in
 * flight at a time, so positions and the order of acknowledgements stay those of the queue.
 */
export class WriterThread {
  private readonly worker: Worker;
  private inFlight: { batch: readonly GroupMember[]; resolve: (outcome: GroupCommitOutcome) => void } | null =
    null;
  private closing: (() => void) | null = null;
  private failure: StoreUnavailableError | null = null;

  constructor(data: WriterThreadData) {
    this.worker = startWorker(data);
    // An idle writer thread must not keep the process alive (a store nobody closed); a group in flight does.
    this.worker.unref();
    this.worker.on('message', (message: FromWriter) => this.receive(message));
    this.worker.on('error', (error) => this.fail(`the writer thread failed: ${error.message}`));
    this.worker.on('exit', (code) => {
      this.fail(`the writer thread exited (code ${code})`);
      this.closing?.();
    });
  }

  get busy(): boolean {
    return this.inFlight !== null;
  }

  /** Commits one group on the thread; each member's outcome is recorded on the member, as inline. */
  commit(batch: readonly GroupMember[]): Promise<GroupCommitOutcome> {
    if (this.inFlight !== null) throw new Error('a group commit is already in flight on the writer thread');
    if (this.failure !== null) return Promise.resolve({ ok: false, error: this.failure });
    return new Promise<GroupCommitOutcome>((resolve) => {
      this.inFlight = { batch, resolve };
      this.worker.ref();
      const message: ToWriter = {
        kind: 'commit',
        batch: batch.map(({ stream, expected, ids, types, data, metadata }) => ({
          stream,
          expected,
          ids,
          types,
          data,
          metadata,
        })),
      };
      this.worker.postMessage(message);
    });
  }

  /** Closes the thread's connection (after the group in flight, which the store awaits first). */
  close(): Promise<void> {
    if (this.failure !== null) return this.worker.terminate().then(() => undefined);
    return new Promise<void>((resolve) => {
      this.closing = resolve;
      this.worker.ref();
      this.worker.postMessage({ kind: 'close' } satisfies ToWriter);
    });
  }

  private receive(message: FromWriter): void {
    switch (message.kind) {
      case 'ready':
        return;
      case 'closed':
        void this.worker.terminate();
        return;
      case 'failed':
        this.settle({ ok: false, error: fromWireError(message.error) as StoreUnavailableError });
        return;
      case 'committed': {
        const batch = this.inFlight?.batch ?? [];
        for (let i = 0; i < batch.length; i++) {
          const wire = message.outcomes[i];
          const member = batch[i];
          member.firstPosition = wire.firstPosition;
          member.firstRevision = wire.firstRevision;
          member.outcome = wire.error === undefined ? wire.result : fromWireError(wire.error);
        }
        this.settle({ ok: true, groupStart: message.groupStart, head: message.head });
        return;
      }
      default: {
        const unknown: never = message;
        throw new Error(`unexpected message from the writer thread: ${JSON.stringify(unknown)}`);
      }
    }
  }

  private settle(outcome: GroupCommitOutcome): void {
    const inFlight = this.inFlight;
    this.inFlight = null;
    if (this.closing === null) this.worker.unref();
    inFlight?.resolve(outcome);
  }

  /** A dead thread fails the group in flight and every later one: nothing it did not confirm is acknowledged. */
  private fail(reason: string): void {
    this.failure ??= new StoreUnavailableError(`appending failed: ${reason}`);
    this.settle({ ok: false, error: this.failure });
  }
}
