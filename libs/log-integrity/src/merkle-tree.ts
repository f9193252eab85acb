import {
  EMPTY_TREE_ROOT,
  hashChildren,
  hashSiblingsInto,
  HASH_BYTES,
  isPowerOfTwo,
  splitPoint,
} from './merkle-hash';

/** Shared memory, so a snapshot of the tree can be read by another thread (an export worker) without a copy. */
function sharedBytes(length: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(length));
}

/**
 * A growable array of 32-byte hashes in one buffer (no object per hash). It only ever appends, and growing
 * copies into a new buffer: a hash once written never changes in any buffer that held it, which is what makes
 * a snapshot safe to read while the tree grows.
 */
class HashArray {
  private buffer: Buffer;
  length = 0;

  constructor(capacity = 1024, existing?: { readonly buffer: SharedArrayBuffer; readonly count: number }) {
    if (existing) {
      this.buffer = Buffer.from(existing.buffer);
      this.length = existing.count;
    } else {
      this.buffer = sharedBytes(capacity * HASH_BYTES);
    }
  }

  snapshot(): { readonly buffer: SharedArrayBuffer; readonly count: number } {
    return { buffer: this.buffer.buffer as SharedArrayBuffer, count: this.length };
  }

  push(hash: Buffer): void {
    this.pushFrom(hash, 0);
  }

  /** Pushes the hash at `offset` of `source`, without a view of it. */
  pushFrom(source: Buffer, offset: number): void {
    this.makeRoom();
    source.copy(this.buffer, this.length * HASH_BYTES, offset, offset + HASH_BYTES);
    this.length++;
  }

  /** Pushes the parent of the hashes at `left` and `left + 1` of `children` (the level below), hashed in place. */
  pushParentOf(children: HashArray, left: number): void {
    this.makeRoom();
    hashSiblingsInto(children.buffer, left * HASH_BYTES, this.buffer, this.length * HASH_BYTES);
    this.length++;
  }

  private makeRoom(): void {
    if ((this.length + 1) * HASH_BYTES > this.buffer.length) {
      const grown = sharedBytes(this.buffer.length * 2);
      this.buffer.copy(grown, 0, 0, this.length * HASH_BYTES);
      this.buffer = grown;
    }
  }

  /** A view, not a copy: valid until the next push grows the buffer. */
  at(index: number): Buffer {
    return this.buffer.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  }

  bytes(from: number, to: number): Buffer {
    return this.buffer.subarray(from * HASH_BYTES, to * HASH_BYTES);
  }
}

export class TreeRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeRangeError';
  }
}

/**
 * An append-only RFC 9162 Merkle tree that keeps every complete subtree's hash: level h holds the roots of the
 * aligned subtrees of 2^h leaves. Each append hashes one leaf's worth of nodes (amortized one), and the root of
 * any earlier size, an audit path or a consistency proof needs O(log n) stored hashes and at most O(log n)
 * hashing for the incomplete right edge. About 64 bytes of memory per leaf.
 */
/** A tree of `size` leaves as stored at one moment: its levels' shared buffers, readable from any thread. */
export interface TreeSnapshot {
  readonly size: number;
  readonly levels: ReadonlyArray<{ readonly buffer: SharedArrayBuffer; readonly count: number }>;
}

export class MerkleTree {
  private readonly levels: HashArray[] = [new HashArray()];
  /**
   * A snapshot never grows, so the roots of its incomplete right-edge ranges (the only ones a proof hashes) can
   * be kept: an export proving many records at one size hashes each once, not once per record.
   */
  private edgeRoots: Map<string, Buffer> | null = null;

  /** A tree over a snapshot (`snapshot()`, possibly of another thread's tree); appending to it is a mistake. */
  static fromSnapshot(snapshot: TreeSnapshot): MerkleTree {
    const tree = new MerkleTree();
    tree.levels.length = 0;
    for (const level of snapshot.levels) tree.levels.push(new HashArray(0, level));
    if (tree.levels.length === 0) tree.levels.push(new HashArray());
    tree.edgeRoots = new Map();
    return tree;
  }

  /**
   * The tree as it stands, shared, not copied: later appends never change what it holds. Proofs of any size up
   * to this one can be computed from it.
   */
  snapshot(): TreeSnapshot {
    return { size: this.size, levels: this.levels.map((level) => level.snapshot()) };
  }

  get size(): number {
    return this.levels[0].length;
  }

