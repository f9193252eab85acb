import type Database from 'better-sqlite3';

/**
 * The settings every connection to the log uses, the store's own and its writer thread's alike.
 * FULL makes every commit fsync the WAL: an acknowledged append survives a crash or power loss. Group commit
 * is what keeps that affordable.
 */
export function configureConnection(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  db.pragma('mmap_size = 268435456');
  db.pragma('journal_size_limit = 67108864');
}
