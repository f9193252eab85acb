import * as path from 'node:path';
import Database from 'better-sqlite3';
import { configureConnection } from '../../libs/event-store/src/sqlite/connection';
import { migrate } from '../../libs/event-store/src/sqlite/schema';

/**
 * A bare better-sqlite3 connection to an events table exactly like the embedded store's: the same schema and
 * indexes (its own migration) and the same pragmas as `SqliteEventStore.open`, so the baselines differ from the
 * store only in what the store adds on top.
 */
export function openRawEventsDb(dir: string, fileName = 'events.sqlite3'): Database.Database {
  const db = new Database(path.join(dir, fileName));
  configureConnection(db);
  migrate(db);
  return db;
}

export const INSERT_EVENT =
  'INSERT INTO events (position, event_id, stream, revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)';
