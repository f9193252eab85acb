import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { DataDirLockedError, type DataDirLock, type DataDirLockHolder } from '../data-dir-lock';

export const LOCK_FILE = 'service.lock';
/** Written by the holder once it has the lock: only there to name it in the error others get. */
export const HOLDER_FILE = 'service.lock.json';

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function readHolder(dataDir: string): DataDirLockHolder | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(dataDir, HOLDER_FILE), 'utf8')) as DataDirLockHolder;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

function writeHolder(dataDir: string, holder: DataDirLockHolder): void {
  const file = path.join(dataDir, HOLDER_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
  fs.renameSync(temp, file);
}

/** Opens the lock file and takes SQLite's exclusive lock on it, kept until the connection closes. */
function tryLock(dataDir: string): Database.Database | null {
  const db = new Database(path.join(dataDir, LOCK_FILE));
  try {
    db.pragma('busy_timeout = 0');
    // EXCLUSIVE locking mode keeps the lock after the transaction that took it, for the connection's life.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (error) {
    db.close();
    if (isBusy(error)) return null;
    throw error;
  }
}

export function acquireDataDirLock(dataDir: string, program: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = tryLock(dataDir);
  if (db === null) throw new DataDirLockedError(dataDir, readHolder(dataDir));
  // The kernel freed the lock of whoever wrote this, so that process is gone (or closed it without tidying).
  const previous = readHolder(dataDir);
  const holder: DataDirLockHolder = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    program,
  };
  try {
    writeHolder(dataDir, holder);
  } catch (error) {
    db.close();
    throw error;
  }
  let released = false;
  return {
    holder,
    tookOverFrom: previous,
    release: () => {
      if (released) return;
      released = true;
      const written = readHolder(dataDir);
      if (written?.pid === holder.pid && written.startedAt === holder.startedAt) {
        fs.rmSync(path.join(dataDir, HOLDER_FILE), { force: true });
      }
      db.close();
    },
  };
}
