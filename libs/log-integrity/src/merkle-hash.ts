import * as crypto from 'node:crypto';

/** Bytes of one SHA-256 hash: every node, leaf and root of the tree. */
export const HASH_BYTES = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = 0x01;

// One-shot hashing (Node ≥ 20.12) skips the Hash object a `createHash` chain allocates per call.
const oneShot = (
  crypto as unknown as { hash?: (algorithm: string, data: Uint8Array | string, encoding: 'latin1') => string }
).hash;

/**
 * SHA-256 of `data`, whatever prefix it already carries (the leaf hasher writes 0x00 before each leaf). The digest
 * is asked for as a latin1 string (one byte a character): Node hands a short string back several times faster
 * than a new Buffer made in C++, which on the tree's hot path is most of what a hash costs; `Buffer.from` of it
 * is a slice of Node's buffer pool.
 */
export function sha256(data: Uint8Array | string): Buffer {
  return Buffer.from(digestLatin1(data), 'latin1');
}

/** A string is hashed as its UTF-8 bytes. */
function digestLatin1(data: Uint8Array | string): string {
  return oneShot
    ? oneShot('sha256', data, 'latin1')
    : crypto.createHash('sha256').update(data).digest('binary');
}

/** `sha256(data)` written into `out` at `offset`, with no Buffer made for it at all. */
export function sha256Into(data: Uint8Array, out: Buffer, offset: number): void {
  out.write(digestLatin1(data), offset, HASH_BYTES, 'latin1');
}

/** RFC 9162 §2.1.1: the hash of a leaf is SHA-256(0x00 ‖ leaf bytes). */
export function hashLeaf(leafBytes: Buffer): Buffer {
  return sha256(Buffer.concat([LEAF_PREFIX, leafBytes]));
}

const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES);
nodeInput[0] = NODE_PREFIX;

/** `hashLeaf` of the UTF-8 bytes of `text`, without building them: the hot path of the tree. */
export function hashLeafText(text: string): Buffer {
  // U+0000 encodes as the single byte 0x00, the leaf prefix.
  return sha256(`\u0000${text}`);
}

/** RFC 9162 §2.1.1: an interior node is SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Buffer, right: Buffer): Buffer {
  left.copy(nodeInput, 1);
  right.copy(nodeInput, 1 + HASH_BYTES);
  return sha256(nodeInput);
}

/**
 * `hashChildren` of the two hashes that lie side by side at `offset` in `source` (a level of the tree: a left
 * child and its right sibling), written into `out` at `outOffset`.
 */
export function hashSiblingsInto(source: Buffer, offset: number, out: Buffer, outOffset: number): void {
  source.copy(nodeInput, 1, offset, offset + 2 * HASH_BYTES);
  sha256Into(nodeInput, out, outOffset);
}

/** The root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_TREE_ROOT: Buffer = crypto.createHash('sha256').digest();

/** The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

export const HEX_HASH = /^[0-9a-f]{64}$/;

export function toHex(hash: Buffer): string {
  return hash.toString('hex');
}

/** Parses a lowercase hex hash; null when it is not one. */
export function fromHex(text: unknown): Buffer | null {
  return typeof text === 'string' && HEX_HASH.test(text) ? Buffer.from(text, 'hex') : null;
}
