import { randomUUID } from 'node:crypto';
import type { ExportSigner } from '@ledger/audit-trail';
import { START, type EventStore } from '@ledger/event-store';
import type { ExportCut } from '@ledger/application';
import {
  headKeyOf,
  headSignerOf,
  recomputeTree,
  signTreeHead,
  toHex,
  TREE_HEADS_STREAM,
  treeHeadEvent,
} from '@ledger/log-integrity';
import { UsageError } from '../cli-context';

/**
 * Where `ledger export` cuts, as the service does: at a signed tree head, with the tree, so the manifest carries
 * the head and every record its inclusion proof. The tree is recomputed from the log (checking every head in it
 * against the log key); the latest head is reused when no event but heads came after it, else a new head over
 * the whole log is signed with the log key and appended to `ledger-heads`. A log that fails its integrity check
 * is not exported from.
 */
export async function cutAtSignedHead(
  store: EventStore,
  signer: ExportSigner,
  now: () => Date = () => new Date(),
): Promise<ExportCut & { readonly signedNow: boolean }> {
  const checker = await recomputeTree(store, headKeyOf(signer.publicKey));
  if (checker.tampered) {
    throw new UsageError(
      `the log fails its integrity check, so nothing is exported from it (run ledger verify-log): ${checker.tampered.message}`,
    );
  }
  const latest = checker.latestHead;
  const reuse = latest !== null && checker.unsignedLeaves === 0;
  const treeHead = reuse
    ? latest
    : signTreeHead(checker.size, toHex(checker.tree.root()), now().toISOString(), headSignerOf(signer));
  if (!reuse) {
    await store.append({
      stream: TREE_HEADS_STREAM,
      // Heads never conflict: each states a fact about a prefix of the log.
      expectedRevision: 'any',
      events: [treeHeadEvent(treeHead, randomUUID())],
    });
  }
  return {
    treeHead,
    upTo: treeHead.treeSize === 0 ? START : checker.positionOf(treeHead.treeSize - 1),
    tree: checker.snapshot(),
    signedNow: !reuse,
  };
}
