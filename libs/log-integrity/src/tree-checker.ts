import { positionToToken, type LogPosition, type StoredEvent } from '@ledger/event-store';
import { leafHashOf } from './leaf-bytes';
import type { LogTreeSnapshot } from './log-tree-snapshot';
import { HASH_BYTES, toHex } from './merkle-hash';
import { MerkleTree } from './merkle-tree';
import {
  checkHeadSignature,
  isTreeHeadEvent,
  parseTreeHead,
  type TreeHead,
  type TreeHeadKey,
} from './tree-head';

/** What is wrong with a log, by kind; `leafIndex`/`position` name the first place it shows when known. */
export interface TamperFinding {
  readonly kind:
    | 'leaf-differs'
    | 'truncated'
    | 'head-mismatch'
    | 'forged-head'
    | 'foreign-head'
    | 'malformed-head'
    | 'head-ahead';
  readonly message: string;
  readonly leafIndex?: number;
  readonly position?: string;
}

export interface TreeCheckerOptions {
  /** The leaf hashes the ledger recorded (the tree state in the data dir), to compare the log against. */
  readonly recorded?: { readonly leaves: Buffer; readonly count: number };
  /** Checks every head event signed by this key; null checks nothing but the shape. */
  readonly key: TreeHeadKey | null;
  /** A head signed by another key: a finding (the CLI), or ignored and counted (a service on a shared log). */
  readonly foreignHeads: 'tampered' | 'ignore';
}

/**
 * Recomputes the tree event by event, in log order, and checks it as it goes: each leaf against the one the
 * ledger recorded, each head event of the log against the tree at the head's size. The first finding sticks;
 * later events still grow the tree (so proofs can still be computed for a report) but are not trusted.
 */
export class TreeChecker {
  readonly tree = new MerkleTree();
  private finding: TamperFinding | null = null;
  private readonly heads = new Map<number, TreeHead>();
  private latest: TreeHead | null = null;
  private headsChecked = 0;
  private foreign = 0;
  private leavesSinceHead = 0;
  private recorded: { readonly leaves: Buffer; readonly count: number } | null;
  /** Leaf index → position (for an inclusion proof by event id, and for naming findings). */
  private commits = sharedPositions(1024);
  private prepares = sharedPositions(1024);
  private fingerprints = new Uint32Array(1024);

  constructor(private readonly options: TreeCheckerOptions) {
    this.recorded = options.recorded && options.recorded.count > 0 ? options.recorded : null;
  }

  get size(): number {
    return this.tree.size;
  }

  get tampered(): TamperFinding | null {
    return this.finding;
  }

  get latestHead(): TreeHead | null {
    return this.latest;
  }

  /** Heads of our key whose root matched the recomputed tree. */
  get verifiedHeads(): number {
    return this.headsChecked;
  }

  get foreignHeadCount(): number {
    return this.foreign;
  }

  /** Events other than heads appended since the last head of ours. */
  get unsignedLeaves(): number {
    return this.leavesSinceHead;
  }

  headOfSize(treeSize: number): TreeHead | null {
    return this.heads.get(treeSize) ?? null;
  }

  /** Every verified head in log order (ascending leaf of their event). */
  allHeads(): TreeHead[] {
    return [...this.heads.values()];
  }

  /** The tree and its leaves' positions as they stand, shared with whoever reads it (an export worker). */
  snapshot(): LogTreeSnapshot {
    return {
      tree: this.tree.snapshot(),
      commits: this.commits.buffer as SharedArrayBuffer,
      prepares: this.prepares.buffer as SharedArrayBuffer,
    };
  }

  positionOf(leafIndex: number): LogPosition {
    return { commit: this.commits[leafIndex], prepare: this.prepares[leafIndex] };
  }

  /** Leaf indexes whose event id may be `eventId` (a 32-bit fingerprint match; confirm against the log). */
  candidatesFor(eventId: string): number[] {
    const wanted = fingerprint(eventId);
    const found: number[] = [];
    const size = this.tree.size;
    for (let i = 0; i < size; i++) if (this.fingerprints[i] === wanted) found.push(i);
    return found;
  }

  /** Adds the next event of the log, as stored (`subscribeToAllStored`, or `toStoredEvent` of a read one). */
  add(event: StoredEvent): void {
    const leaf = leafHashOf(event);
    this.accept(event, leaf, 0);
    this.tree.append(leaf);
    this.afterAppend(event, this.tree.size - 1);
  }

  /**
   * `add` with the hashes computed elsewhere (`LeafHasher`): the event's leaf hash and the parents it completes
   * start at `offset` in `hashes`. Returns the offset of the next event's.
   */
  addHashed(event: StoredEvent, hashes: Buffer, offset: number): number {
    this.accept(event, hashes, offset);
    const next = this.tree.appendHashed(hashes, offset);
    this.afterAppend(event, this.tree.size - 1);
    return next;
  }

