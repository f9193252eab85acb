import { hashChildren, isPowerOfTwo } from './merkle-hash';

const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

/**
 * RFC 9162 §2.1.3.2: does `auditPath` lead from the leaf at `index` of a tree of `size` leaves to `root`?
 * Needs nothing but hashes, so an auditor can run it offline.
 */
export function verifyInclusion(
  leafHash: Buffer,
  index: number,
  size: number,
  auditPath: readonly Buffer[],
  root: Buffer,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  return rootFromInclusion(leafHash, index, size, auditPath)?.equals(root) ?? false;
}

/** The root an audit path implies, or null when the path has the wrong length for the index and size. */
export function rootFromInclusion(
  leafHash: Buffer,
  index: number,
  size: number,
  auditPath: readonly Buffer[],
): Buffer | null {
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of auditPath) {
    if (sn === 0) return null;
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

/**
 * RFC 9162 §2.1.4.2: is the tree of `fromSize` leaves with `fromRoot` a prefix of the tree of `toSize` with
 * `toRoot`? The empty tree is a prefix of every tree; equal sizes need an empty proof and equal roots.
 */
export function verifyConsistency(
  fromSize: number,
  toSize: number,
  proof: readonly Buffer[],
  fromRoot: Buffer,
  toRoot: Buffer,
): boolean {
  if (!Number.isSafeInteger(fromSize) || !Number.isSafeInteger(toSize) || fromSize < 0 || fromSize > toSize) {
    return false;
  }
  if (fromSize === 0) return proof.length === 0;
  if (fromSize === toSize) return proof.length === 0 && fromRoot.equals(toRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(fromSize) ? [fromRoot, ...proof] : [...proof];
  let fn = fromSize - 1;
  let sn = toSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}
