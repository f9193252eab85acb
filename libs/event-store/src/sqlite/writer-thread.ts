import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../errors';
import { writtenResult, type GroupCommitOutcome, type GroupMember } from './group-committer';
import {
  fromWireError,
  type FromWriter,
  type ToWriter,
  type WriterThreadData,
} from './writer-thread.protocol';

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
 * reports the transaction committed, which with `synchronous=FULL` means after the fsync. The thread commits
 * groups one after another in the order they were posted and answers each as it commits it, except a small
 * group posted with `mayGoFirst` (every request of it may be committed before those posted ahead of it): the
 * thread commits that one as soon as it sees it, between the slices of a big group's preparation, or by
 * rolling back the big group's transaction between slices of its inserts and writing it again after (a bounded
 * number of times, `GroupCommitter.commit`), so an authorization waits for at most a slice of a 1000-view
 * group, or its commit, not all of it (see `SqliteEventStore.flush`). Answers name their group (`seq`).
 */
export class WriterThread {
  private readonly worker: Worker;
  /** Groups posted and not yet answered, oldest first: the thread answers them in this order. */
  private readonly inFlight = new Map<
    number,
    { batch: readonly GroupMember[]; resolve: (outcome: GroupCommitOutcome) => void }
  >();
  private nextSeq = 0;
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

  /** Groups posted and not yet answered. */
  get groupsInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * Commits one group on the thread, after the groups already posted; each member's outcome is recorded on the
   * member, as inline.
   */
  commit(batch: readonly GroupMember[], mayGoFirst = false): Promise<GroupCommitOutcome> {
    if (this.failure !== null) return Promise.resolve({ ok: false, error: this.failure });
    return new Promise<GroupCommitOutcome>((resolve) => {
      const seq = this.nextSeq++;
      this.inFlight.set(seq, { batch, resolve });
      this.worker.ref();
      const message: ToWriter = {
        kind: 'commit',
        seq,
        mayGoFirst,
        batch: batch.map(({ stream, expected, ids, types, data, metadata, unchecked }) => ({
          stream,
          expected,
          ids,
          types,
          data,
          metadata,
          unchecked,
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
        this.settle(message.seq, {
          ok: false,
          error: fromWireError(message.error) as StoreUnavailableError,
        });
        return;
      case 'committed': {
        const batch = this.inFlight.get(message.seq)?.batch ?? [];
        for (let i = 0; i < batch.length; i++) {
          const wire = message.outcomes[i];
          const member = batch[i];
          member.firstPosition = wire.firstPosition;
          member.firstRevision = wire.firstRevision;
          member.outcome =
            wire.error !== undefined
              ? fromWireError(wire.error)
              : (wire.result ??
                writtenResult(
                  wire.firstPosition,
                  member.ids.length,
                  wire.firstRevision + member.ids.length - 1,
                ));
        }
        this.settle(message.seq, { ok: true, groupStart: message.groupStart, head: message.head });
        return;
      }
      default: {
        const unknown: never = message;
        throw new Error(`unexpected message from the writer thread: ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Answers a group in flight. */
  private settle(seq: number, outcome: GroupCommitOutcome): void {
    const group = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    if (this.inFlight.size === 0 && this.closing === null) this.worker.unref();
    group?.resolve(outcome);
  }

  /** A dead thread fails the groups in flight and every later one: nothing it did not confirm is acknowledged. */
  private fail(reason: string): void {
    this.failure ??= new StoreUnavailableError(`appending failed: ${reason}`);
    const error = this.failure;
    for (const seq of [...this.inFlight.keys()]) this.settle(seq, { ok: false, error });
  }
}
