/** Stands for "the stream has no events". */
export const NO_STREAM = -1;

/**
 * Foreign commits spanning more positions than this are not inspected stream by stream: forgetting every
 * remembered revision costs less than listing the streams of a large import.
 */
const RECONCILE_SCAN_LIMIT = 10_000;

/**
 * The last revision of recently written streams, so an append can check its expected revision without a
 * query. A remembered revision is only a hint: it is true at `validAt`, the log head this process last saw
 * inside a write transaction. Another connection (the CLI's import, a backup tool) may append to the same
 * file at any time, so every write transaction first reconciles the cache with the database's head, and a
 * revision that would refuse an append is checked against the database before the refusal is believed.
 */
export class RevisionCache {
  private readonly revisions = new Map<string, number>();
  private validAt: number;

  constructor(
    private readonly capacity: number,
    head: number,
  ) {
    this.validAt = head;
  }

  get size(): number {
    return this.revisions.size;
  }

  get(stream: string): number | undefined {
    return this.revisions.get(stream);
  }

  remember(stream: string, revision: number): void {
    if (!this.revisions.has(stream) && this.revisions.size >= this.capacity) {
      // Map iteration order is insertion order: forget the stream remembered longest ago.
      const oldest = this.revisions.keys().next().value;
      if (oldest !== undefined) this.revisions.delete(oldest);
    }
    this.revisions.set(stream, revision);
  }

  forget(stream: string): void {
    this.revisions.delete(stream);
  }

  /**
   * Runs inside a write transaction, with the database's head. Anything committed after `validAt` was written
   * by another connection (this one's own commits advance `validAt`): the streams it touched are forgotten,
   * so their next append reads the revision from the database. A head below `validAt` means the file was
   * replaced under this process; nothing remembered can be trusted then.
   */
  reconcile(dbHead: number, streamsWrittenAfter: (position: number) => Iterable<string>): void {
    if (dbHead === this.validAt) return;
    if (dbHead < this.validAt || dbHead - this.validAt > RECONCILE_SCAN_LIMIT) {
      this.revisions.clear();
    } else if (this.revisions.size > 0) {
      for (const stream of streamsWrittenAfter(this.validAt)) this.revisions.delete(stream);
    }
    this.validAt = dbHead;
  }

  /** This process committed up to `head`; what it remembered while doing so is true there. */
  committedUpTo(head: number): void {
    this.validAt = head;
  }
}
