import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
// The test reads the file's schema version and tables as SQLite holds them, around the adapter.
// eslint-disable-next-line no-restricted-imports
import Database from 'better-sqlite3';
import { filter, firstValueFrom, takeWhile, toArray } from 'rxjs';
import { START, type StoredEvent } from '@ledger/event-store';
import { leafHashOf, MerkleTree } from '@ledger/log-integrity';
import { rebuildFromLog } from '@ledger/projections';
import { replayIncident } from '@ledger/replay';
import { SqliteEventStore } from '../libs/event-store/src/sqlite';
import { migrate } from '../libs/event-store/src/sqlite/schema';

/**
 * `fixtures/schema-v1/events.sqlite3` was written by the version-1 store (before schema 2): a fleet of 30 devices
 * with grants, revokes and 150 views through the port, plus events whose data the version-2 codec keeps verbatim
 * (nested values, an empty object) or codes around escapes and non-ASCII text. `expected.json` holds what that
 * build computed from it: the log's Merkle root over the stored event text, the projection digest of a rebuild,
 * and the digest of the complete incident replay.
 */
const FIXTURE = path.join(__dirname, 'fixtures', 'schema-v1');
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as {
  events: number;
  head: string;
  logRoot: string;
  projectionDigest: string;
  replayDigest: string;
};

function schemaOf(file: string): { version: number; tables: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      version: db.pragma('user_version', { simple: true }) as number,
      tables: db
        .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
        .pluck()
        .all() as string[],
    };
  } finally {
    db.close();
  }
}

async function storedEvents(store: SqliteEventStore): Promise<StoredEvent[]> {
  const messages = await firstValueFrom(
    store.subscribeToAllStored({ from: START }).pipe(
      takeWhile((message) => message.kind !== 'caught-up'),
      filter((message): message is { kind: 'event'; event: StoredEvent } => message.kind === 'event'),
      toArray(),
    ),
  );
  return messages.map((message) => message.event);
}

describe('a data dir written with schema version 1', () => {
  let dataDir: string;
  let file: string;

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-schema-v1-'));
    file = path.join(dataDir, 'events.sqlite3');
    fs.copyFileSync(path.join(FIXTURE, 'events.sqlite3'), file);
  });

  afterEach(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('opens, migrates once to version 2, and replays to the digests version 1 computed', async () => {
    expect(schemaOf(file)).toEqual({ version: 1, tables: ['events'] });
    const sizeBefore = fs.statSync(file).size;

    const notices: string[] = [];
    const store = SqliteEventStore.open({ dataDir, onMigration: (message) => notices.push(message) });
    try {
      expect(schemaOf(file)).toEqual({ version: 2, tables: ['event_data_shapes', 'event_types', 'events'] });
      // The operator hears of the rewrite before it starts (it can hold a start for minutes) and when it ends.
      expect(notices).toEqual([
        expect.stringMatching(
          new RegExp(
            `^migrating .*events\\.sqlite3 from schema version 1 to 2 \\(${expected.events} events, about 1 s\\); this runs once`,
          ),
        ),
        expect.stringMatching(/^migrated .*events\.sqlite3 to schema version 2 in \d+\.\d s$/),
      ]);
      const stored = await storedEvents(store);
      expect(stored).toHaveLength(expected.events);
      const tree = new MerkleTree();
      for (const event of stored) tree.append(leafHashOf(event));
      expect(tree.root().toString('hex')).toBe(expected.logRoot);
      expect((await store.headPosition()).commit.toString()).toBe(expected.head);
      expect((await rebuildFromLog(store)).digest).toBe(expected.projectionDigest);
      expect((await replayIncident(store, {})).digest).toBe(expected.replayDigest);
      // Every read path hands back the same text: the bulk read and the parsed pages agree with the stored one.
      const bulk = await store.readAllData({ from: START, upTo: await store.headPosition(), maxCount: 1000 });
      expect(bulk.dataJson).toEqual(stored.map((event) => event.dataJson));
      expect(bulk.eventIds).toEqual(stored.map((event) => event.eventId));
      expect(bulk.types).toEqual(stored.map((event) => event.type));
    } finally {
      await store.close();
    }
    expect(fs.statSync(file).size).toBeLessThan(sizeBefore);

    // Once migrated, opening again changes nothing.
    const raw = new Database(file);
    try {
      expect(migrate(raw)).toBe(2);
    } finally {
      raw.close();
    }
    const again = SqliteEventStore.open({ dataDir, onMigration: (message) => notices.push(message) });
    try {
      expect(notices).toHaveLength(2);
      const tree = new MerkleTree();
      for (const event of await storedEvents(again)) tree.append(leafHashOf(event));
      expect(tree.root().toString('hex')).toBe(expected.logRoot);
      // New appends go on after the migrated rows, in the new layout.
      const appended = await again.append({
        stream: 'after-migration',
        expectedRevision: 'no_stream',
        events: [
          { eventId: '3e6fa021-4c5d-4e7f-9091-a2b3c4d5e6f7', type: 'MediaViewed', data: { viewerId: 'u' } },
        ],
      });
      expect(appended.position.commit).toBe(BigInt(expected.head) + 1n);
    } finally {
      await again.close();
    }
  });

  it('is left as version 1, whole, when the migration fails part way', async () => {
    // A v2 table name taken already makes the migration's transaction fail after it has begun.
    const blocker = new Database(file);
    blocker.exec('CREATE TABLE event_data_shapes (taken INTEGER)');
    blocker.close();
    expect(() => SqliteEventStore.open({ dataDir })).toThrow(/event_data_shapes already exists/);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(1);
      expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(expected.events);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });
});
