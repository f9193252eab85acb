import { parentPort, workerData } from 'node:worker_threads';
import { hashChildren, hashLeafText } from './merkle-hash';
import type { LeafHashRequest, LeafHashWorkerData } from './leaf-hasher';

/**
 * Hashes leaves, and the interior nodes they complete, for the tree on the main thread. It keeps only the tree's
 * right edge (the last node of every level), so each batch of leaf texts comes back as the exact sequence of
 * hashes `MerkleTree.append` would have computed: per leaf its hash, then each parent it completes.
 */
const data = workerData as LeafHashWorkerData;
const edge: Buffer[] = data.edge.map((hash) => Buffer.from(hash));
let size = data.size;

parentPort?.on('message', (request: LeafHashRequest) => {
  const hashes: Buffer[] = [];
  let start = 0;
  for (const length of request.lengths) {
    let node = hashLeafText(request.joined.slice(start, (start += length)));
    hashes.push(node);
    let level = 0;
    let at = size++;
    while (at % 2 === 1) {
      node = hashChildren(edge[level], node);
      hashes.push(node);
      level++;
      at = (at - 1) / 2;
    }
    edge[level] = node;
  }
  const out = Buffer.concat(hashes);
  const bytes = out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
  parentPort?.postMessage(bytes, [bytes]);
});
