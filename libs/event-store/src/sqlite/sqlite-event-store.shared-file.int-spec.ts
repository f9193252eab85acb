import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import type { Subscription } from 'rxjs';
import { ConcurrencyError, StoreUnavailableError } from '../errors';
import type { NewEvent, RecordedEvent } from '../event-store.port';
import { START } from '../position';
import { SqliteEventStore } from './sqlite-event-store';

function newEvents(count: number, type = 'thing-happened'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ eventId: randomUUID(), type, data: { i } }));
}

/**
 * Issue #12 finding 1: a second process (the CLI's import, export or replay) appends to the file a live
 * service writes. The service follows the log by subscription, so its foreign-commit poll sees those commits;
 * what it remembers about stream revisions must follow too, whichever way it learns of them.
 */
describe('SqliteEventStore sharing its file with another writer', () => {
  let dataDir: string;
  const opened: SqliteEventStore[] = [];
  const subscriptions: Subscription[] = [];
  const open = (): SqliteEventStore => {
    const store = SqliteEventStore.open({ dataDir });
    opened.push(store);
    return store;
  };

  /** The service: a store with a live subscriber (as the projection is), and what that subscriber has seen. */
  const openService = async () => {
    const store = open();
    const seen: RecordedEvent[] = [];
    await new Promise<void>((resolve) => {
      subscriptions.push(
        store.subscribeToAll({ from: START }).subscribe((message) => {
          if (message.kind === 'event') seen.push(message.event);
          else resolve();
        }),
      );
    });
    const sees = async (eventId: string) => {
      for (let waited = 0; !seen.some((e) => e.eventId === eventId); waited++) {
        if (waited > 200) throw new Error(`the service never saw event ${eventId}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    return { store, sees };
  };

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-shared-'));
  });

  afterEach(async () => {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    for (const store of opened.splice(0)) await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('accepts the revision another writer advanced a stream to, after its foreign-commit poll saw the commit', async () => {
    const service = await openService();
    const cli = open();
    await service.store.append({
      stream: 'device-cam-1',
      events: newEvents(1),
      expectedRevision: 'no_stream',
    });
    const imported = newEvents(1);
    await cli.append({ stream: 'device-cam-1', events: imported, expectedRevision: 0n });
    await service.sees(imported[0].eventId);

    const result = await service.store.append({
      stream: 'device-cam-1',
      events: newEvents(1),
      expectedRevision: 1n,
    });
    expect(result.nextExpectedRevision).toBe(2n);
    // And a stale expectation is refused with the real revision, not the one once remembered.
    await expect(
      service.store.append({ stream: 'device-cam-1', events: newEvents(1), expectedRevision: 1n }),
    ).rejects.toMatchObject({ actual: '2' });
  });

  it('puts an `any` append after the events another writer added, and its group neighbours commit', async () => {
    const service = await openService();
    const cli = open();
    await service.store.append({ stream: 'views-3', events: newEvents(1), expectedRevision: 'any' });
    const imported = newEvents(2);
    await cli.append({ stream: 'views-3', events: imported, expectedRevision: 'any' });
    await service.sees(imported[1].eventId);

    const [view, neighbour] = await Promise.all([
      service.store.append({ stream: 'views-3', events: newEvents(1), expectedRevision: 'any' }),
      service.store.append({ stream: 'ledger-audit', events: newEvents(1), expectedRevision: 'any' }),
    ]);
    expect(view.nextExpectedRevision).toBe(3n);
    expect(neighbour.nextExpectedRevision).toBe(0n);
    expect((await service.store.readStream('views-3')).map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n]);
  });

  it('decides a conflict on the revision in the database, not on the one it remembers', async () => {
    const store = open();
    await store.append({ stream: 'device-cam-1', events: newEvents(1), expectedRevision: 'no_stream' });
    await store.append({ stream: 'spare', events: newEvents(1), expectedRevision: 'no_stream' });
    // A change the head does not reveal: the last row moves into the device's stream.
    const other = new Database(path.join(dataDir, 'events.sqlite3'));
    other.prepare(`UPDATE events SET stream = 'device-cam-1', revision = 1 WHERE position = 1`).run();
    other.close();

    const refused = await store
      .append({ stream: 'device-cam-1', events: newEvents(1), expectedRevision: 0n })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConcurrencyError);
    expect(refused).toMatchObject({ actual: '1' });
    const accepted = await store.append({
      stream: 'device-cam-1',
      events: newEvents(1),
      expectedRevision: 1n,
    });
    expect(accepted.nextExpectedRevision).toBe(2n);
  });

  it('fails only the request whose rows fail; the rest of its group commits', async () => {
    const store = open();
    const saboteur = new Database(path.join(dataDir, 'events.sqlite3'));
    saboteur.exec(
      `CREATE TRIGGER sabotage BEFORE INSERT ON events` +
        ` WHEN NEW.type_id = (SELECT id FROM event_types WHERE name = 'boom')` +
        ` BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`,
    );
    saboteur.close();
    const innocent = newEvents(2);
    const [before, doomed, after, doomedAlone] = await Promise.allSettled([
      store.append({ stream: 'innocent', events: innocent, expectedRevision: 'no_stream' }),
      store.append({
        stream: 'doomed',
        events: [...newEvents(1), ...newEvents(1, 'boom')],
        expectedRevision: 'no_stream',
      }),
      store.append({ stream: 'bystander', events: newEvents(1), expectedRevision: 'no_stream' }),
      // A one-event request takes the path without a savepoint.
      store.append({ stream: 'doomed-alone', events: newEvents(1, 'boom'), expectedRevision: 'any' }),
    ]);
    expect(before.status).toBe('fulfilled');
    expect(after.status).toBe('fulfilled');
    for (const failed of [doomed, doomedAlone]) {
      expect(failed.status).toBe('rejected');
      expect((failed as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      expect((failed as PromiseRejectedResult).reason.message).toContain('disk on fire');
    }
    expect(await store.readStream('doomed-alone')).toEqual([]);
    expect((await store.readStream('innocent')).map((e) => e.eventId)).toEqual(
      innocent.map((e) => e.eventId),
    );
    expect(await store.readStream('doomed')).toEqual([]);
    expect(await store.readStream('bystander')).toHaveLength(1);
    // Positions stay dense: nothing of the failed request left a gap.
    const all = await store.readAll({ from: START, direction: 'forwards', maxCount: 10 });
    expect(all.events.map((e) => e.position.commit)).toEqual([0n, 1n, 2n]);
  });
});
