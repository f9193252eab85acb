import * as path from 'node:path';
import { Worker, type MessagePort } from 'node:worker_threads';
import { timeOrderedIds, yieldToTheServiceThread } from '@ledger/application';
import { prepareViewBatch, type BuiltViewBatch } from './view-batch-preparation';

/** A body to build, with the receipt time the ledger's clock gave it. */
export interface BatchToBuild {
  readonly id: number;
  readonly now: number;
  readonly body: Uint8Array;
}

/** The answer: the batch built, or the body handed back (transferred) for the loop's own path. */
export type BatchBuilt =
  | { readonly id: number; readonly built: BuiltViewBatch }
  | { readonly id: number; readonly built: null; readonly body: Uint8Array };

/** What the thread sends: answers, and once, when its code is loaded, that it is ready to build. */
export type FromViewBatchThread = BatchBuilt | typeof VIEW_BATCH_THREAD_READY;

/** Sent once the thread's code is loaded: from then on, each batch's time is the build's alone. */
export const VIEW_BATCH_THREAD_READY = 'ready';

/**
 * The worker's loop: each body is answered, in order, with its batch or with the body itself. Ids are
 * `timeOrderedIds`, the service's ids for writes without an Idempotency-Key (the only ones sent here). An
 * unexpected failure hands the body back too: the loop's path then meets it again and answers as it always did.
 */
export function serveViewBatches(port: Pick<MessagePort, 'on' | 'postMessage'>): void {
  yieldToTheServiceThread(VIEW_BATCH_WORKER_NICENESS);
  const nextId = () => timeOrderedIds.eventId();
  port.on('message', ({ id, now, body }: BatchToBuild) => {
    let built: BuiltViewBatch | null = null;
    try {
      built = prepareViewBatch(body, now, nextId);
    } catch {
      built = null;
    }
    if (built !== null) port.postMessage({ id, built } satisfies BatchBuilt);
    else port.postMessage({ id, built, body } satisfies BatchBuilt, transferable(body));
  });
  port.postMessage(VIEW_BATCH_THREAD_READY);
}

/** The body's memory, when the view spans all of it: it moves between threads instead of being copied. */
export function transferable(body: Uint8Array): ArrayBuffer[] {
  const memory = body.buffer;
  return memory instanceof ArrayBuffer && body.byteOffset === 0 && body.byteLength === memory.byteLength
    ? [memory]
    : [];
}

/**
 * The nice value the view batch thread gives itself: when the cores are all busy, the service's thread (checks,
 * authorizations) and the store's writer thread (their commits) get the CPU first, and building batches what
 * is left. Bulk ingest then slows on a saturated machine instead of the verification layer. The lowest
 * priority there is: at 10, flat-out ingest on two cores still kept the writer thread waiting for a core for
 * up to 20 ms at a time in the middle of a group (`/proc/thread-self/schedstat`), authorizations' commits
 * behind it.
 */
export const VIEW_BATCH_WORKER_NICENESS = 19;

/** Lets the worker load the TypeScript sources when the service itself runs from them (tests, `-r register-ts`). */
const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'register-ts.js');

/** Starts the worker beside this file: the compiled entry under dist, or the `.ts` one through swc. */
export function startViewBatchThread(): Worker {
  const compiled = path.extname(__filename) === '.js';
  const entry = path.join(__dirname, compiled ? 'view-batch.worker.js' : 'view-batch.worker.ts');
  return compiled
    ? new Worker(entry)
    : new Worker(`require(${JSON.stringify(REGISTER_TS)});\nrequire(${JSON.stringify(entry)});`, {
        eval: true,
      });
}
