import { parentPort, workerData } from 'node:worker_threads';
import { driveLoad, type LoadOutcome, type LoadPhase, type LoadRequest } from './load-driver';

/** Messages the load worker posts to the thread that started it. */
export type LoadWorkerMessage =
  | { readonly kind: 'progress'; readonly phase: LoadPhase; readonly done: number; readonly total: number }
  | { readonly kind: 'done'; readonly outcome: LoadOutcome }
  | { readonly kind: 'failed'; readonly message: string };

const port = parentPort;
if (port !== null) {
  const post = (message: LoadWorkerMessage): void => port.postMessage(message);
  driveLoad(workerData as LoadRequest, (phase, done, total) =>
    post({ kind: 'progress', phase, done, total }),
  ).then(
    (outcome) => post({ kind: 'done', outcome }),
    (error: unknown) =>
      post({
        kind: 'failed',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  );
}
