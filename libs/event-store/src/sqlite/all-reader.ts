import type Database from 'better-sqlite3';
import type { AllFilter } from '../event-store.port';
import { STREAM_INDEX, TYPE_INDEX } from './schema';
import { EVENT_ID_AS_HEX, type StoredRowCodec } from './stored-row';

/**
 * A row as `statement.raw()` returns it (no per-row object keys to build, and integers stay plain numbers), once
 * `decodeRows` has put the event id, type and data back in their text form.
 */
export type EventRow = [
  position: number,
  eventId: string,
  stream: string,
  revision: number,
  type: string,
  data: string,
  metadata: string | null,
];

/** The columns of a row, as every write names them. */
export const EVENT_COLUMNS = 'position, event_id, stream, revision, type_id, data, metadata';
/** The same columns as reads select them, for `decodeRows`. */
export const EVENT_COLUMNS_READ = `position, ${EVENT_ID_AS_HEX}, stream, revision, type_id, data, metadata`;

/** Turns rows as read (`EVENT_COLUMNS_READ`: id hex, type id, coded data) into `EventRow`s, in place. */
export function decodeRows(rows: unknown[][], codec: StoredRowCodec): EventRow[] {
  const ids: string[] = [];
  const data: string[] = [];
  codec.beginPage();
  for (const row of rows) {
    codec.ids.add(row[1] as string, 0);
    row[4] = codec.typeName(row[4] as number);
    const coded = row[5] as string;
    codec.pages.add(coded, 0, coded.length);
  }
  codec.ids.finish(ids);
  codec.pages.finish(data);
  for (let i = 0; i < rows.length; i++) {
    rows[i][1] = ids[i];
    rows[i][5] = data[i];
  }
  return rows as EventRow[];
}

interface PrefixRange {
  readonly prefix: string;
  readonly low: string;
  /** Exclusive; null when no string sorts after every string with this prefix. */
  readonly high: string | null;
}

export interface CompiledFilter {
  /** Empty: every stream. */
  readonly prefixes: readonly PrefixRange[];
  /** Empty: every type. */
  readonly types: readonly string[];
  matches(stream: string, type: string): boolean;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/**
 * The smallest string greater than every string that starts with `prefix`, in code point order — which is
 * the order SQLite's BINARY collation gives UTF-8 text — so a prefix filter becomes an index range.
 */
export function prefixUpperBound(prefix: string): string | null {
  const codePoints = Array.from(prefix, (ch) => ch.codePointAt(0) as number);
  while (codePoints.length > 0) {
    const last = codePoints.pop() as number;
    if (last < 0x10ffff) {
      // No code point lies in the surrogate block, so the successor of U+D7FF is U+E000.
      codePoints.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...codePoints);
    }
  }
  return null;
}

/** Null means "no filter". Empty lists mean "no restriction on that axis", as an absent list does. */
export function compileFilter(filter: AllFilter | undefined): CompiledFilter | null {
  if (!filter) return null;
  const rawPrefixes = filter.streamPrefixes ?? [];
  const rawTypes = filter.eventTypes ?? [];
  for (const prefix of rawPrefixes) {
    if (typeof prefix !== 'string' || hasLoneSurrogate(prefix)) throw new RangeError(`invalid stream prefix`);
  }
  for (const type of rawTypes) {
    if (typeof type !== 'string') throw new RangeError(`invalid event type filter`);
  }
  // A prefix that another listed prefix already covers adds nothing but an extra index range.
  const sorted = [...new Set(rawPrefixes)].sort();
  const kept: string[] = [];
  for (const prefix of sorted) {
    if (!kept.some((shorter) => prefix.startsWith(shorter))) kept.push(prefix);
  }
  const prefixes = kept.includes('')
    ? []
    : kept.map((prefix) => ({ prefix, low: prefix, high: prefixUpperBound(prefix) }));
  const types = [...new Set(rawTypes)];
  if (prefixes.length === 0 && types.length === 0) return null;
  const typeSet = new Set(types);
  return {
    prefixes,
    types,
    matches(stream: string, type: string): boolean {
      if (types.length > 0 && !typeSet.has(type)) return false;
      if (prefixes.length === 0) return true;
      for (const range of prefixes) if (stream.startsWith(range.prefix)) return true;
      return false;
    },
  };
}

