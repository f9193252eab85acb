import type {
  FastifyInstance,
  FastifyRequest,
  onRequestHookHandler,
  preHandlerHookHandler,
  preParsingHookHandler,
} from 'fastify';

/** Waiters served in arrival order; a released slot passes straight to the next waiter. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {}

  async take(): Promise<() => void> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
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

  get inUse(): boolean {
    return this.active > 0;
  }
}

/** The longest a batch's build waits for the interactive requests in flight to be answered. */
export const MAX_YIELD_MS = 50;

/** One batch's turn: `built` once its events are handed to the store, `done` once it is answered (or gone). */
export interface BulkIngestTurn {
  built(): void;
  done(): void;
}

/**
 * Bulk view ingest takes turns, in two stages. Every request runs on the one event loop, and reading,
 * parsing, validating and building a batch of 1000 views is tens of milliseconds of synchronous work: with
 * several batches at that stage together, an authorization queued behind all of them (p50 in the hundreds of
 * ms, measured by `authorize.http.during-ingest`). So one batch at a time is built; the others wait before
 * their bodies are read (TCP backpressure, no memory held). Once a batch is handed to the store it no longer
 * needs the loop — its commit runs on the writer thread — so the next batch is built while it commits, and
 * batches that meet in the store's queue share one commit (one fsync). Holding the build turn until the
 * answer, as before, made every batch wait for the previous one's fsync: the loop and the writer thread took
 * turns, each idle half the time, at a third of the store's rate. `admitted` bounds how many batches are
 * between reading and answer (memory, and the size of the group an authorization's commit can queue behind).
 */
export class BulkIngestGate {
  private readonly building: Slots;
  private readonly admitted: Slots;
  /** Interactive requests (checks, authorizations …) in flight, counted only while bulk ingest is admitted. */
  private interactive = 0;
  private quietWaiters: Array<() => void> = [];

  constructor(
    buildingSlots = 1,
    admittedSlots = 4,
    private readonly maxYieldMs = MAX_YIELD_MS,
  ) {
    this.building = new Slots(buildingSlots);
    this.admitted = new Slots(Math.max(admittedSlots, buildingSlots));
  }

  /**
   * Resolves once this batch may be read and built; calling `built` or `done` more than once is harmless.
   * A build is tens of milliseconds the loop cannot interrupt, so it starts only when no interactive request
   * is in flight (or after `maxYieldMs`, so a steady trickle of checks cannot starve ingest): with ingest
   * flat out, an authorization then meets at most the one build already under way, instead of queueing
   * behind batch after batch on a saturated loop. Without interactive traffic nothing waits.
   */
  async enter(): Promise<BulkIngestTurn> {
    const leave = await this.admitted.take();
    const build = await this.building.take();
    if (this.interactive > 0) await this.whenQuiet();
    return {
      built: build,
      done: () => {
        build();
        leave();
      },
    };
  }

  /** True while any batch is admitted: only then are interactive requests worth counting. */
  get ingesting(): boolean {
    return this.admitted.inUse;
  }

  /** An interactive request began; call the result once it is answered or gone (more than once is harmless). */
  interactiveStarted(): () => void {
    this.interactive++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.interactive > 0) return;
      const waiters = this.quietWaiters;
      this.quietWaiters = [];
      for (const resolve of waiters) resolve();
    };
  }

  /**
   * Resolves once no interactive request is in flight, or after `maxYieldMs`. Called again right before a
   * batch's build: its body was read and parsed meanwhile, and requests may have arrived since its turn.
   */
  whenQuiet(): Promise<void> {
    if (this.interactive === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.maxYieldMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.quietWaiters.push(done);
    });
  }

  /** Batches waiting for their turn to be built. */
  get queued(): number {
    return this.admitted.queued + this.building.queued;
  }
}

/** Routes whose bodies wait for the gate before they are read. */
const GATED_ROUTES = new Set(['POST /v1/views/batch']);

/**
 * The verification layer's short requests, which bulk ingest yields to. Streams (watch), replays and exports
 * are long by nature and are not waited for: a watcher connected for hours would otherwise slow every batch.
 */
const INTERACTIVE_ROUTES = new Set([
  'POST /v1/check',
  'POST /v1/check/bulk',
  'POST /v1/media/authorize',
  'POST /v1/views',
  'GET /v1/users/:userId/devices',
  'GET /v1/devices/:deviceId/access',
  'POST /v1/devices',
  'POST /v1/devices/:deviceId/grants',
  'POST /v1/devices/:deviceId/revocations',
  'POST /v1/devices/:deviceId/transfers',
  'POST /v1/devices/:deviceId/decommission',
]);

/**
 * The HTTP side: a gated request waits for its turn before its body is read, and holds it until it closes;
 * interactive requests are counted while a batch is admitted. The hooks are attached to the routes they
 * concern as Fastify registers them (`onRoute`), not to the instance: every other request — a check at
 * thousands a second — then runs none of them. Call before the routes are registered (before `app.init()`).
 */
export function gateBulkIngest(instance: FastifyInstance, gate: BulkIngestGate): void {
  const turns = new WeakMap<FastifyRequest, BulkIngestTurn>();
  const countInteractive: onRequestHookHandler = (_request, reply, done) => {
    // Checked first: with no batch admitted (most of the time) a request pays one property read here.
    // 'close' fires once the answer is sent or the connection dropped, so the count cannot leak.
    if (gate.ingesting) reply.raw.once('close', gate.interactiveStarted());
    done();
  };
  const waitForTurn: preParsingHookHandler = (request, reply, payload, done) => {
    void gate.enter().then((turn) => {
      // 'close' fires once the answer is sent or the connection dropped; a client gone while queued frees it now.
      if (reply.raw.closed || request.raw.destroyed) turn.done();
      else {
        turns.set(request, turn);
        reply.raw.once('close', turn.done);
      }
      done(null, payload);
    });
  };
  // The body is parsed. From here the route validates the batch and hands its events to the store without
  // yielding to the loop (without an Idempotency-Key nothing is awaited before the append), so the next batch,
  // released now, is read only once this one is built.
  const releaseBuildTurn: preHandlerHookHandler = (request, _reply, done) => {
    const turn = turns.get(request);
    if (turn === undefined) return done();
    void gate.whenQuiet().then(() => {
      turn.built();
      done();
    });
  };
  instance.addHook('onRoute', (route) => {
    const methods = typeof route.method === 'string' ? [route.method] : route.method;
    const keys = methods.map((method) => `${method} ${route.url}`);
    if (keys.some((key) => INTERACTIVE_ROUTES.has(key))) {
      route.onRequest = [...hooksOf(route.onRequest), countInteractive];
    }
    if (keys.some((key) => GATED_ROUTES.has(key))) {
      route.preParsing = [...hooksOf(route.preParsing), waitForTurn];
      route.preHandler = [...hooksOf(route.preHandler), releaseBuildTurn];
    }
  });
}

/** A route option's hooks as a list (Fastify takes one function or an array). */
function hooksOf<H>(hooks: H | H[] | undefined): H[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}
