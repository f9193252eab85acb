import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import Database from 'better-sqlite3';
import { firstValueFrom } from 'rxjs';
import { filter, take, toArray } from 'rxjs/operators';
import type { AppendResult } from '../event-store.port';
import { START } from '../position';
import { AllReader } from './all-reader';
import { describeEventStoreContract } from '../testing';
import { SqliteEventStore } from './sqlite-event-store';
import { WriterThread } from './writer-thread';

// The service runs its group commits on the writer thread: the port's behaviour must be the very same.
describeEventStoreContract('sqlite (writer thread)', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-thread-contract-'));
  const store = SqliteEventStore.open({ dataDir, writerThread: true });
  return {
    store,
    async cleanup() {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describe('SqliteEventStore with the writer thread', () => {
  const views = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      eventId: `${prefix}-${String(i).padStart(4, '0')}-4000-8000-000000000000`,
      type: 'MediaViewed',
      data: { i },
    }));

  const spyOnPosts = () => jest.spyOn(WriterThread.prototype, 'commit');
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  /**
   * A store with a 1000-view append to `views-1` made: another connection holds the write lock, so the writer
   * thread's commit of it waits (busy timeout) until `release`.
   */
  async function withBigGroupHeld(
    name: string,
    work: (held: {
      store: SqliteEventStore;
      big: Promise<AppendResult>;
      posted: ReturnType<typeof spyOnPosts>;
      release: () => void;
    }) => Promise<void>,
  ): Promise<void> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `ledger-sqlite-thread-${name}-`));
    const store = SqliteEventStore.open({ dataDir, writerThread: true, maxBatchEvents: 1000 });
    const posted = spyOnPosts();
    const blocker = new Database(path.join(dataDir, 'events.sqlite3'));
    try {
      blocker.exec('BEGIN IMMEDIATE');
      const big = store.append({
        stream: 'views-1',
        expectedRevision: 'any',
        events: views('aaaaaaaa', 1000),
      });
      await work({ store, big, posted, release: () => blocker.exec('ROLLBACK') });
    } finally {
      blocker.close();
      posted.mockRestore();
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('serves reads while a group is written on the thread, and answers the append after its commit', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-thread-'));
    const store = SqliteEventStore.open({ dataDir, writerThread: true });
    try {
      let settled = false;
      const batch = store
        .append({ stream: 'views-1', expectedRevision: 'any', events: views('aaaaaaaa', 1000) })
        .finally(() => (settled = true));
      // The group is flushed on the next turn; after it, the 1000 rows are being written on the thread (inline,
      // they would be committed and the append settled by now), and the event loop still answers a read.
      await nextTurn();
      await nextTurn();
      expect(await store.readStream('views-1')).toEqual([]);
      expect(settled).toBe(false);
      const result = await batch;
      expect(result.nextExpectedRevision).toBe(999n);
      expect((await store.readStream('views-1')).length).toBe(1000);
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("commits an append made while batches to its stream are queued before those batches, and keeps an appendMany's order", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-thread-lane-'));
    const store = SqliteEventStore.open({ dataDir, writerThread: true, maxBatchEvents: 1000 });
    try {
      // The first batch goes to the thread at once (it fills a group); the rest queue behind it, in this order.
      const inFlight = store.append({
        stream: 'views-1',
        expectedRevision: 'any',
        events: views('aaaaaaaa', 1000),
      });
      const queued = store.append({
        stream: 'views-1',
        expectedRevision: 'any',
        events: views('bbbbbbbb', 1000),
      });
      const many = store.appendMany([
        { stream: 'views-1', expectedRevision: 'any', events: views('cccccccc', 1000) },
        { stream: 'views-1', expectedRevision: 'any', events: views('dddddddd', 1) },
      ]);
      const authorization = store.append({
        stream: 'views-1',
        expectedRevision: 'any',
        events: views('eeeeeeee', 1),
      });
      const [first, batch, manyResults, single] = await Promise.all([inFlight, queued, many, authorization]);
      const [manyBig, manySmall] = manyResults as AppendResult[];
      // The authorization waits at most for the group already on the thread (it goes first when the thread
      // meets it while still preparing that group), never for the batches queued before it.
      const goneFirst = single.position.commit < first.positions[0].commit;
      expect(single.position.commit).toBe(
        goneFirst ? first.positions[0].commit - 1n : first.position.commit + 1n,
      );
      expect(single.position.commit).toBeLessThan(batch.positions[0].commit);
      // The requests of one appendMany stay in their order in their stream.
      expect(manySmall.position.commit).toBe(manyBig.position.commit + 1n);
      const stream = await store.readStream('views-1');
      const inFlightThenSingle = [...Array<string>(1000).fill('aaaaaaaa'), 'eeeeeeee'];
      expect(stream.map((event) => event.eventId.slice(0, 8))).toEqual([
        ...(goneFirst ? ['eeeeeeee', ...Array<string>(1000).fill('aaaaaaaa')] : inFlightThenSingle),
        ...Array<string>(1000).fill('bbbbbbbb'),
        ...Array<string>(1000).fill('cccccccc'),
        'dddddddd',
      ]);
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('posts an urgent append to the thread right behind the big group in flight, before that group is answered', () =>
    withBigGroupHeld('urgent', async ({ store, big, posted, release }) => {
      const nextBig = store.append({
        stream: 'views-2',
        expectedRevision: 'any',
        events: views('bbbbbbbb', 1000),
      });
      const urgent = store.append({
        stream: 'views-3',
        expectedRevision: 'any',
        events: views('cccccccc', 1),
      });
      await nextTurn();
      await nextTurn();
      // The first batch is on the thread, unanswered; the one-event append is already posted behind it, and the
      // second batch waits on the loop for its turn.
      expect(posted.mock.calls.map(([batch]) => batch.map((member) => member.stream))).toEqual([
        ['views-1'],
        ['views-3'],
      ]);
      release();
      const [first, second, single] = await Promise.all([big, nextBig, urgent]);
      // Right behind the big group, or ahead of it if the thread met it while still preparing that group.
      const goneFirst = single.position.commit < first.positions[0].commit;
      expect(single.position.commit).toBe(
        goneFirst ? first.positions[0].commit - 1n : first.position.commit + 1n,
      );
      expect(second.positions[0].commit).toBe(
        (goneFirst ? first.position.commit : single.position.commit) + 1n,
      );
      expect(posted).toHaveBeenCalledTimes(3);
    }));

  it('posts each later urgent append behind the big group too, without waiting for the urgent ones already posted', () =>
    withBigGroupHeld('urgent-many', async ({ store, big, posted, release }) => {
      await nextTurn();
      // Authorizations arriving one turn after another while the big group is held on the thread, as under
      // bulk ingest: each is posted as it comes. One urgent group at a time made the second wait for the
      // whole big group.
      const urgent: Array<Promise<AppendResult>> = [];
      for (const [k, prefix] of ['cccccccc', 'dddddddd', 'eeeeeeee'].entries()) {
        urgent.push(
          store.append({ stream: `views-${k + 3}`, expectedRevision: 'any', events: views(prefix, 1) }),
        );
        await nextTurn();
        await nextTurn();
      }
      expect(posted.mock.calls.map(([batch]) => batch.map((member) => member.stream))).toEqual([
        ['views-1'],
        ['views-3'],
        ['views-4'],
        ['views-5'],
      ]);
      // Each may overtake the big group (other streams), so each is posted to go first.
      expect(posted.mock.calls.map(([, mayGoFirst]) => mayGoFirst)).toEqual([false, true, true, true]);
      release();
      const [first, ...singles] = await Promise.all([big, ...urgent]);
      expect(first.nextExpectedRevision).toBe(999n);
      // Committed in the order they were posted, relative to each other.
      const positions = singles.map((single) => single.position.commit);
      expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
      const page = await store.readAll({ from: START, direction: 'forwards', maxCount: 2000 });
      expect(page.events.length).toBe(1003);
    }));

  it('keeps an urgent append that may overtake the big group but not an urgent one held behind it in its place', () =>
    withBigGroupHeld('urgent-held', async ({ store, big, posted, release }) => {
      await nextTurn();
      // Expects the big group's last revision: it is held behind the big group.
      const held = store.append({ stream: 'views-1', expectedRevision: 999n, events: views('cccccccc', 1) });
      await nextTurn();
      await nextTurn();
      // Revision `any` may overtake the big group, but not the held append: going first, it would take a
      // revision the held one expects to find free.
      const anyRevision = store.append({
        stream: 'views-1',
        expectedRevision: 'any',
        events: views('dddddddd', 1),
      });
      await nextTurn();
      await nextTurn();
      expect(
        posted.mock.calls.map(([batch, mayGoFirst]) => [batch.map((m) => m.stream), mayGoFirst]),
      ).toEqual([
        [['views-1'], false],
        [['views-1'], false],
        [['views-1'], false],
      ]);
      release();
      const [first, heldResult, anyResult] = await Promise.all([big, held, anyRevision]);
      expect(heldResult.nextExpectedRevision).toBe(1000n);
      expect(heldResult.position.commit).toBe(first.position.commit + 1n);
      expect(anyResult.nextExpectedRevision).toBe(1001n);
    }));

  it('commits on close what was accepted before it, and refuses appends after it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-thread-close-'));
    const store = SqliteEventStore.open({ dataDir, writerThread: true, maxBatchEvents: 10 });
    const accepted = [0, 1, 2, 3].map((k) =>
      store.append({ stream: `views-${k}`, expectedRevision: 'any', events: views(`bbbbbbb${k}`, 8) }),
    );
    await store.close();
    await expect(Promise.all(accepted)).resolves.toHaveLength(4);
    await expect(
      store.append({ stream: 'views-9', expectedRevision: 'any', events: views('cccccccc', 1) }),
    ).rejects.toThrow('the event store is closed');
    const reopened = SqliteEventStore.open({ dataDir });
    try {
      const page = await reopened.readAll({ from: START, direction: 'forwards', maxCount: 100 });
      expect(page.events.length).toBe(32);
    } finally {
      await reopened.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("hands its own groups to caught-up subscribers without re-reading them, and still sees another writer's", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-thread-own-'));
    const store = SqliteEventStore.open({ dataDir, writerThread: true });
    const reads = jest.spyOn(AllReader.prototype, 'read');
    try {
      const received: string[] = [];
      let caughtUp!: () => void;
      const ready = new Promise<void>((resolve) => (caughtUp = resolve));
      const subscription = store.subscribeToAll({ from: START }).subscribe((message) => {
        if (message.kind === 'caught-up') caughtUp();
        else received.push(message.event.eventId);
      });
      await ready;
      const readsWhenCaughtUp = reads.mock.calls.length;
      for (let k = 0; k < 3; k++) {
        await store.append({
          stream: `views-${k}`,
          expectedRevision: 'any',
          events: views(`dddddd0${k}`, 5),
        });
        // Past the foreign-commit poll (200 ms): the thread's commits change the file under this connection.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(received).toHaveLength(15);
      expect(reads.mock.calls.length).toBe(readsWhenCaughtUp);
      // Another process's commit is still delivered, by a read of the log.
      const other = SqliteEventStore.open({ dataDir });
      const foreign = firstValueFrom(
        store.subscribeToAll({ from: START }).pipe(
          filter((message) => message.kind === 'event' && message.event.stream === 'views-other'),
          take(1),
          toArray(),
        ),
      );
      try {
        await other.append({ stream: 'views-other', expectedRevision: 'any', events: views('eeeeeeee', 1) });
        await foreign;
        await new Promise((resolve) => setTimeout(resolve, 450));
        expect(received).toHaveLength(16);
      } finally {
        await other.close();
      }
      subscription.unsubscribe();
    } finally {
      reads.mockRestore();
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
