import * as crypto from 'node:crypto';

/** Bytes of one SHA-256 hash: every node, leaf and root of the tree. */
export const HASH_BYTES = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = 0x01;

// One-shot hashing (Node ≥ 20.12) skips the Hash object a `createHash` chain allocates per call.
const oneShot = (
  crypto as unknown as {
    hash?: (algorithm: string, data: Uint8Array | string, encoding: 'buffer' | 'latin1') => Buffer | string;
  }
).hash;

/** SHA-256 of `data`, whatever prefix it already carries (the leaf hasher writes 0x00 before each leaf). */
export function sha256(data: Uint8Array): Buffer {
  return oneShot
    ? (oneShot('sha256', data, 'buffer') as Buffer)
    : crypto.createHash('sha256').update(data).digest();
}

/**
 * `sha256(data)` written into `out` at `offset`. The digest is asked for as a latin1 string (one byte a
 * character): Node hands a short string back several times faster than a new Buffer, which on the tree's hot
 * path is most of what a hash costs.
 */
export function sha256Into(data: Uint8Array, out: Buffer, offset: number): void {
  const digest = oneShot
    ? (oneShot('sha256', data, 'latin1') as string)
    : crypto.createHash('sha256').update(data).digest('binary');
  out.write(digest, offset, HASH_BYTES, 'latin1');
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
  return oneShot
    ? (oneShot('sha256', `\u0000${text}`, 'buffer') as Buffer)
    : hashLeaf(Buffer.from(text, 'utf8'));
}

/** RFC 9162 §2.1.1: an interior node is SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Buffer, right: Buffer): Buffer {
  left.copy(nodeInput, 1);
  right.copy(nodeInput, 1 + HASH_BYTES);
  return sha256(nodeInput);
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