/**
 * A prefix-filtered read first walks this many log rows per wanted row: when the prefix is dense (or the
 * read is near the head, as a live subscription's is) that alone fills the page.
 */
const WINDOW_FACTOR = 4;
/**
 * Otherwise the prefix ranges are counted in the stream index, up to this cap. Under it, walking the index
 * and sorting its rows by position costs at most the cap; at or over it, the prefixes hold so many rows
 * that walking the log and skipping the others is the cheaper bet.
 */
const NARROW_PREFIX_CAP = 50_000;
/** Past this many types a UNION ALL of per-type index walks gets unwieldy; scan the log instead. */
const MAX_MERGED_TYPES = 32;
const MAX_CACHED_STATEMENTS = 256;

type Plan = 'scan' | 'types' | 'window' | 'narrow' | 'probe';

/**
 * Reads pages of `$all`. Every plan is pinned (INDEXED BY, or `+column` to forbid an index) so the cost of a
 * page never depends on what the query planner guesses.
 */
export class AllReader {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();
  private readonly lastPosition: Database.Statement<unknown[], unknown>;
  private readonly windowFactor: number;
  private readonly narrowPrefixCap: number;

  /** The tuning knobs exist so tests can drive every plan with little data. */
  constructor(
    private readonly db: Database.Database,
    private readonly codec: StoredRowCodec,
    tuning: { readonly windowFactor?: number; readonly narrowPrefixCap?: number } = {},
  ) {
    this.lastPosition = db.prepare('SELECT max(position) FROM events').pluck();
    this.windowFactor = tuning.windowFactor ?? WINDOW_FACTOR;
    this.narrowPrefixCap = tuning.narrowPrefixCap ?? NARROW_PREFIX_CAP;
  }

  /** Up to `limit` rows strictly after (forwards) or before (backwards) `bound`, in that direction's order. */
  read(forwards: boolean, bound: number, limit: number, filter: CompiledFilter | null): EventRow[] {
    if (filter === null) return this.rows('scan', forwards, [], 0, [bound, limit]);
    const { prefixes } = filter;
    // The filter names types; the table holds their ids. A type never stored matches no row.
    const types = filter.types.length > 0 ? this.codec.knownTypeIds(filter.types) : [];
    if (filter.types.length > 0 && types.length === 0) return [];
    const rangeParams = rangeParameters(prefixes);
    const typed = types.length > 0 && types.length <= MAX_MERGED_TYPES;
    if (prefixes.length > 0) {
      const window = limit * this.windowFactor;
      const rows = this.rows('window', forwards, prefixes, types.length, [
        bound,
        window,
        ...rangeParams,
        ...types,
        limit,
      ]);
      if (rows.length >= limit || this.rowsBeyond(forwards, bound) <= window) return rows;
      const probe = this.statement('probe', forwards, prefixes, 0);
      if ((probe.get(...rangeParams, this.narrowPrefixCap) as number) < this.narrowPrefixCap) {
        return this.rows('narrow', forwards, prefixes, types.length, [
          ...rangeParams,
          bound,
          ...types,
          limit,
        ]);
      }
    }
    if (typed) {
      const params: unknown[] = [];
      for (const type of types) params.push(type, bound, ...rangeParams);
      params.push(limit);
      return this.rows('types', forwards, prefixes, types.length, params);
    }
    return this.rows('scan', forwards, prefixes, types.length, [bound, ...rangeParams, ...types, limit]);
  }

  /** An upper limit on the rows beyond the bound: positions are distinct integers from 0 to the head. */
  private rowsBeyond(forwards: boolean, bound: number): number {
    if (!forwards) return Math.max(0, bound);
    const head = (this.lastPosition.get() as number | null) ?? -1;
    return Math.max(0, head - bound);
  }

