import { parentPort, workerData } from 'node:worker_threads';
import { HASH_BYTES, sha256Into } from './merkle-hash';
import type { LeafHashAnswer, LeafHashRequest, LeafHashWorkerData } from './leaf-hasher';

/**
 * Hashes leaves, and the interior nodes they complete, for the tree on the main thread. It keeps only the tree's
 * right edge (the last node of every level), so each batch of leaves comes back as the exact sequence of hashes
 * `MerkleTree.append` would have computed: per leaf its hash, then each parent it completes. Every hash is
 * written straight into the answer's buffer: no Buffer per hash.
 */
const data = workerData as LeafHashWorkerData;
/** The right edge: level h's last node at h × 32. */
const edge = Buffer.alloc(64 * HASH_BYTES);
data.edge.forEach((hash, level) => edge.set(hash, level * HASH_BYTES));
let size = data.size;
/** RFC 9162: an interior node is SHA-256(0x01 ‖ left ‖ right). */
const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES);
nodeInput[0] = 0x01;

parentPort?.on('message', (request: LeafHashRequest) => {
  const count = request.ends.length;
  // A batch of n leaves completes fewer than n + log2(size + n) parents.
  const needed = (2 * count + 64) * HASH_BYTES;
  const out =
    request.spare !== null && request.spare.byteLength >= needed
      ? Buffer.from(request.spare)
      : Buffer.allocUnsafeSlow(Math.max(needed, 2 * (request.spare?.byteLength ?? 0)));
  const input = Buffer.from(request.bytes);
  let length = 0;
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = request.ends[i];
    // Each input already starts with the leaf prefix 0x00 (RFC 9162: SHA-256(0x00 ‖ leaf bytes)).
    let node = length;
    sha256Into(input.subarray(start, end), out, length);
    length += HASH_BYTES;
    start = end;
    let level = 0;
    let at = size++;
    while (at % 2 === 1) {
      edge.copy(nodeInput, 1, level * HASH_BYTES, (level + 1) * HASH_BYTES);
      out.copy(nodeInput, 1 + HASH_BYTES, node, node + HASH_BYTES);
      node = length;
      sha256Into(nodeInput, out, length);
      length += HASH_BYTES;
      level++;
      at = (at - 1) / 2;
    }
    out.copy(edge, level * HASH_BYTES, node, node + HASH_BYTES);
  }
  const answer: LeafHashAnswer = { hashes: out.buffer as ArrayBuffer, length, bytes: request.bytes };
  parentPort?.postMessage(answer, [answer.hashes, answer.bytes]);
});
