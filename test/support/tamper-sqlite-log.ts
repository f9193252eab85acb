import * as path from 'node:path';
// The tests play an attacker with write access to events.sqlite3, which means going around the adapter.
// eslint-disable-next-line no-restricted-imports
import Database from 'better-sqlite3';
import { eventIdOf, StoredRowCodec, storedEventId } from '../../libs/event-store/src/sqlite/stored-row';

interface Row {
  position: number;
  event_id: string;
  stream: string;
  revision: number;
  type: string;
  data: string;
  metadata: string | null;
}

/**
 * Direct edits of an embedded log (the service must not be running on it). Rows are shown and written in their
 * text form; the file's own form (schema version 2: id bytes, type ids, coded data) is the store's codec's. An
 * edited data text is stored as written (verbatim), which the store reads back byte for byte.
 */
export class SqliteLogTamperer {
  private readonly db: Database.Database;
  private readonly codec: StoredRowCodec;

  constructor(dataDir: string) {
    this.db = new Database(path.join(dataDir, 'events.sqlite3'));
    this.codec = new StoredRowCodec(this.db);
  }

  rows(): Row[] {
    const stored = this.db
      .prepare(
        'SELECT position, event_id, stream, revision, type_id, data, metadata FROM events ORDER BY position',
      )
      .all() as Array<Omit<Row, 'event_id' | 'type'> & { event_id: Buffer | string; type_id: number }>;
    return stored.map(({ event_id, type_id, data, ...row }) => ({
      ...row,
      event_id: eventIdOf(event_id),
      type: this.codec.typeName(type_id),
      data: this.codec.data.decode(data),
    }));
  }

  private dataAt(position: number): string {
    const stored = this.db
      .prepare('SELECT data FROM events WHERE position = ?')
      .pluck()
      .get(position) as string;
    return this.codec.data.decode(stored);
  }

  /** Leaf index of the row at `position`: how many rows come before it. */
  leafIndexOf(position: number): number {
    return (
      this.db.prepare('SELECT count(*) AS n FROM events WHERE position < ?').get(position) as { n: number }
    ).n;
  }

  editData(position: number, field: string, value: string): void {
    const data = JSON.parse(this.dataAt(position)) as Record<string, unknown>;
    data[field] = value;
    this.setDataText(position, JSON.stringify(data));
  }

  /** The row's data text rewritten, whatever it parses to (say, whitespace added where JSON allows it). */
  setDataText(position: number, text: string): void {
    this.db
      .prepare('UPDATE events SET data = ? WHERE position = ?')
      .run(this.codec.data.codedText(text, null, null), position);
  }

  delete(position: number): void {
    this.db.prepare('DELETE FROM events WHERE position = ?').run(position);
  }

  truncateAfter(position: number): void {
    this.db.prepare('DELETE FROM events WHERE position > ?').run(position);
  }

  /** Two rows change places in the log order. */
  swap(a: number, b: number): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE events SET position = -1 WHERE position = ?').run(a);
      this.db.prepare('UPDATE events SET position = ? WHERE position = ?').run(a, b);
      this.db.prepare('UPDATE events SET position = ? WHERE position = -1').run(b);
    })();
  }

  /** A forged row at `position`, everything from there on moved one place later. */
  insertAt(position: number, row: Omit<Row, 'position'>): void {
    this.db.transaction(() => {
      const shift = 1_000_000_000;
      this.db.prepare('UPDATE events SET position = position + ? WHERE position >= ?').run(shift, position);
      this.db.prepare('UPDATE events SET position = position - ? + 1 WHERE position >= ?').run(shift, shift);
      this.db
        .prepare(
          'INSERT INTO events (position, event_id, stream, revision, type_id, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          position,
          storedEventId(row.event_id),
          row.stream,
          row.revision,
          this.codec.internType(row.type),
          this.codec.codeData(row.data),
          row.metadata,
        );
    })();
  }

  close(): void {
    this.db.close();
  }
}
