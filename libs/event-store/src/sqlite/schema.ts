import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors';
import { StoredRowCodec, storedEventId } from './stored-row';

/** Bumped whenever the on-disk layout changes; `PRAGMA user_version` records what a file holds. */
export const SCHEMA_VERSION = 2;

export const STREAM_INDEX = 'events_by_stream_revision';
export const TYPE_INDEX = 'events_by_type';

/** What the migration took on the bench machine, idle (154 s for 10M events): the estimate its notice gives. */
const MIGRATION_SECONDS_PER_MILLION_EVENTS = 15;

/** Rows a version-1 file is copied in per step of its migration. */
const MIGRATION_PAGE = 10_000;

// `position` aliases the rowid, so the log order costs no extra index and reading `$all` is a b-tree walk.
// The type index holds (type_id, rowid): a scan for a rare event type seeks straight to its rows in log order.
// Version 2 keeps the event id as 16 bytes, the type as an id into `event_types` and the data coded against
// `event_data_shapes` (`stored-row.ts`, `data-codec.ts`): 2.2 times smaller than version 1's text columns.
const TABLES_V2 = `
  CREATE TABLE event_types (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
  CREATE TABLE event_data_shapes (id INTEGER PRIMARY KEY, shape TEXT NOT NULL UNIQUE);
`;

function eventsTable(name: string): string {
  return `
  CREATE TABLE ${name} (
    position INTEGER PRIMARY KEY,
    event_id BLOB NOT NULL,
    stream   TEXT NOT NULL,
    revision INTEGER NOT NULL,
    type_id  INTEGER NOT NULL,
    data     TEXT NOT NULL,
    metadata TEXT
  );`;
}

const INDEXES_V2 = `
  CREATE UNIQUE INDEX events_by_event_id ON events (event_id);
  CREATE UNIQUE INDEX ${STREAM_INDEX} ON events (stream, revision);
  CREATE INDEX ${TYPE_INDEX} ON events (type_id);
`;

/**
 * Brings the file to `SCHEMA_VERSION`. A new file gets the version-2 tables; a version-1 file is rewritten once
 * (see `migrateFromV1`), in one IMMEDIATE transaction, so a crash leaves either the old file or the new one.
 * Returns the version the file had. `notify` hears when a rewrite starts and ends: on a big log it holds the
 * opening process for minutes, which an operator should see, not guess.
 */
export function migrate(db: Database.Database, notify?: (message: string) => void): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new StoreUnavailableError(
      `event store file ${db.name} has schema version ${version}; this build understands up to ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return version;
  let from = version;
  const started = Date.now();
  if (version === 1) {
    // Positions start at 0 and the log never loses a row: the last one counts them without a scan.
    const events =
      ((db.prepare('SELECT max(position) FROM events').pluck().get() as number | null) ?? -1) + 1;
    notify?.(
      `migrating ${db.name} from schema version 1 to ${SCHEMA_VERSION} (${events} events, about ${Math.max(1, Math.round((events / 1e6) * MIGRATION_SECONDS_PER_MILLION_EVENTS))} s); ` +
        'this runs once; if interrupted, the version-1 file is left whole and the next open migrates again',
    );
  }
  db.transaction(() => {
    // Another process may have migrated the file between the read above and the write lock.
    from = db.pragma('user_version', { simple: true }) as number;
    if (from === SCHEMA_VERSION) return;
    if (from === 0) {
      db.exec(TABLES_V2 + eventsTable('events') + INDEXES_V2);
    } else {
      migrateFromV1(db);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  // The copy left the old table's pages free inside the file; give them back (VACUUM is atomic as well).
  if (from === 1) {
    db.exec('VACUUM');
    notify?.(
      `migrated ${db.name} to schema version ${SCHEMA_VERSION} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  return from;
}

/**
 * Version 1 → 2, inside the caller's transaction: the new tables, every row copied in log order with its id,
 * type and data in the version-2 form (positions and revisions kept), the old table dropped, the new one
 * renamed, its indexes built. The data text each row decodes to is exactly the text it held.
 */
function migrateFromV1(db: Database.Database): void {
  db.exec(TABLES_V2 + eventsTable('events_v2'));
  const codec = new StoredRowCodec(db);
  const page = db
    .prepare(
      'SELECT position, event_id, stream, revision, type, data, metadata FROM events' +
        ' WHERE position > ? ORDER BY position LIMIT ?',
    )
    .raw();
  const insert = db.prepare(
    'INSERT INTO events_v2 (position, event_id, stream, revision, type_id, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = page.all(after, MIGRATION_PAGE) as Array<
      [number, string, string, number, string, string, string | null]
    >;
    for (const [position, eventId, stream, revision, type, data, metadata] of rows) {
      insert.run(
        position,
        storedEventId(eventId),
        stream,
        revision,
        codec.internType(type),
        codec.codeData(data),
        metadata,
      );
    }
    if (rows.length < MIGRATION_PAGE) break;
    after = rows[rows.length - 1][0];
  }
  db.exec(`DROP TABLE events; ALTER TABLE events_v2 RENAME TO events; ${INDEXES_V2}`);
}
