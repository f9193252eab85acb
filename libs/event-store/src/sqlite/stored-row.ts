import type Database from 'better-sqlite3';
import { DataCodec, encodeData, MAX_SHAPES, type EncodedData, type ShapeText } from './data-codec';

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
    this.reloadTypes();
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
