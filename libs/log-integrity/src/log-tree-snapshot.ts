import { comparePositions, type LogPosition } from '@ledger/event-store';
import { MerkleTree, type TreeSnapshot } from './merkle-tree';

/**
 * The tree over the log and each leaf's log position, as they stood when taken (`TreeChecker.snapshot`): shared
 * memory, so an export running on a worker thread proves its records without copying the tree.
 */
export interface LogTreeSnapshot {
  readonly tree: TreeSnapshot;
  readonly commits: SharedArrayBuffer;
  readonly prepares: SharedArrayBuffer;
}

/** Reads a snapshot: the leaf of a log position, and audit paths at any size it holds. */
export class LogTreeView {
  readonly tree: MerkleTree;
  private readonly commits: BigUint64Array;
  private readonly prepares: BigUint64Array;

  constructor(snapshot: LogTreeSnapshot) {
    this.tree = MerkleTree.fromSnapshot(snapshot.tree);
    this.commits = new BigUint64Array(snapshot.commits);
    this.prepares = new BigUint64Array(snapshot.prepares);
  }

  get size(): number {
    return this.tree.size;
  }

  /** The leaf index of the event at `position` among the first `size` leaves; null when none is there. */
  leafIndexOf(position: LogPosition, size = this.size): number | null {
    let low = 0;
    let high = Math.min(size, this.size) - 1;
    // Leaves are in log order, so their positions ascend.
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const order = comparePositions(
        { commit: this.commits[middle], prepare: this.prepares[middle] },
        position,
      );
      if (order === 0) return middle;
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return null;
  }
}
