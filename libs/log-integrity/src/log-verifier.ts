import { START, type EventStore, type StoredEvent } from '@ledger/event-store';
import type { Subscription } from 'rxjs';
import { checkKeptHead } from './kept-heads';
import { toHex } from './merkle-hash';
import { TreeChecker, type TamperFinding } from './tree-checker';
import type { TreeHead, TreeHeadKey } from './tree-head';
import type { LoadedTreeState } from './tree-state-file';

export interface VerifyLogOptions {
  readonly key: TreeHeadKey;
  /** The tree state of the data dir, when there is one: names the first differing leaf exactly. */
  readonly recorded?: LoadedTreeState;
  /** Heads kept outside the ledger (an auditor's); each must be a prefix of today's log. */
  readonly keptHeads?: readonly TreeHead[];
  readonly onProgress?: (events: number) => void;
}

export interface KeptHeadResult {
  readonly head: TreeHead;
  /** The consistency proof from the kept head to today's tree, checked. */
  readonly proof: readonly string[];
}

export type VerifyLogResult =
  | {
      readonly ok: true;
      readonly treeSize: number;
      readonly rootHash: string;
      readonly verifiedHeads: number;
      readonly latestHead: TreeHead | null;
      readonly keptHeads: readonly KeptHeadResult[];
      readonly comparedWithRecorded: number;
    }
  | { readonly ok: false; readonly finding: TamperFinding; readonly treeSize: number };

/**
 * `ledger verify-log`: reads the whole log in pages, recomputes the tree, and checks it against the recorded
 * leaves, every head in the log and every kept head. Heads signed by another key are findings here: a log
 * whose heads the trusted key did not sign is not this ledger's log.
 */
export async function verifyLog(store: EventStore, options: VerifyLogOptions): Promise<VerifyLogResult> {
  const recorded = options.recorded?.kind === 'loaded' ? options.recorded : undefined;
  const checker = new TreeChecker({
    key: options.key,
    foreignHeads: 'tampered',
    recorded: recorded ? { leaves: recorded.leaves, count: recorded.count } : undefined,
  });
  await feedFromLog(store, checker, options);
  const kept: KeptHeadResult[] = [];
  if (!checker.tampered) {
    for (const keptHead of options.keptHeads ?? []) {
      const finding = checkKeptHead(checker, keptHead, options.key);
      if (finding) {
        checker.report(finding);
        break;
      }
      kept.push({
        head: keptHead,
        proof: checker.tree.consistencyProof(keptHead.treeSize, checker.size).map(toHex),
      });
    }
  }
  if (checker.tampered) return { ok: false, finding: checker.tampered, treeSize: checker.size };
  return {
    ok: true,
    treeSize: checker.size,
    rootHash: toHex(checker.tree.root()),
    verifiedHeads: checker.verifiedHeads,
    latestHead: checker.latestHead,
    keptHeads: kept,
    comparedWithRecorded: recorded?.count ?? 0,
  };
}

export interface RecomputeOptions {
  readonly onProgress?: (events: number) => void;
  /** Sees each event with its leaf index, before it is added. */
  readonly onEvent?: (event: StoredEvent, leafIndex: number) => void;
}

const PROGRESS_EVERY = 5000;

/**
 * Feeds the log, from its start to the head it has when the read catches up, into `checker`. It reads what the
 * service's monitor reads (`subscribeToAllStored`: data and metadata as the store keeps their text), so a leaf
 * here is the leaf the service hashed, byte for byte: a parse and re-serialization would erase an edit that
 * changes only the stored text (whitespace, member order, escapes) and pass a log the service refuses.
 */
function feedFromLog(store: EventStore, checker: TreeChecker, options: RecomputeOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    let subscription: Subscription | null = null;
    const finish = (error?: unknown): void => {
      if (done) return;
      done = true;
      subscription?.unsubscribe();
      if (error !== undefined) {
        reject(error);
        return;
      }
      checker.end();
      resolve();
    };
    subscription = store.subscribeToAllStored({ from: START }).subscribe({
      next: (message) => {
        if (done) return;
        if (message.kind === 'caught-up') {
          options.onProgress?.(checker.size);
          finish();
          return;
        }
        try {
          options.onEvent?.(message.event, checker.size);
          checker.add(message.event);
        } catch (error) {
          finish(error);
          return;
        }
        if (checker.size % PROGRESS_EVERY === 0) options.onProgress?.(checker.size);
      },
      error: (error: unknown) => finish(error),
    });
    // A store that answered within `subscribe` itself.
    if (done) subscription.unsubscribe();
  });
}

/**
 * The tree of the log as it is now, for answering heads and proofs offline (`ledger head`, `ledger prove`);
 * heads of other keys are skipped, and `tampered` says whether a head of ours failed.
 */
export async function recomputeTree(
  store: EventStore,
  key: TreeHeadKey,
  options: RecomputeOptions = {},
): Promise<TreeChecker> {
  const checker = new TreeChecker({ key, foreignHeads: 'ignore' });
  await feedFromLog(store, checker, options);
  return checker;
}
