import { randomUUID } from 'node:crypto';
import {
  hashLeafText,
  MerkleTree,
  TreeChecker,
  verifyConsistency,
  verifyInclusion,
} from '@ledger/log-integrity';
import { median } from '../lib/stats';
import type { Suite } from '../lib/types';

const LEAVES = 1_000_000;

function microseconds(work: () => void, times: number): number {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    work();
    samples.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  return median(samples);
}

/**
 * log-integrity: what the Merkle tree costs per million events. A tree of 1M leaves (the checker, as the service
 * keeps it: levels, positions and id fingerprints), then the median time of an audit path, a consistency proof
 * and their verification at random sizes, and the size of the state. Figures only, no baseline: the ingest cost
 * is `ingest.embedded.tree`.
 */
export const logIntegrity: Suite = async (context, log) => {
  const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const checker = new TreeChecker({ key: null, foreignHeads: 'ignore' });
  const started = process.hrtime.bigint();
  for (let i = 0; i < LEAVES; i++) {
    checker.add({
      eventId: randomUUID(),
      stream: `views-${i % 16}`,
      revision: BigInt(i >> 4),
      type: 'MediaViewed',
      dataJson: JSON.stringify({
        viewerId: `user-${i % 40_000}`,
        deviceId: `cam-${i % 20_000}`,
        mediaId: `m-${i}`,
        mediaType: 'thumbnail',
        action: 'delivered',
        occurredAt: '2024-02-16T10:00:00.000Z',
        recordedAt: '2024-02-16T10:00:00.000Z',
      }),
      metadataJson: '{}',
      position: { commit: BigInt(i), prepare: BigInt(i) },
    });
  }
  const buildSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  log(`built a tree of ${LEAVES} leaves in ${buildSeconds.toFixed(1)} s`);
  const tree: MerkleTree = checker.tree;
  const times = context.quick ? 500 : 2000;
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const size = () => LEAVES - random(LEAVES / 2);
  const inclusion = microseconds(() => {
    const n = size();
    tree.inclusionProof(random(n), n);
  }, times);
  const consistency = microseconds(() => {
    const n = size();
    tree.consistencyProof(1 + random(n - 1), n);
  }, times);
  const root = microseconds(() => tree.root(size()), times);
  const verifyIncl = microseconds(() => {
    const n = size();
    const m = random(n);
    verifyInclusion(tree.leafHash(m), m, n, tree.inclusionProof(m, n), tree.root(n));
  }, times);
  const verifyCons = microseconds(() => {
    const n = size();
    const m = 1 + random(n - 1);
    verifyConsistency(m, n, tree.consistencyProof(m, n), tree.root(m), tree.root(n));
  }, times);
  const lookup = microseconds(() => checker.candidatesFor(randomUUID()), context.quick ? 50 : 200);
  const leafHash = microseconds(
    () => hashLeafText('{"eventId":"0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10"}'),
    10_000,
  );
  return {
    results: [],
    notes: [
      `log-integrity, tree of ${LEAVES.toLocaleString('en-US')} leaves: built (leaf bytes + hashing + levels + index) in ${buildSeconds.toFixed(1)} s; ` +
        `memory ${((heapAfter - heapBefore) / 2 ** 20).toFixed(0)} MiB; recorded state on disk 32 B/leaf = ${((LEAVES * 32) / 2 ** 20).toFixed(1)} MiB.`,
      `log-integrity, medians over ${times} random sizes in [500k, 1M]: audit path ${inclusion.toFixed(1)} µs, consistency proof ${consistency.toFixed(1)} µs, ` +
        `root of an earlier size ${root.toFixed(1)} µs; proof + verification ${verifyIncl.toFixed(1)} µs (inclusion), ${verifyCons.toFixed(1)} µs (consistency); ` +
        `event-id lookup (fingerprint scan of 1M, before the one-event read that confirms it) ${lookup.toFixed(0)} µs; one leaf hash ${leafHash.toFixed(2)} µs.`,
    ],
  };
};
