import { createHash } from 'node:crypto';

/**
 * A second implementation of RFC 9162's Merkle tree, written from the RFC's recursive definitions alone and
 * sharing no code with libs/log-integrity: hashes are hex strings, the tree is the list of leaves, and proofs
 * are checked by rebuilding the roots recursively rather than by the RFC's bit-walking algorithms.
 */
const sha256 = (...parts: Buffer[]): string =>
  createHash('sha256').update(Buffer.concat(parts)).digest('hex');

export const referenceLeafHash = (bytes: Buffer): string => sha256(Buffer.from([0]), bytes);
const node = (left: string, right: string): string =>
  sha256(Buffer.from([1]), Buffer.from(left, 'hex'), Buffer.from(right, 'hex'));

function largestPowerOfTwoBelow(n: number): number {
  return 2 ** Math.ceil(Math.log2(n) - 1);
}

/** MTH(D[n]) over leaf hashes. */
export function referenceRoot(leaves: readonly string[]): string {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0];
  const k = largestPowerOfTwoBelow(leaves.length);
  return node(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

/** PATH(m, D[n]). */
export function referenceInclusionPath(m: number, leaves: readonly string[]): string[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m < k
    ? [...referenceInclusionPath(m, leaves.slice(0, k)), referenceRoot(leaves.slice(k))]
    : [...referenceInclusionPath(m - k, leaves.slice(k)), referenceRoot(leaves.slice(0, k))];
}

/** PROOF(m, D[n]). */
export function referenceConsistencyProof(m: number, leaves: readonly string[]): string[] {
  const sub = (mm: number, d: readonly string[], whole: boolean): string[] => {
    if (mm === d.length) return whole ? [] : [referenceRoot(d)];
    const k = largestPowerOfTwoBelow(d.length);
    return mm <= k
      ? [...sub(mm, d.slice(0, k), whole), referenceRoot(d.slice(k))]
      : [...sub(mm - k, d.slice(k), false), referenceRoot(d.slice(0, k))];
  };
  return m === 0 || m === leaves.length ? [] : sub(m, leaves, true);
}

/** The root an audit path implies, rebuilt by the same recursion that produced it; null if it does not fit. */
function rootFromPath(leaf: string, m: number, n: number, path: readonly string[]): string | null {
  if (n === 1) return path.length === 0 ? leaf : null;
  if (path.length === 0) return null;
  const k = largestPowerOfTwoBelow(n);
  const sibling = path[path.length - 1];
  const rest = path.slice(0, -1);
  if (m < k) {
    const left = rootFromPath(leaf, m, k, rest);
    return left === null ? null : node(left, sibling);
  }
  const right = rootFromPath(leaf, m - k, n - k, rest);
  return right === null ? null : node(sibling, right);
}

export function referenceVerifyInclusion(
  leaf: string,
  m: number,
  n: number,
  path: readonly string[],
  root: string,
): boolean {
  return m >= 0 && m < n && rootFromPath(leaf, m, n, path) === root;
}

/** Both roots a consistency proof implies (old, new), rebuilt recursively; null if it does not fit. */
function rootsFromProof(
  m: number,
  n: number,
  proof: readonly string[],
  whole: boolean,
  oldRoot: string,
): [string, string] | null {
  if (m === n) {
    if (whole) return proof.length === 0 ? [oldRoot, oldRoot] : null;
    return proof.length === 1 ? [proof[0], proof[0]] : null;
  }
  if (proof.length === 0) return null;
  const k = largestPowerOfTwoBelow(n);
  const last = proof[proof.length - 1];
  const rest = proof.slice(0, -1);
  if (m <= k) {
    const inner = rootsFromProof(m, k, rest, whole, oldRoot);
    return inner === null ? null : [inner[0], node(inner[1], last)];
  }
  const inner = rootsFromProof(m - k, n - k, rest, false, oldRoot);
  return inner === null ? null : [node(last, inner[0]), node(last, inner[1])];
}

export function referenceVerifyConsistency(
  m: number,
  n: number,
  proof: readonly string[],
  oldRoot: string,
  newRoot: string,
): boolean {
  if (m < 0 || m > n) return false;
  if (m === 0) return proof.length === 0;
  if (m === n) return proof.length === 0 && oldRoot === newRoot;
  const roots = rootsFromProof(m, n, proof, true, oldRoot);
  return roots !== null && roots[0] === oldRoot && roots[1] === newRoot;
}

/** The leaf bytes of an event as docs/audit-trail.md defines them, written from that text. */
export function referenceLeafBytes(event: {
  eventId: string;
  stream: string;
  revision: bigint;
  type: string;
  position: { commit: bigint; prepare: bigint };
  data: object;
  metadata: object;
}): Buffer {
  const members: Array<[string, string]> = [
    ['eventId', JSON.stringify(event.eventId)],
    ['stream', JSON.stringify(event.stream)],
    ['revision', JSON.stringify(String(event.revision))],
    ['type', JSON.stringify(event.type)],
    [
      'position',
      `{"commit":${JSON.stringify(String(event.position.commit))},"prepare":${JSON.stringify(String(event.position.prepare))}}`,
    ],
    ['data', JSON.stringify(event.data)],
    ['metadata', JSON.stringify(event.metadata)],
  ];
  return Buffer.from(`{${members.map(([key, value]) => `"${key}":${value}`).join(',')}}`, 'utf8');
}
