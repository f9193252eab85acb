import type Database from 'better-sqlite3';
import {
  DataCodec,
  encodeData,
  MAX_SHAPES,
  PageDecoder,
  type EncodedData,
  type ShapeText,
} from './data-codec';

/** Shapes with enum values folded in are made only while the shape table is smaller than this. */
const FOLD_LIMIT = 512;

/** A canonical event id (lower-case UUID, as the append path returns every id) is kept as its 16 bytes. */
const CANONICAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `event_id` column's value for an id: 16 bytes for a canonical UUID, else the text itself. */
export function storedEventId(eventId: string): Buffer | string {
  return CANONICAL_ID.test(eventId) ? Buffer.from(eventId.replace(/-/g, ''), 'hex') : eventId;
}

/** The event id a stored `event_id` value stands for. */
export function eventIdOf(stored: Buffer | string): string {
  return typeof stored === 'string' ? stored : uuidOfHex(stored.toString('hex'));
}

/**
 * How reads select the event id: as text, not as the stored bytes, because better-sqlite3 hands every BLOB over
 * as a new Buffer, which measured slower than the rest of the row. A 16-byte id comes as 32 hex digits; an id
 * kept as text as `~` and the hex of its UTF-8 (so the two cannot be confused).
 */
export const EVENT_ID_AS_HEX = `iif(typeof(event_id) = 'blob', hex(event_id), '~' || hex(event_id))`;

const UUID_LENGTH = 36;
const UUID_HEX_LENGTH = 32;
const DASH = 45;
/** Sets the bit that lower-cases A–F and leaves the digits as they are. */
const LOWER_CASE_BIT = 0x20;

/**
 * Event ids of a page, from what `EVENT_ID_AS_HEX` selected: written as text into one buffer that becomes ONE
 * string, each id a slice of it (as for the data, `PageDecoder`): building each from five pieces put the
 * garbage collector on a bulk read's profile.
 */
export class EventIdPage {
  private buffer = Buffer.allocUnsafe(UUID_LENGTH * 1024);
  private count = 0;
  /** Ids kept as text, by index in the page. */
  private readonly texts = new Map<number, string>();

  /** Adds the id selected in `text` at `start`; returns where its text ends there. */
  add(text: string, start: number): number {
    if (text.charCodeAt(start) === TEXT_ID_MARK) {
      let end = text.indexOf(',', start);
      if (end < 0) end = text.length;
      this.texts.set(this.count++, Buffer.from(text.slice(start + 1, end), 'hex').toString('utf8'));
      return end;
    }
    if ((this.count + 1) * UUID_LENGTH > this.buffer.length) {
      const grown = Buffer.allocUnsafe(this.buffer.length * 2);
      this.buffer.copy(grown, 0, 0, this.count * UUID_LENGTH);
      this.buffer = grown;
    }
    const buffer = this.buffer;
    let at = this.count++ * UUID_LENGTH;
    for (let i = 0; i < UUID_HEX_LENGTH; i++) {
      if (i === 8 || i === 12 || i === 16 || i === 20) buffer[at++] = DASH;
      buffer[at++] = text.charCodeAt(start + i) | LOWER_CASE_BIT;
    }
    return start + UUID_HEX_LENGTH;
  }

  /** Forgets a page left unfinished (a read that failed half way). */
  discard(): void {
    this.count = 0;
    this.texts.clear();
  }

  /** Hands out the page's ids in the order they were added, and starts a new page. */
  finish(into: string[]): void {
    const page = this.buffer.toString('latin1', 0, this.count * UUID_LENGTH);
    for (let i = 0; i < this.count; i++) {
      into.push(this.texts.get(i) ?? page.slice(i * UUID_LENGTH, (i + 1) * UUID_LENGTH));
    }
    this.count = 0;
    this.texts.clear();
  }
}

const TEXT_ID_MARK = 126;

