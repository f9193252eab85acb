import type Database from 'better-sqlite3';

const DEFAULT_POLL_MS = 200;

/**
 * Another process (the CLI's import, say) may append to the same file; its commits wake no one here.
 * `PRAGMA data_version` changes exactly when another connection has committed, so polling it while anyone
 * needs to know lets live subscribers see those events within a fraction of a second.
 *
 * The watcher only wakes readers. Writers never rely on it: every write transaction reconciles the stream
 * revisions it remembers with the database itself (see `RevisionCache.reconcile`), so a foreign commit made
 * between two polls cannot mislead an append.
 */
export class ForeignCommitWatcher {
  private timer: NodeJS.Timeout | undefined;
  private dataVersion = -1;

  constructor(
    private readonly db: Database.Database,
    /**
     * Called after another connection committed. Returns false when it cannot tell yet whose commit it was
     * (the store's own writer thread may have committed a group it has not reported): the change is then
     * looked at again at the next poll.
     */
    private readonly onForeignCommit: () => boolean,
    private readonly stillNeeded: () => boolean,
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {}

  /** Starts polling if it is not already running. */
  ensureRunning(): void {
    if (this.timer !== undefined) return;
    this.dataVersion = this.readVersion() ?? -1;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(): void {
    if (!this.stillNeeded()) {
      this.stop();
      return;
    }
    const version = this.readVersion();
    if (version === undefined || version === this.dataVersion) return;
    if (this.onForeignCommit()) this.dataVersion = version;
  }

  private readVersion(): number | undefined {
    try {
      return this.db.pragma('data_version', { simple: true }) as number;
    } catch {
      // A closed or failing connection: the store reports that through its own calls.
      return undefined;
    }
  }
}