  private rows(
    plan: Plan,
    forwards: boolean,
    prefixes: readonly PrefixRange[],
    typeCount: number,
    params: unknown[],
  ): EventRow[] {
    return decodeRows(
      this.statement(plan, forwards, prefixes, typeCount).all(...params) as unknown[][],
      this.codec,
    );
  }

  private statement(
    plan: Plan,
    forwards: boolean,
    prefixes: readonly PrefixRange[],
    typeCount: number,
  ): Database.Statement<unknown[], unknown> {
    const shape = prefixes.map((range) => (range.high === null ? 'o' : 'c')).join('');
    const key = `${plan}|${forwards ? 'f' : 'b'}|${shape}|${typeCount}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      const prepared = this.db.prepare(buildSql(plan, forwards, prefixes, typeCount));
      statement = plan === 'probe' ? prepared.pluck() : prepared.raw();
      this.statements.set(key, statement);
    }
    return statement;
  }
}

function rangeParameters(prefixes: readonly PrefixRange[]): string[] {
  const params: string[] = [];
  for (const range of prefixes) {
    params.push(range.low);
    if (range.high !== null) params.push(range.high);
  }
  return params;
}

/** `plus` turns the column into an expression so SQLite cannot pick the stream index for it. */
function rangeSql(prefixes: readonly PrefixRange[], plus: boolean): string {
  const column = plus ? '+stream' : 'stream';
  const terms = prefixes.map((range) =>
    range.high === null ? `${column} >= ?` : `(${column} >= ? AND ${column} < ?)`,
  );
  return `(${terms.join(' OR ')})`;
}

function placeholders(count: number): string {
  return new Array<string>(count).fill('?').join(', ');
}

function buildSql(
  plan: Plan,
  forwards: boolean,
  prefixes: readonly PrefixRange[],
  typeCount: number,
): string {
  const cmp = forwards ? '>' : '<';
  const order = forwards ? 'ASC' : 'DESC';
  const residualTypes = typeCount > 0 ? ` AND +type_id IN (${placeholders(typeCount)})` : '';
  switch (plan) {
    case 'probe':
      return (
        `SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY ${STREAM_INDEX}` +
        ` WHERE ${rangeSql(prefixes, false)} LIMIT ?)`
      );
    case 'window':
      // The inner LIMIT bounds the rows walked; SQLite runs the subquery as a co-routine, in log order.
      return (
        `SELECT * FROM (SELECT ${EVENT_COLUMNS_READ} FROM events WHERE position ${cmp} ?` +
        ` ORDER BY position ${order} LIMIT ?) WHERE ${rangeSql(prefixes, false)}` +
        `${typeCount > 0 ? ` AND type_id IN (${placeholders(typeCount)})` : ''} LIMIT ?`
      );
    case 'narrow':
      return (
        `SELECT ${EVENT_COLUMNS_READ} FROM events INDEXED BY ${STREAM_INDEX}` +
        ` WHERE ${rangeSql(prefixes, false)} AND position ${cmp} ?${residualTypes}` +
        ` ORDER BY position ${order} LIMIT ?`
      );
    case 'types': {
      // SQLite merges ordered UNION ALL arms lazily, so a page reads about `limit` rows whatever the types.
      const residualRange = prefixes.length > 0 ? ` AND ${rangeSql(prefixes, true)}` : '';
      const arm =
        `SELECT ${EVENT_COLUMNS_READ} FROM events INDEXED BY ${TYPE_INDEX}` +
        ` WHERE type_id = ? AND position ${cmp} ?${residualRange}`;
      return `${new Array<string>(typeCount).fill(arm).join(' UNION ALL ')} ORDER BY position ${order} LIMIT ?`;
    }
    case 'scan': {
      const residualRange = prefixes.length > 0 ? ` AND ${rangeSql(prefixes, true)}` : '';
      return (
        `SELECT ${EVENT_COLUMNS_READ} FROM events WHERE position ${cmp} ?${residualRange}${residualTypes}` +
        ` ORDER BY position ${order} LIMIT ?`
      );
    }
  }
}
