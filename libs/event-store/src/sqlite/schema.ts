import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors';

/** Bumped whenever the on-disk layout changes; `PRAGMA user_version` records what a file holds. */
export const SCHEMA_VERSION = 1;

export const STREAM_INDEX = 'events_by_stream_revision';
export const TYPE_INDEX = 'events_by_type';

// `position` aliases the rowid, so the log order costs no extra index and reading `$all` is a b-tree walk.
// The type index holds (type, rowid): a scan for a rare event type seeks straight to its rows in log order.
const MIGRATIONS: ReadonlyArray<string> = [
  `
  CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    stream   TEXT NOT NULL,
    revision INTEGER NOT NULL,
    type     TEXT NOT NULL,
    data     TEXT NOT NULL,
    metadata TEXT
  );
  CREATE UNIQUE INDEX events_by_event_id ON events (event_id);
  CREATE UNIQUE INDEX ${STREAM_INDEX} ON events (stream, revision);
  CREATE INDEX ${TYPE_INDEX} ON events (type);
  `,
];

export function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new StoreUnavailableError(
      `event store file ${db.name} has schema version ${version}; this build understands up to ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let step = version; step < SCHEMA_VERSION; step++) db.exec(MIGRATIONS[step]);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