  /** Appends one leaf hash (already `hashLeaf`ed); returns its index. */
  append(leafHash: Buffer): number {
    if (this.edgeRoots) throw new TreeRangeError('a snapshot of a tree cannot grow');
    const index = this.levels[0].length;
    this.levels[0].push(leafHash);
    let level = 0;
    let at = index;
    // A right child completes its parent; the parent may complete the next one up.
    while (at % 2 === 1) {
      const children = this.levels[level];
      level++;
      if (this.levels.length === level) this.levels.push(new HashArray());
      this.levels[level].pushParentOf(children, at - 1);
      at = (at - 1) / 2;
    }
    return index;
  }

  /**
   * Appends one leaf whose hashes were computed elsewhere (`LeafHasher`): at `offset` in `hashes`, the leaf's
   * hash, then each parent it completes, lowest first, as `append` would compute them. Returns the offset after
   * them.
   */
  appendHashed(hashes: Buffer, offset: number): number {
    const index = this.levels[0].length;
    let at = offset;
    this.levels[0].pushFrom(hashes, at);
    at += HASH_BYTES;
    let level = 0;
    for (let node = index; node % 2 === 1; node = (node - 1) / 2) {
      level++;
      if (this.levels.length === level) this.levels.push(new HashArray());
      this.levels[level].pushFrom(hashes, at);
      at += HASH_BYTES;
    }
    return at;
  }

  /** The last hash of every level, lowest first: all a continuation of the tree needs to know of it. */
  rightEdge(): Buffer[] {
    const edge: Buffer[] = [];
    for (const level of this.levels) if (level.length > 0) edge.push(Buffer.from(level.at(level.length - 1)));
    return edge;
  }

  leafHash(index: number): Buffer {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) {
      throw new TreeRangeError(`leaf ${index} is not in a tree of ${this.size}`);
    }
    return Buffer.from(this.levels[0].at(index));
  }

  /** The leaf hashes [from, to) as one buffer (a copy). */
  leafHashes(from: number, to: number): Buffer {
    return Buffer.from(this.levels[0].bytes(from, to));
  }

  /** MTH(D[0:size]), RFC 9162 §2.1.1; the empty tree's root for size 0. */
  root(size = this.size): Buffer {
    this.checkSize(size, 'tree size');
    return size === 0 ? Buffer.from(EMPTY_TREE_ROOT) : this.subtree(0, size);
  }

  /** PATH(index, D[0:size]), RFC 9162 §2.1.3.1: sibling hashes from the leaf up to the root. */
  inclusionProof(index: number, size = this.size): Buffer[] {
    this.checkSize(size, 'tree size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new TreeRangeError(`leaf ${index} is not in a tree of ${size}`);
    }
    const path: Buffer[] = [];
    this.path(index, 0, size, path);
    return path;
  }

  /** PROOF(from, D[0:to]), RFC 9162 §2.1.4.1; empty when from is 0 or equals to. */
  consistencyProof(from: number, to = this.size): Buffer[] {
    this.checkSize(to, 'tree size');
    if (!Number.isSafeInteger(from) || from < 0 || from > to) {
      throw new TreeRangeError(`cannot prove a tree of ${from} is a prefix of a tree of ${to}`);
    }
    const proof: Buffer[] = [];
    if (from > 0 && from < to) this.subproof(from, 0, to, true, proof);
    return proof;
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new TreeRangeError(`${what} ${size} is beyond the tree's ${this.size} leaves`);
    }
  }

  /** MTH(D[lo:hi]) for the ranges the RFC's recursion produces (lo is a multiple of the split). */
  private subtree(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (isPowerOfTwo(n) && lo % n === 0) {
      const level = Math.log2(n);
      return Buffer.from(this.levels[level].at(lo / n));
    }
    const key = `${lo}:${hi}`;
    const kept = this.edgeRoots?.get(key);
    if (kept) return Buffer.from(kept);
    const k = splitPoint(n);
    const root = hashChildren(this.subtree(lo, lo + k), this.subtree(lo + k, hi));
    this.edgeRoots?.set(key, Buffer.from(root));
    return root;
  }

  private path(m: number, lo: number, hi: number, out: Buffer[]): void {
    const n = hi - lo;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m - lo < k) {
      this.path(m, lo, lo + k, out);
      out.push(this.subtree(lo + k, hi));
    } else {
      this.path(m, lo + k, hi, out);
      out.push(this.subtree(lo, lo + k));
    }
  }

  private subproof(m: number, lo: number, hi: number, whole: boolean, out: Buffer[]): void {
    const n = hi - lo;
    if (m === n) {
      if (!whole) out.push(this.subtree(lo, hi));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.subproof(m, lo, lo + k, whole, out);
      out.push(this.subtree(lo + k, hi));
    } else {
      this.subproof(m - k, lo + k, hi, false, out);
      out.push(this.subtree(lo, lo + k));
    }
  }
}
