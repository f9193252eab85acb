import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BackupProgress {
  readonly totalPages: number;
  readonly remainingPages: number;
}

/**
 * Copies the embedded log through SQLite's online backup API: a consistent point-in-time copy taken while the
 * service keeps writing. The copy is written beside the target and renamed, so a failed backup leaves nothing
 * that looks like a good one.
 */
export async function backupSqliteLog(
  dataDir: string,
  target: string,
  onProgress?: (progress: BackupProgress) => void,
  fileName = 'events.sqlite3',
): Promise<{ file: string; bytes: number }> {
  const source = path.join(dataDir, fileName);
  if (!fs.existsSync(source)) throw new Error(`no embedded event log at ${source}`);
  const resolved = path.resolve(target);
  if (fs.existsSync(resolved)) throw new Error(`${resolved} already exists; refusing to overwrite a backup`);
  const partial = `${resolved}.${process.pid}.partial`;
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        onProgress?.({ totalPages, remainingPages });
        return 1000;
      },
    });
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  } finally {
    db.close();
  }
  fs.renameSync(partial, resolved);
  return { file: resolved, bytes: fs.statSync(resolved).size };
}
