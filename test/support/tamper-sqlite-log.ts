import * as path from 'node:path';
// The tests play an attacker with write access to events.sqlite3, which means going around the adapter.
// eslint-disable-next-line no-restricted-imports
import Database from 'better-sqlite3';

interface Row {
  position: number;
  event_id: string;
  stream: string;
  revision: number;
  type: string;
  data: string;
  metadata: string | null;
}

/** Direct edits of an embedded log (the service must not be running on it). */
export class SqliteLogTamperer {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = new Database(path.join(dataDir, 'events.sqlite3'));
  }

  rows(): Row[] {
    return this.db.prepare('SELECT * FROM events ORDER BY position').all() as Row[];
  }

  /** Leaf index of the row at `position`: how many rows come before it. */
  leafIndexOf(position: number): number {
    return (
      this.db.prepare('SELECT count(*) AS n FROM events WHERE position < ?').get(position) as { n: number }
    ).n;
  }

  editData(position: number, field: string, value: string): void {
    this.db
      .prepare(`UPDATE events SET data = json_set(data, ?, ?) WHERE position = ?`)
      .run(`$.${field}`, value, position);
  }

  /** The row's data text rewritten, whatever it parses to (say, whitespace added where JSON allows it). */
  setDataText(position: number, text: string): void {
    this.db.prepare('UPDATE events SET data = ? WHERE position = ?').run(text, position);
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
          'INSERT INTO events (position, event_id, stream, revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(position, row.event_id, row.stream, row.revision, row.type, row.data, row.metadata);
    })();
  }

  close(): void {
    this.db.close();
  }
}
