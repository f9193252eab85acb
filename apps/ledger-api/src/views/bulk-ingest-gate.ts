import type { FastifyInstance } from 'fastify';

/**
 * Bulk view ingest takes turns. Every request runs on the one event loop, and a batch of 1000 views is tens
 * of milliseconds of parsing, validation, event building and a group commit; four connections posting
 * batches flat out kept the loop saturated, so an authorization queued behind several batches at every step
 * (p50 in the hundreds of ms, measured by `authorize.http.during-ingest`). With one batch in the works at a
 * time, the others wait before their bodies are read (TCP backpressure, no memory held), and an
 * authorization waits at most for one step of one batch. Throughput hardly changes: the steps ran on the same
 * loop anyway.
 */
export class BulkIngestGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly slots = 1) {}

  /** Resolves with the release function once a slot is free; calling the release more than once is harmless. */
  async acquire(): Promise<() => void> {
    if (this.active >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so a newcomer can never overtake the queue.
      if (next) next();
      else this.active--;
    };
  }

  get queued(): number {
    return this.waiting.length;
  }
}

/** Routes whose bodies wait for the gate before they are read. */
const GATED_ROUTES = new Set(['POST /v1/views/batch']);

/** The HTTP side: a gated request waits for its turn before its body is read, and holds it until it closes. */
export function gateBulkIngest(instance: FastifyInstance, gate: BulkIngestGate): void {
  // Callback style: the other routes pass straight through without a promise of their own.
  instance.addHook('preParsing', (request, reply, payload, done) => {
    if (!GATED_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) return done(null, payload);
    void gate.acquire().then((release) => {
      // 'close' fires once the answer is sent or the connection dropped; a client gone while queued frees it now.
      if (reply.raw.closed || request.raw.destroyed) release();
      else reply.raw.once('close', release);
      done(null, payload);
    });
  });
}
