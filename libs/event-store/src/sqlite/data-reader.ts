import type Database from 'better-sqlite3';
import type { CompiledFilter } from './all-reader';
import { EVENT_ID_AS_HEX, type StoredRowCodec } from './stored-row';

const MAX_CACHED_STATEMENTS = 64;
const COMMA = 44;
const ZERO = 48;

export interface DataRows {
  readonly eventIds: string[];
  readonly types: string[];
  readonly dataJson: string[];
  /** Every matching row at or before this position has been read. */
  scannedTo: number;
}

/**
 * The bulk reader behind `readAllData`. Each range of positions comes back from SQLite as ONE string, one line
 * per row: `position,eventIdHex,typeId,data` (without the type id when the read asks for one type only). Handing
 * over one value per query instead of seven per row is what makes it several times cheaper than `readAll` over
 * a replay's million rows: row marshalling, not SQLite's b-tree walk, is the cost. The line split is exact: the
 * id is hex, the type id digits, and the data column's coded text (`data-codec.ts`) never holds a raw newline
 * (JSON.stringify escapes it, and the codes are other characters). The data is decoded from its slice of the
 * line, so the text handed over is exactly what was appended.
 *
 * It walks the log in position order and filters as it goes (`+column` keeps SQLite off the indexes): the
 * replay's filters (device streams, views) each select a large part of the log, where a walk beats lookups.
 */
export class DataReader {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  private readonly lastPosition: Database.Statement<unknown[], unknown>;

  constructor(
    private readonly db: Database.Database,
    private readonly codec: StoredRowCodec,
  ) {
    this.lastPosition = db.prepare('SELECT max(position) FROM events').pluck();
  }

  /**
   * Rows strictly after `after` and at or before `upTo`, at most `limit`, in log order. `scannedTo` is how far
   * the log has been read: every matching row up to it is in this page.
   */
  read(after: number, upTo: number, limit: number, filter: CompiledFilter | null): DataRows {
    const rows: DataRows = { eventIds: [], types: [], dataJson: [], scannedTo: after };
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
        // The table holds type ids; a type never stored matches no row.
        const typeIds = this.codec.knownTypeIds(filter.types);
        if (typeIds.length === 0) {
          rows.scannedTo = Math.max(
            after,
            Math.min(upTo, (this.lastPosition.get() as number | null) ?? after),
          );
          return rows;
        }
        filterParams.push(...typeIds);
        residual += ` AND +type_id IN (${typeIds.map(() => '?').join(', ')})`;
      }
    }
    // A read of one type (the replay's views) needs no type column: every row has that type.
    const onlyType = filter !== null && filter.types.length === 1 ? filter.types[0] : null;
    const statement = this.statement(residual, onlyType !== null);
    const end = Math.min(upTo, (this.lastPosition.get() as number | null) ?? after);
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
    this.codec.beginPage();
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
      let dataStart = this.codec.ids.add(text, at + 1) + 1;
      if (onlyType !== null) {
        rows.types.push(onlyType);
      } else {
        let typeId = 0;
        for (let code = text.charCodeAt(dataStart); code !== COMMA; code = text.charCodeAt(++dataStart)) {
          typeId = typeId * 10 + (code - ZERO);
        }
        rows.types.push(this.codec.typeName(typeId));
        dataStart++;
      }
      this.codec.pages.add(text, dataStart, end);
      start = end + 1;
    }
    this.codec.ids.finish(rows.eventIds);
    this.codec.pages.finish(rows.dataJson);
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
          `SELECT group_concat(concat_ws(',', position, ${EVENT_ID_AS_HEX}` +
            `${withoutType ? '' : ', type_id'}, data), char(10))` +
            ` FROM events WHERE position > ? AND position <= ?${residual}`,
        )
        .raw();
      this.statements.set(key, statement);
    }
    return statement;
  }
}
