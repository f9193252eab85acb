import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Worker } from 'node:worker_threads';
import type { OnModuleDestroy } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { LedgerCommands } from '@ledger/application';
import { DEFAULT_VIEW_BATCH_TIMEOUT_MS } from '@ledger/config';
import { PreparedViewBatch } from './view-batch-preparation';
import {
  startViewBatchThread,
  transferable,
  VIEW_BATCH_THREAD_READY,
  type BatchBuilt,
  type BatchToBuild,
  type FromViewBatchThread,
} from './view-batch-thread';

/** The batch's worker thread died before it answered: nothing of the batch was appended; retry. */
export class ViewBatchWorkerFailedError extends Error {
  constructor(reason: string) {
    super(`the view batch worker failed (${reason}); nothing was stored, retry`);
  }
}

const BATCH_ROUTE = '/v1/views/batch';

/**
 * The longest a new thread may take to load its code before its first batch's time starts (loading the
 * TypeScript sources through the test loader takes seconds on a busy machine): a thread that hangs while
 * starting is bounded too.
 */
const THREAD_START_MS = 30_000;

/**
 * Builds `POST /v1/views/batch` bodies on a worker thread. Parsing a 190 KiB body, scanning it for duplicate
 * keys, checking 1000 views against the DTO rules and building their events is ~13 ms of CPU per batch; on
 * the event loop each batch was a stretch no authorization could interrupt (authorize.http.during-ingest).
 * The loop now hands the raw bytes over with the receipt time from the ledger's clock and gets back the
 * events as JSON text, ids and times made as `recordViews` makes them; what is left on the loop is parsing
 * that text and the append. A body the worker does not accept whole comes back as it was and is parsed on
 * the loop like any other body, so every refusal keeps its status and message.
 *
 * One thread, started with the first batch, answering in order (the bulk-ingest gate builds one batch at a
 * time anyway), at a lower scheduling priority than the service's thread (`VIEW_BATCH_WORKER_NICENESS`): on
 * two busy cores, authorizations and their commits get the CPU before the next batch's build. If the thread
 * dies, the batches it held fail with `ViewBatchWorkerFailedError` (503, nothing stored) and the next batch
 * starts a new one. A thread that hangs instead (no answer to its oldest batch within `batchTimeoutMs`) is
 * treated the same way and terminated: a stuck build must not hold the route's gate, and the clients
 * waiting on it, forever.
 */
export class ViewBatchWorker implements OnModuleDestroy {
  private thread: Worker | null = null;
  private readonly waiting = new Map<
    number,
    { resolve: (answer: BatchBuilt) => void; reject: (error: Error) => void }
  >();
  private nextId = 0;
  /** Connections with view batches in progress (how many): a client half-closing one still gets its answer. */
  private readonly holding = new Map<Socket, number>();
  /** Fires when the thread's oldest batch has waited `batchTimeoutMs` for its answer. */
  private deadline: NodeJS.Timeout | null = null;
  /** The current thread has loaded its code: from then on the deadline is the batch timeout alone. */
  private threadReady = false;

  constructor(
    private readonly commands: LedgerCommands,
    private readonly startThread: () => Worker = startViewBatchThread,
    /** The longest one batch may take on the thread (`LEDGER_VIEW_BATCH_TIMEOUT_MS`). */
    private readonly batchTimeoutMs: number = DEFAULT_VIEW_BATCH_TIMEOUT_MS,
  ) {}

  /**
   * Whether this request's body goes to the worker: a view batch without an Idempotency-Key. With a key the
   * event ids derive from it and the remembered answer comes first: such a batch takes the loop's path.
   */
  takes(request: FastifyRequest): boolean {
    return (
      request.routeOptions.url === BATCH_ROUTE &&
      request.method === 'POST' &&
      request.headers['idempotency-key'] === undefined
    );
  }

