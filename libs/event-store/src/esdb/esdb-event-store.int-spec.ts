import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import type { Subscription } from 'rxjs';
import {
  startEsdbTestServer,
  type EsdbTestServer,
  type EsdbTestServerOptions,
} from '@ledger/esdb-test-server';
import { ConcurrencyError, EventStoreError, InvalidAppendError, StoreUnavailableError } from '../errors';
import type {
  AppendRequest,
  AppendResult,
  NewEvent,
  RecordedEvent,
  SubscriptionMessage,
} from '../event-store.port';
import { comparePositions, START, type LogPosition } from '../position';
import { EsdbEventStore, type EsdbEventStoreOptions } from './esdb-event-store';

const WAIT_LIMIT_MS = 30_000;
const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 200 };

function newEvents(count: number, type = 'thing-happened'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ eventId: randomUUID(), type, data: { i } }));
}

function ids(events: readonly { eventId: string }[]): string[] {
  return events.map((event) => event.eventId);
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

async function eventually(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port error whose cause (if any) is a plain Error: nothing of the vendor client crosses the port. */
function expectPortError(error: unknown, type: new (...args: never[]) => EventStoreError): void {
  expect(error).toBeInstanceOf(type);
  const cause = (error as Error).cause;
  if (cause !== undefined && !(cause instanceof EventStoreError)) {
    expect(Object.getPrototypeOf(cause)).toBe(Error.prototype);
  }
}

/** What a projection does with a subscription: applies events once each, in order, and remembers caught-up. */
class ProjectionLike {
  readonly applied: RecordedEvent[] = [];
  readonly caughtUp: LogPosition[] = [];
  error: unknown;
  private readonly seen = new Set<string>();
  private readonly subscription: Subscription;
  duplicates = 0;

  constructor(store: EsdbEventStore, from: LogPosition, prefix: string) {
    this.subscription = store.subscribeToAll({ from, filter: { streamPrefixes: [prefix] } }).subscribe({
      next: (message: SubscriptionMessage) => {
        if (message.kind === 'caught-up') {
          this.caughtUp.push(message.position);
          return;
        }
        if (this.seen.has(message.event.eventId)) this.duplicates += 1;
        this.seen.add(message.event.eventId);
        this.applied.push(message.event);
      },
      error: (error: unknown) => {
        this.error = error;
      },
    });
  }

  async until(what: string, condition: () => boolean): Promise<void> {
    await eventually(what, () => {
      if (this.error !== undefined) throw this.error;
      return condition();
    });
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}

describe('EsdbEventStore against the EventStoreDB test server', () => {
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(
    serverOptions: EsdbTestServerOptions = {},
    storeOptions: EsdbEventStoreOptions = {},
  ): Promise<{ server: EsdbTestServer; store: EsdbEventStore; prefix: string }> {
    const server = await startEsdbTestServer(serverOptions);
    cleanups.push(() => server.stop());
    const store = await EsdbEventStore.connect(server.connectionString, {
      reconnect: FAST_RECONNECT,
      ...storeOptions,
    });
    cleanups.push(() => store.close());
    return { server, store, prefix: `t${randomUUID().slice(0, 8)}-` };
  }

  describe.each([
    ['batch-append', 'Streams.BatchAppend'],
    ['append-only', 'Streams.Append'],
    ['unimplemented', 'Streams.Append (no feature list)'],
  ] as const)('with a server advertising %s', (features, path) => {
    it(`appends, reads back and rejects stale revisions through ${path}`, async () => {
      const { server, store, prefix } = await setUp({ features });
      const stream = `${prefix}device`;
      const events = newEvents(3);
      const result = await store.append({ stream, events, expectedRevision: 'no_stream' });
      expect(result.nextExpectedRevision).toBe(2n);

      const read = await store.readStream(stream);
      expect(ids(read)).toEqual(ids(events));
      read.forEach((event, i) => expect(comparePositions(event.position, result.positions[i])).toBe(0));
      // The server's positions are byte offsets: the adapter must not have assumed consecutive numbers.
      expect(result.positions[1].commit - result.positions[0].commit).toBeGreaterThan(1n);

      const stale = await rejectionOf(store.append({ stream, events: newEvents(1), expectedRevision: 0n }));
      expectPortError(stale, ConcurrencyError);
      expect(stale).toMatchObject({ stream, expected: '0', actual: '2' });

      const calls = server.calls;
      if (features === 'batch-append') {
        expect(calls.batchAppendRequests).toBeGreaterThanOrEqual(2);
        expect(calls.append).toBe(0);
      } else {
        expect(calls.append).toBeGreaterThanOrEqual(2);
        expect(calls.batchAppendCalls).toBe(0);
      }
    });

    it(`makes a retried append a no-op through ${path}`, async () => {
      const { server, store, prefix } = await setUp({ features });
      const stream = `${prefix}views`;
      const single: AppendRequest = { stream, events: newEvents(1, 'viewed'), expectedRevision: 'any' };
      const batch: AppendRequest = { stream, events: newEvents(3, 'viewed'), expectedRevision: 'any' };
      const first = await store.append(single);
      const second = await store.append(batch);
      // A single event with 'any' is recognised by the server itself (it then reports no position).
      const singleAgain = await store.append(single);
      const batchAgain = await store.append(batch);
      for (const [original, retried] of [
        [first, singleAgain],
        [second, batchAgain],
      ] as const) {
        expect(retried.nextExpectedRevision).toBe(original.nextExpectedRevision);
        expect(retried.positions.map((p) => p.commit)).toEqual(original.positions.map((p) => p.commit));
      }
      expect(server.log.stream(stream)?.events.map((event) => event.id)).toEqual([
        ...ids(single.events),
        ...ids(batch.events),
      ]);
    });
  });

  describe('wrong expected version, in the form each server generation reports it', () => {
    it('in band on Streams.Append (AppendResp.wrong_expected_version)', async () => {
      const { store, prefix } = await setUp({ features: 'append-only' });
      const stream = `${prefix}a`;
      await store.append({ stream, events: newEvents(2), expectedRevision: 'no_stream' });
      const error = await rejectionOf(
        store.append({ stream, events: newEvents(1), expectedRevision: 'no_stream' }),
      );
      expectPortError(error, ConcurrencyError);
      expect(error).toMatchObject({ stream, expected: 'no_stream', actual: '1' });
    });

    it('as a google.rpc.Status packing WrongExpectedVersion on Streams.BatchAppend', async () => {
      const { server, store, prefix } = await setUp({ features: 'batch-append' });
      const stream = `${prefix}b`;
      const error = await rejectionOf(
        store.append({ stream, events: newEvents(1), expectedRevision: 'stream_exists' }),
      );
      expectPortError(error, ConcurrencyError);
      expect(error).toMatchObject({ stream, expected: 'stream_exists', actual: 'no_stream' });
      expect(server.calls.batchAppendRequests).toBe(1);
    });

    it('as a gRPC error with exception trailers (servers before 21.10)', async () => {
      const { server, store, prefix } = await setUp({ features: 'append-only' });
      const stream = `${prefix}c`;
      await store.append({ stream, events: newEvents(3), expectedRevision: 'no_stream' });
      server.injectFault({
        method: 'append',
        code: status.FAILED_PRECONDITION,
        trailers: {
          exception: 'wrong-expected-version',
          'stream-name': stream,
          'expected-version': '0',
          'actual-version': '2',
        },
      });
      const error = await rejectionOf(
        store.append({ stream, events: newEvents(1), expectedRevision: 'any' }),
      );
      expectPortError(error, ConcurrencyError);
      expect(error).toMatchObject({ stream, expected: 'any', actual: '2' });
    });
  });

  describe('idempotent retries beyond what the adapter checks itself', () => {
    it('leaves a retry of an older append to the server, and reads the original positions back', async () => {
      const { server, store, prefix } = await setUp({}, { idempotencyWindow: 0 });
      const stream = `${prefix}old`;
      const original: AppendRequest = { stream, events: newEvents(2), expectedRevision: 'no_stream' };
      const first = await store.append(original);
      for (let i = 0; i < 5; i++)
        await store.append({ stream, events: newEvents(1), expectedRevision: 'any' });
      const retried = await store.append(original);
      expect(retried.nextExpectedRevision).toBe(1n);
      expect(retried.positions).toEqual(first.positions);
      expect(server.log.stream(stream)?.events).toHaveLength(7);
    });
  });

  describe.each([
    ['announces caught-up', true],
    ['never announces caught-up', false],
  ])('a server restart in the middle of a subscription (the server %s)', (_label, sendCaughtUp) => {
    it('ends with exactly the appended events: nothing missed, nothing twice', async () => {
      const { server, store, prefix } = await setUp({ sendCaughtUp });
      const from = await store.headPosition();
      const written: string[] = [];
      const streams = ['d1', 'd2', 'd3'].map((name) => `${prefix}${name}`);
      const unavailable: unknown[] = [];

      // Appends one request, retrying with the same event ids while the server is away.
      const appendSurely = async (request: AppendRequest): Promise<AppendResult> => {
        for (;;) {
          try {
            return await store.append(request);
          } catch (error) {
            if (!(error instanceof StoreUnavailableError)) throw error;
            unavailable.push(error);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      };
      const writeRound = async (round: number): Promise<void> => {
        const stream = streams[round % streams.length];
        const events = newEvents(1 + (round % 4));
        await appendSurely({ stream, events, expectedRevision: 'any' });
        written.push(...ids(events));
      };

      for (let round = 0; round < 20; round++) await writeRound(round);
      const projection = new ProjectionLike(store, from, prefix);
      try {
        // Down while catching up.
        await projection.until('the first events', () => projection.applied.length > 0);
        await server.stop();
        let failures = unavailable.length;
        const whileDown = writeRound(20);
        await eventually('an append to fail while the server is down', () => unavailable.length > failures);
        await server.restart();
        await whileDown;
        await projection.until('caught-up', () => projection.caughtUp.length > 0);

        // Down while live, with appends racing the restart.
        for (let round = 21; round < 40; round++) await writeRound(round);
        await server.stop();
        failures = unavailable.length;
        const racing = Promise.all([writeRound(40), writeRound(41)]);
        await eventually('appends to fail while the server is down', () => unavailable.length > failures);
        await server.restart();
        await racing;
        for (let round = 42; round < 60; round++) await writeRound(round);

        await projection.until(`${written.length} events`, () => projection.applied.length >= written.length);
        await new Promise((resolve) => setTimeout(resolve, 100));

        const stored: RecordedEvent[] = [];
        let page = await store.readAll({
          from,
          direction: 'forwards',
          maxCount: 100,
          filter: { streamPrefixes: [prefix] },
        });
        stored.push(...page.events);
        while (!page.isEnd) {
          page = await store.readAll({
            from: page.next,
            direction: 'forwards',
            maxCount: 100,
            filter: { streamPrefixes: [prefix] },
          });
          stored.push(...page.events);
        }
        expect(projection.duplicates).toBe(0);
        expect(ids(projection.applied)).toEqual(ids(stored));
        expect(new Set(ids(projection.applied))).toEqual(new Set(written));
        expect(projection.applied).toHaveLength(written.length);
        expect(projection.caughtUp).toHaveLength(1);
        expect(server.calls.subscriptions).toBeGreaterThanOrEqual(3);
        expect(projection.error).toBeUndefined();
      } finally {
        projection.stop();
      }
    });
  });

  describe('caught-up on servers that never announce it', () => {
    it('is reported once the last matching event before the head was delivered, at the head', async () => {
      const { store, prefix } = await setUp({ sendCaughtUp: false });
      const from = await store.headPosition();
      await store.append({ stream: `${prefix}wanted`, events: newEvents(3), expectedRevision: 'no_stream' });
      await store.append({ stream: `other-${prefix}`, events: newEvents(5), expectedRevision: 'no_stream' });
      const head = await store.headPosition();
      const projection = new ProjectionLike(store, from, prefix);
      try {
        await projection.until('caught-up', () => projection.caughtUp.length > 0);
        expect(projection.applied).toHaveLength(3);
        expect(comparePositions(projection.caughtUp[0], head)).toBe(0);
      } finally {
        projection.stop();
      }
    });

    it('is reported at once when nothing matches', async () => {
      const { store, prefix } = await setUp({ sendCaughtUp: false });
      await store.append({ stream: `other-${prefix}`, events: newEvents(2), expectedRevision: 'no_stream' });
      const head = await store.headPosition();
      const projection = new ProjectionLike(store, START, prefix);
      try {
        await projection.until('caught-up', () => projection.caughtUp.length > 0);
        expect(projection.applied).toEqual([]);
        expect(comparePositions(projection.caughtUp[0], head)).toBe(0);
        await store.append({ stream: `${prefix}late`, events: newEvents(1), expectedRevision: 'no_stream' });
        await projection.until('the live event', () => projection.applied.length === 1);
      } finally {
        projection.stop();
      }
    });
  });

  describe('system events', () => {
    it('never appear in reads, subscriptions or the head, and cannot be appended', async () => {
      const { server, store, prefix } = await setUp();
      const from = await store.headPosition();
      const mine = newEvents(2);
      await store.append({ stream: `${prefix}s`, events: mine, expectedRevision: 'no_stream' });
      server.seed('$stats-127.0.0.1:2113', [{ id: randomUUID(), type: '$statsCollected' }]);
      server.seed(`${prefix}s`, [{ id: randomUUID(), type: '$metadata' }]);
      const mineStored = await store.readStream(`${prefix}s`, { maxCount: 2 });

      const page = await store.readAll({ from, direction: 'forwards', maxCount: 10 });
      expect(ids(page.events)).toEqual(ids(mine));
      expect(page.isEnd).toBe(true);
      expect(comparePositions(await store.headPosition(), mineStored[1].position)).toBe(0);

      const all = new ProjectionLike(store, from, '');
      try {
        await all.until('caught-up', () => all.caughtUp.length > 0);
        expect(ids(all.applied)).toEqual(ids(mine));
      } finally {
        all.stop();
      }
      const refused = await rejectionOf(
        store.append({ stream: '$settings', events: newEvents(1), expectedRevision: 'any' }),
      );
      expect(refused).toBeInstanceOf(InvalidAppendError);
    });
  });

  describe('vendor failures become port errors', () => {
    it('a stopped server makes every call fail with StoreUnavailableError, and calls work again after restart', async () => {
      const { server, store, prefix } = await setUp();
      const stream = `${prefix}x`;
      await store.append({ stream, events: newEvents(1), expectedRevision: 'no_stream' });
      await server.stop();
      const calls: Array<Promise<unknown>> = [
        store.append({ stream, events: newEvents(1), expectedRevision: 'any' }),
        store.appendMany([{ stream, events: newEvents(1), expectedRevision: 'any' }]),
        store.readStream(stream),
        store.readAll({ from: 'end', direction: 'backwards', maxCount: 5 }),
        store.headPosition(),
      ];
      for (const call of calls) expectPortError(await rejectionOf(call), StoreUnavailableError);

      await server.restart();
      let recovered: AppendResult | undefined;
      // The client reconnects on the next call; the first may still see the dropped connection.
      for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
        try {
          recovered = await store.append({ stream, events: newEvents(1), expectedRevision: 'any' });
        } catch (error) {
          expectPortError(error, StoreUnavailableError);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      expect(recovered?.nextExpectedRevision).toBeGreaterThanOrEqual(1n);
    });

    it.each([
      ['not leader', 'not-leader', status.UNKNOWN],
      ['access denied', 'access-denied', status.PERMISSION_DENIED],
      ['stream deleted', 'stream-deleted', status.FAILED_PRECONDITION],
      ['deadline exceeded', undefined, status.DEADLINE_EXCEEDED],
    ] as const)('%s', async (_label, exception, code) => {
      const { server, store, prefix } = await setUp({ features: 'append-only' });
      const stream = `${prefix}f`;
      const trailers: Record<string, string> = exception ? { exception } : {};
      if (exception === 'not-leader') {
        trailers['leader-endpoint-host'] = server.host;
        trailers['leader-endpoint-port'] = String(server.port);
      }
      if (exception === 'stream-deleted') trailers['stream-name'] = stream;
      server.injectFault({ method: 'append', code, trailers });
      expectPortError(
        await rejectionOf(store.append({ stream, events: newEvents(1), expectedRevision: 'any' })),
        StoreUnavailableError,
      );
      server.injectFault({ method: 'read', code, trailers });
      expectPortError(await rejectionOf(store.readStream(stream)), StoreUnavailableError);
      // The fault was one call each: the store works afterwards.
      await expect(
        store.append({ stream, events: newEvents(1), expectedRevision: 'any' }),
      ).resolves.toMatchObject({
        nextExpectedRevision: 0n,
      });
    });

    it('a subscription that cannot be resumed errors with StoreUnavailableError', async () => {
      const { server, store, prefix } = await setUp(
        {},
        { reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 } },
      );
      const projection = new ProjectionLike(store, START, prefix);
      await projection.until('caught-up', () => projection.caughtUp.length > 0);
      await server.stop();
      await eventually('the subscription to fail', () => projection.error !== undefined);
      expectPortError(projection.error, StoreUnavailableError);
    });

    it('a subscription refused by the server errors at once', async () => {
      const { server, store, prefix } = await setUp();
      server.injectFault({
        method: 'read',
        code: status.PERMISSION_DENIED,
        trailers: { exception: 'access-denied' },
        times: 10,
      });
      const projection = new ProjectionLike(store, START, prefix);
      await eventually('the subscription to fail', () => projection.error !== undefined);
      expectPortError(projection.error, StoreUnavailableError);
      expect((projection.error as Error).message).toContain('access denied');
    });
  });

  describe('connection strings', () => {
    it('accepts the kurrentdb:// scheme of KurrentDB 25', async () => {
      const server = await startEsdbTestServer();
      cleanups.push(() => server.stop());
      const store = await EsdbEventStore.connect(server.connectionString.replace('esdb://', 'kurrentdb://'));
      cleanups.push(() => store.close());
      await store.append({
        stream: `k-${randomUUID()}`,
        events: newEvents(1),
        expectedRevision: 'no_stream',
      });
      expect(comparePositions(await store.headPosition(), START)).toBeGreaterThan(0);
    });

    it('refuses a malformed one with StoreUnavailableError, without echoing credentials', async () => {
      const error = await rejectionOf(EsdbEventStore.connect('esdb://admin:secret@'));
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).not.toContain('secret');
    });
  });
});