  /** Checks the event's leaf hash (at `offset` in `hashes`) against the recorded one, and remembers the event. */
  private accept(event: StoredEvent, hashes: Buffer, offset: number): void {
    const index = this.tree.size;
    this.remember(index, event);
    if (this.recorded && this.finding === null) {
      if (index < this.recorded.count) {
        const at = index * HASH_BYTES;
        if (hashes.compare(this.recorded.leaves, at, at + HASH_BYTES, offset, offset + HASH_BYTES) !== 0) {
          this.report({
            kind: 'leaf-differs',
            leafIndex: index,
            position: positionToToken(event.position),
            message:
              `leaf ${index} (position ${positionToToken(event.position)}, event ${event.eventId} in ${event.stream}) ` +
              `differs from the leaf the ledger recorded: the event was edited, deleted, reordered or inserted`,
          });
        }
      } else {
        // Past what was recorded: nothing left to compare; drop the reference.
        this.recorded = null;
      }
    }
  }

  private afterAppend(event: StoredEvent, index: number): void {
    if (isTreeHeadEvent(event)) this.checkHeadEvent(event, index);
    else this.leavesSinceHead++;
  }

  /** The log ended (caught up, or read to its end): a log shorter than what was recorded was cut. */
  end(): void {
    if (this.recorded && this.finding === null && this.tree.size < this.recorded.count) {
      this.report({
        kind: 'truncated',
        leafIndex: this.tree.size,
        message: `the log holds ${this.tree.size} events but the ledger recorded ${this.recorded.count}: it was truncated or replaced`,
      });
    }
    if (this.tree.size >= (this.recorded?.count ?? 0)) this.recorded = null;
  }

  /** Records a finding made outside the tree (an auditor's head, a failing store). */
  report(finding: TamperFinding): void {
    this.finding ??= finding;
  }

  private checkHeadEvent(event: StoredEvent, index: number): void {
    const parsed = parseTreeHead(parseJson(event.dataJson));
    const at = positionToToken(event.position);
    if (!parsed.ok) {
      this.report({
        kind: 'malformed-head',
        leafIndex: index,
        position: at,
        message: `head event at ${at}: ${parsed.problem}`,
      });
      return;
    }
    const head = parsed.head;
    if (this.options.key) {
      const signature = checkHeadSignature(head, this.options.key);
      if (!signature.ok) {
        if (signature.why === 'foreign-key' && this.options.foreignHeads === 'ignore') {
          this.foreign++;
          return;
        }
        this.report({
          kind: signature.why === 'foreign-key' ? 'foreign-head' : 'forged-head',
          leafIndex: index,
          position: at,
          message: `head event at ${at}: ${signature.message}`,
        });
        return;
      }
    }
    if (head.treeSize > index) {
      this.report({
        kind: 'head-ahead',
        leafIndex: index,
        position: at,
        message: `head event at ${at} claims ${head.treeSize} events but only ${index} precede it`,
      });
      return;
    }
    const root = toHex(this.tree.root(head.treeSize));
    if (root !== head.rootHash) {
      const previous = this.latest?.treeSize ?? 0;
      this.report({
        kind: 'head-mismatch',
        leafIndex: previous,
        position: at,
        message:
          `the head of size ${head.treeSize} signed ${head.timestamp} (event at ${at}) has root ${head.rootHash}, ` +
          `the log gives ${root}: an event among leaves ${previous}–${head.treeSize - 1} was changed`,
      });
      return;
    }
    this.headsChecked++;
    this.heads.set(head.treeSize, head);
    if (this.latest === null || head.treeSize >= this.latest.treeSize) this.latest = head;
    this.leavesSinceHead = 0;
  }

  private remember(index: number, event: StoredEvent): void {
    if (index >= this.commits.length) {
      const capacity = this.commits.length * 2;
      this.commits = grow(this.commits, sharedPositions(capacity));
      this.prepares = grow(this.prepares, sharedPositions(capacity));
      this.fingerprints = grow(this.fingerprints, new Uint32Array(capacity));
    }
    this.commits[index] = event.position.commit;
    this.prepares[index] = event.position.prepare;
    this.fingerprints[index] = fingerprint(event.eventId);
  }
}

/** Data the store holds that is not JSON (a foreign writer's) is no head: `parseTreeHead` says why. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sharedPositions(capacity: number): BigUint64Array {
  return new BigUint64Array(new SharedArrayBuffer(capacity * 8));
}

function grow<T extends BigUint64Array | Uint32Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

/** FNV-1a over the id's UTF-16 code units. */
function fingerprint(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
