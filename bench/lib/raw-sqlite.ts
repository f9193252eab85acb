import * as path from 'node:path';
import Database from 'better-sqlite3';
import { configureConnection } from '../../libs/event-store/src/sqlite/connection';

/**
 * A bare better-sqlite3 connection to an events table in the embedded store's version-1 layout (text event id,
 * type and JSON data; the same three indexes) with the same pragmas as `SqliteEventStore.open`. The baseline
 * keeps that plain layout on purpose: what the store's version-2 coding (`stored-row.ts`) costs on the write
 * path then shows in the ratio instead of being paid by both sides.
 */
export function openRawEventsDb(dir: string, fileName = 'events.sqlite3'): Database.Database {
  const db = new Database(path.join(dir, fileName));
  configureConnection(db);
  db.exec(`
    CREATE TABLE IF NOT EXISTS events (
      position INTEGER PRIMARY KEY,
      event_id TEXT NOT NULL,
      stream   TEXT NOT NULL,
      revision INTEGER NOT NULL,
      type     TEXT NOT NULL,
      data     TEXT NOT NULL,
      metadata TEXT
    );
    CREATE UNIQUE INDEX IF NOT EXISTS events_by_event_id ON events (event_id);
    CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream_revision ON events (stream, revision);
    CREATE INDEX IF NOT EXISTS events_by_type ON events (type);
  `);
  return db;
}

export const INSERT_EVENT =
  'INSERT INTO events (position, event_id, stream, revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)';