/** A UUID's text from its 32 lower-case hex digits. */
export function uuidOfHex(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * What schema version 2 keeps in place of the text an event was appended with — the event id as bytes, the
 * type as an id into `event_types`, the data coded against `event_data_shapes` (`data-codec.ts`) — and the way
 * back. One per connection: the writer interns new types and shapes inside its write transaction; a reader
 * that meets an id it has not seen reads the (append-only) tables again.
 */
export class StoredRowCodec {
  readonly data: DataCodec;
  /** For reads of many rows (one connection reads one page at a time). */
  readonly pages: PageDecoder;
  readonly ids = new EventIdPage();
  private readonly typeIds = new Map<string, number>();
  private readonly typeNames: Array<string | undefined> = [];
  private readonly selectTypes: Database.Statement<unknown[], unknown>;
  private readonly insertType: Database.Statement<unknown[], unknown>;
  private readonly typeIdOf: Database.Statement<unknown[], unknown>;
  private readonly insertShape: Database.Statement<unknown[], unknown>;
  private readonly shapeIdOf: Database.Statement<unknown[], unknown>;
  private readonly lastShapeId: Database.Statement<unknown[], unknown>;

  constructor(db: Database.Database) {
    this.selectTypes = db.prepare('SELECT id, name FROM event_types').raw();
    this.insertType = db.prepare('INSERT OR IGNORE INTO event_types (name) VALUES (?)');
    this.typeIdOf = db.prepare('SELECT id FROM event_types WHERE name = ?').pluck();
    this.insertShape = db.prepare('INSERT OR IGNORE INTO event_data_shapes (shape) VALUES (?)');
    this.shapeIdOf = db.prepare('SELECT id FROM event_data_shapes WHERE shape = ?').pluck();
    this.lastShapeId = db.prepare('SELECT max(id) FROM event_data_shapes').pluck();
    const selectShapes = db.prepare('SELECT id, shape FROM event_data_shapes').raw();
    this.data = new DataCodec(() => selectShapes.all() as Array<[number, ShapeText]>);
    this.pages = new PageDecoder(this.data);
    this.reloadTypes();
  }

  /** Starts a page of rows: forgets what a read that failed half way left. */
  beginPage(): void {
    this.ids.discard();
    this.pages.discard();
  }

  /** Forgets what it learnt: a rolled-back write transaction may have interned types or shapes it undid. */
  reload(): void {
    this.reloadTypes();
    this.data.reload();
  }

  /** The id of a type, interned if new. Only inside a write transaction. */
  internType(name: string): number {
    const known = this.typeIds.get(name);
    if (known !== undefined) return known;
    this.insertType.run(name);
    const id = this.typeIdOf.get(name) as number;
    this.typeIds.set(name, id);
    this.typeNames[id] = name;
    return id;
  }

  /**
   * The stored form of a data text, its shape interned if new. Only inside a write transaction. Once the shape
   * table holds `FOLD_LIMIT` shapes, a row whose folded shape is new is coded without folding: a field that
   * looked like an enum but takes many values then costs its bytes in the row, not a shape per value.
   */
  codeData(text: string): string {
    const folded = encodeData(text, true);
    if (folded === null) return this.data.codedText(text, null, null);
    let id = this.shapeId(folded.shape, FOLD_LIMIT);
    let encoded = folded;
    if (id === undefined) {
      encoded = encodeData(text, false) as EncodedData;
      id = this.shapeId(encoded.shape, MAX_SHAPES);
    }
    return this.data.codedText(text, encoded, id ?? null);
  }

  /** The id of a type this codec knows (committed), without touching the database. */
  knownTypeId(name: string): number | undefined {
    return this.typeIds.get(name);
  }

  /**
   * `codeData`'s answer when it needs no write: text that codes without a shape, or whose folded shape this
   * codec knows (committed). Undefined otherwise: `codeData` decides it inside the write transaction.
   */
  codeDataIfKnown(text: string): string | undefined {
    const folded = encodeData(text, true);
    if (folded === null) return this.data.codedText(text, null, null);
    const id = this.data.idOf(folded.shape);
    return id === undefined ? undefined : this.data.codedText(text, folded, id);
  }

  /** The id of a shape, interned if the table holds fewer than `limit` shapes; undefined if it is full. */
  private shapeId(shape: ShapeText, limit: number): number | undefined {
    const id = this.data.idOf(shape) ?? (this.shapeIdOf.get(shape) as number | undefined);
    if (id !== undefined) return id;
    if (((this.lastShapeId.get() as number | null) ?? 0) >= limit - 1) return undefined;
    this.insertShape.run(shape);
    return this.shapeIdOf.get(shape) as number;
  }

  /** The name of a stored type id. */
  typeName(id: number): string {
    let name = this.typeNames[id];
    if (name === undefined) {
      this.reloadTypes();
      name = this.typeNames[id];
      if (name === undefined)
        throw new Error(`a stored event names type ${id}, which the store does not hold`);
    }
    return name;
  }

  /** The ids of the named types that the store holds (a type never appended has none and matches nothing). */
  knownTypeIds(names: readonly string[]): number[] {
    if (names.some((name) => !this.typeIds.has(name))) this.reloadTypes();
    const ids: number[] = [];
    for (const name of names) {
      const id = this.typeIds.get(name);
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  private reloadTypes(): void {
    this.typeIds.clear();
    this.typeNames.length = 0;
    for (const [id, name] of this.selectTypes.all() as Array<[number, string]>) {
      this.typeIds.set(name, id);
      this.typeNames[id] = name;
    }
  }
}
