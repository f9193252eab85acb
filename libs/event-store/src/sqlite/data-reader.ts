import type Database from 'better-sqlite3';
import type { CompiledFilter } from './all-reader';

const MAX_CACHED_STATEMENTS = 64;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const ZERO = 48;
/** Event ids are UUIDs: the append path refuses anything else. */
const UUID_LENGTH = 36;

export interface DataRows {
  readonly eventIds: string[];
  readonly types: string[];
  readonly dataJson: string[];
  /** Every matching row at or before this position has been read. */
  scannedTo: number;
}

/**
 * The bulk reader behind `readAllData`. Each range of positions comes back from SQLite as ONE string, one line
 * per row: `position,eventId,"type",data` (without the type when the read asks for one type only). Handing over
 * one value per query instead of seven per row is what makes it several times cheaper than `readAll` over a
 * replay's million rows: row marshalling, not SQLite's b-tree walk, is the cost. The line split is exact: event
 * ids are UUIDs, the type is JSON-quoted, and the data column is the stored `JSON.stringify` text, which never
 * holds a raw newline.
 *
 * It walks the log in position order and filters as it goes (`+column` keeps SQLite off the indexes): the
 * replay's filters (device streams, views) each select a large part of the log, where a walk beats lookups.
 */
export class DataReader {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  private readonly lastPosition: Database.Statement<unknown[], unknown>;

  constructor(private readonly db: Database.Database) {
    this.lastPosition = db.prepare('SELECT max(position) FROM events').pluck();
  }

  /**
   * Rows strictly after `after` and at or before `upTo`, at most `limit`, in log order. `scannedTo` is how far
   * the log has been read: every matching row up to it is in this page.
   */
  read(after: number, upTo: number, limit: number, filter: CompiledFilter | null): DataRows {
    const filterParams: unknown[] = [];
    let residual = '';
    if (filter !== null) {
      if (filter.prefixes.length > 0) {
        const terms = filter.prefixes.map((range) => {
          filterParams.push(range.low);
          if (range.high === null) return '+stream >= ?';
          filterParams.push(range.high);
          return '(+stream >= ? AND +stream < ?)';
        });
        residual += ` AND (${terms.join(' OR ')})`;
      }
      if (filter.types.length > 0) {
        filterParams.push(...filter.types);
        residual += ` AND +type IN (${filter.types.map(() => '?').join(', ')})`;
      }
    }
    // A read of one type (the replay's views) needs no type column: every row has that type.
    const onlyType = filter !== null && filter.types.length === 1 ? filter.types[0] : null;
    const statement = this.statement(residual, onlyType !== null);
    const end = Math.min(upTo, (this.lastPosition.get() as number | null) ?? after);
    const rows: DataRows = { eventIds: [], types: [], dataJson: [], scannedTo: after };
    // Pages are cut by position: each query aggregates a range of rowids, at most `limit` minus what the page
    // holds already, so a page never exceeds `limit`. A range aggregate is a plain b-tree walk, cheaper than
    // `ORDER BY position LIMIT n` (a co-routine per row); a sparse filter just takes a few ranges to fill half
    // a page.
    this.withoutMmap(() => {
      while (rows.scannedTo < end && rows.eventIds.length * 2 < limit) {
        const to = Math.min(end, rows.scannedTo + (limit - rows.eventIds.length));
        const row = statement.get(rows.scannedTo, to, ...filterParams) as [string | null];
        if (row[0] !== null) this.split(row[0], rows, onlyType);
        rows.scannedTo = to;
      }
    });
    return rows;
  }

  private split(text: string, rows: DataRows, onlyType: string | null): void {
    let previous = rows.scannedTo;
    for (let start = 0; start < text.length;) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      let position = 0;
      let at = start;
      for (let code = text.charCodeAt(at); code !== COMMA; code = text.charCodeAt(++at)) {
        position = position * 10 + (code - ZERO);
      }
      // SQLite aggregates a rowid range in rowid order; asking for it with ORDER BY inside group_concat would
      // cost a sort per query, so the order is checked here instead.
      if (position <= previous) throw new Error('a bulk read of the log came back out of position order');
      previous = position;
      const idStart = at + 1;
      rows.eventIds.push(text.slice(idStart, idStart + UUID_LENGTH));
      let dataStart = idStart + UUID_LENGTH + 1;
      if (onlyType !== null) {
        rows.types.push(onlyType);
      } else {
        const typeEnd = quotedEnd(text, dataStart);
        const quotedType = text.slice(dataStart, typeEnd + 1);
        rows.types.push(
          quotedType.includes('\\') ? (JSON.parse(quotedType) as string) : quotedType.slice(1, -1),
        );
        dataStart = typeEnd + 2;
      }
      rows.dataJson.push(text.slice(dataStart, end));
      start = end + 1;
    }
  }

  /**
   * A bulk read walks the whole file once: through the memory map, every page it touches would count in the
   * process's resident memory (up to the map's size), while through SQLite's page cache it is read and
   * forgotten. So the map is off for the read and back on after it, for the point reads that benefit.
   */
  private withoutMmap<T>(read: () => T): T {
    const mapped = this.db.pragma('mmap_size', { simple: true }) as number;
    if (mapped === 0) return read();
    this.db.pragma('mmap_size = 0');
    try {
      return read();
    } finally {
      this.db.pragma(`mmap_size = ${mapped}`);
    }
  }

  private statement(residual: string, withoutType: boolean): Database.Statement<unknown[], unknown> {
    const key = `${withoutType ? '-' : '+'}${residual}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db
        .prepare(
          `SELECT group_concat(concat_ws(',', position, event_id${withoutType ? '' : ', json_quote(type)'}, data), char(10))` +
            ` FROM events WHERE position > ? AND position <= ?${residual}`,
        )
        .raw();
      this.statements.set(key, statement);
    }
    return statement;
  }
}

/** Index of the quote that closes the JSON string opening at `start`. */
function quotedEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i;
  }
  throw new Error('unterminated type in a bulk read of the log');
}