  /**
   * The batch built from `body`, or the body back (the same bytes) when the worker did not accept it as it is.
   * The body's memory moves to the worker and back instead of being copied (0.07 against 0.47 ms for 190 KiB
   * here): after the call, use only what it returns.
   */
  async prepare(body: Buffer): Promise<PreparedViewBatch | Buffer> {
    const answer = await this.build(body);
    if (answer.built !== null) return new PreparedViewBatch(answer.built);
    const returned = answer.body;
    return Buffer.from(returned.buffer, returned.byteOffset, returned.byteLength);
  }

  /**
   * A client may half-close its side once its request is sent (HTTP/1.1 allows it). Node then ends the
   * connection at once, so only an answer made within the same turn of the loop reaches such a client: every
   * refusal did, until the refusals of a batch came a turn later, from the worker. Here a connection with a
   * view batch in progress stays open until its answer is written (Node's half-open handling ends it then);
   * every other one is ended on the client's FIN exactly as before, so a watch stream whose client left
   * still closes at once.
   */
  answerHalfClosedConnections(server: Server): void {
    // Node's HTTP server reads this flag on each client FIN (it is not in the typings): with it, a response in
    // progress is finished before the connection ends.
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    // From the request's first byte, not from the body parser: the FIN can arrive before the body is parsed.
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.method !== 'POST' || !request.url?.startsWith(BATCH_ROUTE)) return;
      const socket = request.socket;
      this.holding.set(socket, (this.holding.get(socket) ?? 0) + 1);
      response.once('close', () => {
        const left = (this.holding.get(socket) ?? 1) - 1;
        if (left > 0) this.holding.set(socket, left);
        else this.holding.delete(socket);
      });
    });
    server.on('connection', (socket: Socket) => {
      socket.on('end', () => {
        if (!this.holding.has(socket) && socket.writable) socket.end();
      });
    });
  }

  /** Ends the thread; batches it still holds fail, and a later batch starts a new one. */
  async onModuleDestroy(): Promise<void> {
    const thread = this.thread;
    if (thread === null) return;
    this.fail(thread, 'the service is stopping');
    await thread.terminate();
  }

  private build(body: Uint8Array): Promise<BatchBuilt> {
    const thread = this.thread ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) this.armDeadline(thread);
      thread.ref();
      const message: BatchToBuild = { id, now: this.commands.receiptTime(), body };
      thread.postMessage(message, transferable(body));
    });
  }

  private start(): Worker {
    const thread = this.startThread();
    this.thread = thread;
    this.threadReady = false;
    thread.unref();
    thread.on('message', (answer: FromViewBatchThread) => {
      if (answer === VIEW_BATCH_THREAD_READY) {
        if (this.thread !== thread) return;
        this.threadReady = true;
        this.armDeadline(thread);
        return;
      }
      const waiter = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      if (this.waiting.size === 0) thread.unref();
      // The thread answers in order: the next batch's time starts now.
      if (this.thread === thread) this.armDeadline(thread);
      waiter?.resolve(answer);
    });
    thread.on('error', (error) => this.fail(thread, error.message));
    thread.on('exit', (code) => this.fail(thread, `it exited with code ${code}`));
    return thread;
  }

  /** Gives the thread's oldest batch `batchTimeoutMs` to be answered; past it the thread is taken for hung. */
  private armDeadline(thread: Worker): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    if (this.waiting.size === 0) return;
    const started = this.threadReady;
    const limit = started ? this.batchTimeoutMs : Math.max(this.batchTimeoutMs, THREAD_START_MS);
    this.deadline = setTimeout(() => {
      this.deadline = null;
      this.fail(
        thread,
        started ? `it did not answer a batch within ${limit} ms` : `it did not start within ${limit} ms`,
      );
      // Its late answers, if any, find no waiter: the batches were failed, and nothing of them was stored.
      void thread.terminate();
    }, limit);
    // The batches in flight keep the thread referenced; the timer alone must not hold the process open.
    this.deadline.unref();
  }

  /** The thread is gone (or hung): every batch it held fails, and the next one starts a fresh thread. */
  private fail(thread: Worker, reason: string): void {
    if (this.thread !== thread) return;
    this.thread = null;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    const error = new ViewBatchWorkerFailedError(reason);
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiters) waiter.reject(error);
  }
}
