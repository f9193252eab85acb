import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { firstValueFrom } from 'rxjs';
import { ConcurrencyError, InvalidAppendError, StoreUnavailableError } from '../errors';
import type {
  AllFilter,
  AppendRequest,
  NewEvent,
  RecordedEvent,
  SubscriptionMessage,
} from '../event-store.port';
import { START, comparePositions, type LogPosition } from '../position';
import { StoredRowCodec } from './stored-row';
import { AllReader, compileFilter } from './all-reader';
import { SqliteEventStore, type GroupCommitInfo, type SqliteEventStoreOptions } from './sqlite-event-store';

function newEvents(count: number, type = 'thing-happened'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ eventId: randomUUID(), type, data: { i } }));
}

async function readEverything(
  store: SqliteEventStore,
  filter?: AllFilter,
  direction: 'forwards' | 'backwards' = 'forwards',
) {
  const events: RecordedEvent[] = [];
  let from: LogPosition | 'end' = direction === 'forwards' ? START : 'end';
  for (;;) {
    const page = await store.readAll({ from, direction, maxCount: 997, filter });
    events.push(...page.events);
    if (page.isEnd) return events;
    from = page.next;
  }
}

describe('SqliteEventStore (embedded specifics)', () => {
  let dataDir: string;
  const opened: SqliteEventStore[] = [];
  const open = (options: Partial<SqliteEventStoreOptions> = {}): SqliteEventStore => {
    const store = SqliteEventStore.open({ dataDir, ...options });
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-'));
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts empty: head at START, an empty $all, and a subscription caught up at START', async () => {
    const store = open();
    expect(await store.headPosition()).toEqual(START);
    expect(await store.readAll({ from: START, direction: 'forwards', maxCount: 10 })).toEqual({
      events: [],
      next: START,
      isEnd: true,
    });
    const caughtUp = await firstValueFrom(store.subscribeToAll({ from: START }));
    expect(caughtUp).toEqual({ kind: 'caught-up', position: START });
  });

  it('creates the data dir, uses WAL and records its schema version', async () => {
    const nested = path.join(dataDir, 'a', 'b');
    const store = open({ dataDir: nested, fileName: 'log.db' });
    await store.append({ stream: 's', events: newEvents(1), expectedRevision: 'no_stream' });
    const peek = new Database(path.join(nested, 'log.db'), { readonly: true });
    try {
      expect(peek.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(peek.pragma('user_version', { simple: true })).toBe(2);
    } finally {
      peek.close();
    }
  });

  it('refuses a file written by a newer schema version', async () => {
    const file = path.join(dataDir, 'events.sqlite3');
    const future = new Database(file);
    future.pragma('user_version = 99');
    future.close();
    expect(() => open()).toThrow(StoreUnavailableError);
  });

  it('keeps events and stream revisions across a reopen', async () => {
    const first = open();
    const written = newEvents(3);
    const result = await first.append({ stream: 'device-1', events: written, expectedRevision: 'no_stream' });
    await first.close();

    const second = open();
    const read = await second.readStream('device-1');
    expect(read.map((event) => event.eventId)).toEqual(written.map((event) => event.eventId));
    expect(comparePositions(await second.headPosition(), result.position)).toBe(0);
    await expect(
      second.append({ stream: 'device-1', events: newEvents(1), expectedRevision: 'no_stream' }),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    const next = await second.append({ stream: 'device-1', events: newEvents(1), expectedRevision: 2n });
    expect(next.nextExpectedRevision).toBe(3n);
    expect(comparePositions(next.position, result.position)).toBeGreaterThan(0);
  });

  it('commits concurrent appends as one group, and splits a flood at maxBatchEvents', async () => {
    const commits: GroupCommitInfo[] = [];
    const store = open({ onGroupCommit: (commit) => commits.push(commit), maxBatchEvents: 1000 });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.append({ stream: `s-${i % 7}`, events: newEvents(2), expectedRevision: 'any' }),
      ),
    );
    expect(commits).toEqual([{ requests: 200, events: 400 }]);

    commits.length = 0;
    await Promise.all(
      Array.from({ length: 1500 }, () =>
        store.append({ stream: 'flood', events: newEvents(1), expectedRevision: 'any' }),
      ),
    );
    expect(commits.map((commit) => commit.events)).toEqual([1000, 500]);
    expect(await store.readStream('flood')).toHaveLength(1500);
  });

  it('fails every request of a group whose transaction fails, and forgets what that group taught it', async () => {
    const store = open();
    const saboteur = new Database(path.join(dataDir, 'events.sqlite3'));
    // ROLLBACK ends the whole transaction, as SQLite does itself on some disk errors (a failure of one
    // request's rows alone is undone alone: see the shared-file suite).
    saboteur.exec(
      `CREATE TRIGGER sabotage BEFORE INSERT ON events WHEN NEW.type = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'disk on fire'); END`,
    );
    const outcomes = await Promise.allSettled([
      store.append({ stream: 'innocent', events: newEvents(2), expectedRevision: 'no_stream' }),
      store.append({ stream: 'doomed', events: newEvents(1, 'boom'), expectedRevision: 'no_stream' }),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    }
    expect(await store.readStream('innocent')).toEqual([]);
    expect(await store.headPosition()).toEqual(START);

    saboteur.exec('DROP TRIGGER sabotage');
    saboteur.close();
    // Had the failed group's revision stuck, 'no_stream' would now be refused.
    const retried = await store.append({
      stream: 'innocent',
      events: newEvents(2),
      expectedRevision: 'no_stream',
    });
    expect(retried.nextExpectedRevision).toBe(1n);
  });

  it('rejects an event id already stored in another stream, writing none of the request', async () => {
    const store = open();
    const [shared] = newEvents(1);
    await store.append({ stream: 'first', events: [shared], expectedRevision: 'no_stream' });
    const error = await store
      .append({ stream: 'second', events: [...newEvents(2), shared], expectedRevision: 'no_stream' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidAppendError);
    expect((error as Error).message).toContain(shared.eventId);
    expect(await store.readStream('second')).toEqual([]);
    const next = await store.append({
      stream: 'second',
      events: newEvents(1),
      expectedRevision: 'no_stream',
    });
    expect(next.nextExpectedRevision).toBe(0n);
  });

  it('rejects data that is not a JSON object', async () => {
    const store = open();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const requests: AppendRequest[] = [
      {
        stream: 's',
        events: [{ eventId: randomUUID(), type: 't', data: [] as never }],
        expectedRevision: 'any',
      },
      {
        stream: 's',
        events: [{ eventId: randomUUID(), type: 't', data: cyclic as never }],
        expectedRevision: 'any',
      },
      { stream: 's', events: [{ eventId: randomUUID(), type: '', data: {} }], expectedRevision: 'any' },
      { stream: 's', events: newEvents(1), expectedRevision: -1n },
    ];
    for (const request of requests)
      await expect(store.append(request)).rejects.toBeInstanceOf(InvalidAppendError);
  });

  it('notices appends made through another connection to the same file', async () => {
    const mine = open();
    const theirs = open();
    await mine.append({ stream: 'shared', events: newEvents(1), expectedRevision: 'no_stream' });
    await theirs.append({ stream: 'shared', events: newEvents(1), expectedRevision: 0n });
    await expect(
      mine.append({ stream: 'shared', events: newEvents(1), expectedRevision: 0n }),
    ).rejects.toMatchObject({
      actual: '1',
    });
    const result = await mine.append({ stream: 'shared', events: newEvents(1), expectedRevision: 1n });
    expect(result.nextExpectedRevision).toBe(2n);
  });

  it('delivers to live subscribers the events another process commits to the same file', async () => {
    const service = open();
    const importer = open();
    const received: RecordedEvent[] = [];
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    const subscription = service.subscribeToAll({ from: START }).subscribe((message: SubscriptionMessage) => {
      if (message.kind === 'event') received.push(message.event);
      else caughtUp();
    });
    try {
      await ready;
      const appended = newEvents(3);
      await importer.append({ stream: 'imported', events: appended, expectedRevision: 'any' });
      for (let waited = 0; received.length < 3 && waited < 100; waited++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(received.map((e) => e.eventId)).toEqual(appended.map((e) => e.eventId));
    } finally {
      subscription.unsubscribe();
    }
  });

  it('commits appends it had accepted when closed', async () => {
    const store = open();
    const pending = store.append({ stream: 'late', events: newEvents(3), expectedRevision: 'no_stream' });
    await store.close();
    await expect(pending).resolves.toMatchObject({ nextExpectedRevision: 2n });
    const reopened = open();
    expect(await reopened.readStream('late')).toHaveLength(3);
  });

  it('answers filtered $all reads the same whichever plan runs them, in both directions', async () => {
    const store = open();
    const requests: AppendRequest[] = [];
    for (let i = 0; i < 400; i++) {
      const stream = i % 50 === 0 ? `device-${i % 7}` : i % 37 === 0 ? `ünï-😀-${i % 3}` : `view-${i % 40}`;
      const type = i % 50 === 0 ? 'device-registered' : i % 13 === 0 ? 'rare' : 'viewed';
      requests.push({ stream, events: newEvents(15, type), expectedRevision: 'any' });
    }
    const results = await store.appendMany(requests);
    expect(results.some((result) => result instanceof Error)).toBe(false);
    const everything = await readEverything(store);
    expect(everything).toHaveLength(6000);

    const filters: AllFilter[] = [
      { streamPrefixes: ['view-'] },
      { streamPrefixes: ['view-1'] },
      { streamPrefixes: ['device-'] },
      { streamPrefixes: ['device-3', 'ünï-😀', 'view-39'] },
      { streamPrefixes: ['absent-'] },
      { eventTypes: ['rare'] },
      { eventTypes: ['rare', 'device-registered'] },
      { eventTypes: Array.from({ length: 40 }, (_, i) => (i === 39 ? 'rare' : `absent-${i}`)) },
      { streamPrefixes: ['view-'], eventTypes: ['rare'] },
      { streamPrefixes: ['view-1', 'device-'], eventTypes: ['viewed', 'device-registered'] },
    ];
    // Default tuning, then tunings that force each plan: window only, narrow index walk, log scan.
    const db = new Database(path.join(dataDir, 'events.sqlite3'), { readonly: true });
    const codec = new StoredRowCodec(db);
    const readers = [
      new AllReader(db, codec),
      new AllReader(db, codec, { windowFactor: 1_000_000 }),
      new AllReader(db, codec, { windowFactor: 0, narrowPrefixCap: 1_000_000 }),
      new AllReader(db, codec, { windowFactor: 0, narrowPrefixCap: 1 }),
    ];
    try {
      for (const filter of filters) {
        const prefixes = filter.streamPrefixes ?? [''];
        const types = filter.eventTypes;
        const expected = everything
          .filter((event) => prefixes.some((prefix) => event.stream.startsWith(prefix)))
          .filter((event) => types === undefined || types.includes(event.type))
          .map((event) => event.eventId);
        const viaStore = (await readEverything(store, filter)).map((event) => event.eventId);
        expect({ filter, viaStore }).toEqual({ filter, viaStore: expected });
        for (const [tuning, reader] of readers.entries()) {
          const compiled = compileFilter(filter);
          for (const forwards of [true, false]) {
            const read: string[] = [];
            let bound = forwards ? -1 : Number.MAX_SAFE_INTEGER;
            for (;;) {
              const rows = reader.read(forwards, bound, 97, compiled);
              read.push(...rows.map((row) => row[1]));
              if (rows.length < 97) break;
              bound = rows[rows.length - 1][0];
            }
            const want = forwards ? expected : [...expected].reverse();
            expect({ filter, tuning, forwards, read }).toEqual({ filter, tuning, forwards, read: want });
          }
        }
      }
    } finally {
      db.close();
    }
  });

  it('yields to the event loop between pages while a subscription catches up', async () => {
    const store = open({ subscriptionPageSize: 500 });
    const requests = Array.from({ length: 40 }, (_, i) => ({
      stream: `bulk-${i}`,
      events: newEvents(500),
      expectedRevision: 'no_stream' as const,
    }));
    await store.appendMany(requests);

    let ticks = 0;
    let ticking = true;
    const tick = (): void => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    let eventsBeforeCaughtUp = 0;
    const ticksAtCaughtUp = await new Promise<number>((resolve, reject) => {
      const subscription = store.subscribeToAll({ from: START }).subscribe({
        next: (message: SubscriptionMessage) => {
          if (message.kind === 'event') {
            eventsBeforeCaughtUp++;
            return;
          }
          subscription.unsubscribe();
          resolve(ticks);
        },
        error: reject,
      });
    });
    ticking = false;
    expect(eventsBeforeCaughtUp).toBe(20_000);
    // 40 pages of 500: the other task must have run between them, not only before or after.
    expect(ticksAtCaughtUp).toBeGreaterThanOrEqual(20);
  });

  it('hands live events to caught-up subscribers in commit order across many groups', async () => {
    const store = open();
    const live: RecordedEvent[] = [];
    let caughtUp = false;
    const subscription = store
      .subscribeToAll({ from: START, filter: { eventTypes: ['live'] } })
      .subscribe((message) => {
        if (message.kind === 'event') live.push(message.event);
        else caughtUp = true;
      });
    try {
      while (!caughtUp) await new Promise((resolve) => setImmediate(resolve));
      for (let round = 0; round < 20; round++) {
        await Promise.all([
          store.append({ stream: `a-${round % 3}`, events: newEvents(3, 'live'), expectedRevision: 'any' }),
          store.append({ stream: `b-${round % 3}`, events: newEvents(2, 'noise'), expectedRevision: 'any' }),
          store.append({ stream: `a-${round % 3}`, events: newEvents(1, 'live'), expectedRevision: 'any' }),
        ]);
      }
      const stored = (await readEverything(store, { eventTypes: ['live'] })).map((event) => event.eventId);
      expect(stored).toHaveLength(80);
      while (live.length < stored.length) await new Promise((resolve) => setImmediate(resolve));
      expect(live.map((event) => event.eventId)).toEqual(stored);
      expect(live.map((event) => event.data)).toEqual(
        (await readEverything(store, { eventTypes: ['live'] })).map((event) => event.data),
      );
    } finally {
      subscription.unsubscribe();
    }
  });
});
