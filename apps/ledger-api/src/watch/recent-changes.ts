import { comparePositions, type LogPosition } from '@ledger/event-store';

/**
 * Positions of the last `capacity` relationship changes, oldest first, in a fixed ring of two 64-bit arrays
 * (16 bytes a change, whatever the traffic). It says which resume tokens are still served: a token before the
 * oldest kept change would replay more history than the feed promises to replay.
 */
export class RecentChanges {
  private readonly commits: BigUint64Array;
  private readonly prepares: BigUint64Array;
  private start = 0;
  private size = 0;
  /** True while the ring holds every change since the log began (nothing evicted, nothing left unread). */
  private holdsAll = true;

  constructor(readonly capacity: number) {
    this.commits = new BigUint64Array(capacity);
    this.prepares = new BigUint64Array(capacity);
  }

  /** Appends a change's position (positions arrive in log order). */
  push(position: LogPosition): void {
    const newest = this.newest();
    if (newest && comparePositions(position, newest) <= 0) return;
    const at = (this.start + this.size) % this.capacity;
    this.commits[at] = position.commit;
    this.prepares[at] = position.prepare;
    if (this.size < this.capacity) this.size++;
    else {
      this.start = (this.start + 1) % this.capacity;
      this.holdsAll = false;
    }
  }

  /** Marks that changes older than the ring's oldest exist in the log (the start-up read stopped short). */
  markIncomplete(): void {
    this.holdsAll = false;
  }

  oldest(): LogPosition | null {
    return this.size === 0 ? null : this.at(this.start);
  }

  private newest(): LogPosition | null {
    return this.size === 0 ? null : this.at((this.start + this.size - 1) % this.capacity);
  }

  private at(index: number): LogPosition {
    return { commit: this.commits[index], prepare: this.prepares[index] };
  }

  /** Can a feed resume after `position` and replay at most `capacity` changes? */
  canResumeAfter(position: LogPosition): boolean {
    const oldest = this.oldest();
    return this.holdsAll || oldest === null || comparePositions(position, oldest) >= 0;
  }
}
