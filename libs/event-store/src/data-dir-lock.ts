/** Who holds a data dir, as its holder wrote it down next to the lock. */
export interface DataDirLockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** What holds it, e.g. `ledger-api`. */
  readonly program: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirLockHolder | null,
  ) {
    super(
      `data dir ${dataDir} is in use by another ledger service ` +
        (holder
          ? `(${holder.program}, pid ${holder.pid} on host ${holder.host}, started ${holder.startedAt})`
          : '(its holder left no details)') +
        `; only one service may run on a data dir: stop that one first, or give this one its own LEDGER_DATA_DIR`,
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly holder: DataDirLockHolder;
  /** The holder of a lock left behind by a process that is gone, which this lock took over; else null. */
  readonly tookOverFrom: DataDirLockHolder | null;
  release(): void;
}

/**
 * Takes the data dir for this process alone (one service per data dir), or throws `DataDirLockedError`
 * naming the holder. The lock is an operating-system file lock (SQLite's), so it dies with its process:
 * a dead holder's lock is free again at once, with no staleness guess.
 */
export async function lockDataDir(dataDir: string, program: string): Promise<DataDirLock> {
  const { acquireDataDirLock } = await import('./sqlite/data-dir-lock');
  return acquireDataDirLock(dataDir, program);
}
