import { randomUUID } from 'node:crypto';
import {
  headSignerOf,
  recomputeTree,
  signTreeHead,
  toHex,
  TREE_HEADS_STREAM,
  treeHeadEvent,
  type RecomputeOptions,
  type TreeChecker,
} from '@ledger/log-integrity';
import type { EventStore } from '@ledger/event-store';
import { ExitCode, UsageError, type CliContext } from '../cli-context';
import type { RegisterCommand } from './index';
import { headSigningKey, headVerificationKey } from './log-key';

function treeSize(value: string, what: string): number {
  if (!/^(0|[1-9]\d{0,14})$/.test(value))
    throw new UsageError(`${what} must be a tree size (a non-negative integer)`);
  return Number(value);
}

async function withTree<T>(
  context: () => CliContext,
  publicKeyFile: string | undefined,
  work: (tree: TreeChecker, store: EventStore) => Promise<T> | T,
  options: RecomputeOptions = {},
): Promise<T> {
  const { key } = headVerificationKey(publicKeyFile, context);
  const store = await context().openStore();
  try {
    const tree = await recomputeTree(store, key, options);
    if (tree.tampered) {
      throw new UsageError(
        `the log fails its integrity check (run ledger verify-log): ${tree.tampered.message}`,
      );
    }
    return await work(tree, store);
  } finally {
    await store.close();
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** The latest signed head's size, for proofs asked without one. */
function signedSize(tree: TreeChecker): number {
  const latest = tree.latestHead;
  if (!latest) throw new UsageError('no signed tree head yet: ledger head --sign signs one');
  return latest.treeSize;
}

/**
 * `ledger head`: the latest signed tree head as one line of JSON (keep it: it is what `verify-log --head`
 * checks later); `--tree-size N` an earlier one; `--sign` signs the log as it is now and appends the head.
 */
export const registerHeadCommand: RegisterCommand = (program, context, setExitCode) => {
  program
    .command('head')
    .description('print the latest signed tree head (JSON), an earlier one, or sign a new one')
    .option('--tree-size <n>', 'the head signed at exactly this tree size')
    .option('--sign', 'sign a head over the whole log now and append it to ledger-heads')
    .option('--public-key <file>', "PEM public key heads are checked with (default: the ledger's export key)")
    .action(async (options: { treeSize?: string; sign?: boolean; publicKey?: string }) => {
      if (options.sign && options.treeSize !== undefined)
        throw new UsageError('give --sign or --tree-size, not both');
      const size = options.treeSize === undefined ? undefined : treeSize(options.treeSize, '--tree-size');
      await withTree(context, options.publicKey, async (tree, store) => {
        if (options.sign) {
          const signer = headSignerOf(headSigningKey(context));
          const head = signTreeHead(tree.size, toHex(tree.tree.root()), new Date().toISOString(), signer);
          await store.append({
            stream: TREE_HEADS_STREAM,
            expectedRevision: 'any',
            events: [treeHeadEvent(head, randomUUID())],
          });
          print(head);
          return;
        }
        const head = size === undefined ? tree.latestHead : tree.headOfSize(size);
        if (!head) {
          process.stderr.write(
            size === undefined
              ? 'head: no head signed yet (ledger head --sign)\n'
              : `head: no head was signed at size ${size}\n`,
          );
          setExitCode(ExitCode.findings);
          return;
        }
        print(head);
      });
    });
};

/** `ledger prove inclusion|consistency`: the same answers as the API's proof routes, computed from the store. */
export const registerProveCommand: RegisterCommand = (program, context) => {
  const prove = program
    .command('prove')
    .description('RFC 9162 proofs over the log (JSON, as GET /v1/log/proofs/*)');
  prove
    .command('inclusion')
    .description('the audit path of one event in a signed tree')
    .requiredOption('--event-id <id>', 'the event to prove')
    .option('--tree-size <n>', 'the tree to prove it in (default: the latest signed head)')
    .option('--public-key <file>', "PEM public key heads are checked with (default: the ledger's export key)")
    .action(async (options: { eventId: string; treeSize?: string; publicKey?: string }) => {
      let index: number | null = null;
      const onEvent = (event: { eventId: string }, leafIndex: number) => {
        if (event.eventId === options.eventId) index ??= leafIndex;
      };
      await withTree(
        context,
        options.publicKey,
        (tree) => {
          const size =
            options.treeSize === undefined ? signedSize(tree) : treeSize(options.treeSize, '--tree-size');
          if (size > tree.size)
            throw new UsageError(`--tree-size ${size} is beyond the log's ${tree.size} events`);
          if (index === null || index >= size) {
            throw new UsageError(`event ${options.eventId} is not among the first ${size} events of the log`);
          }
          print({
            leafIndex: index,
            treeSize: size,
            leafHash: toHex(tree.tree.leafHash(index)),
            auditPath: tree.tree.inclusionProof(index, size).map(toHex),
          });
        },
        { onEvent },
      );
    });
  prove
    .command('consistency')
    .description('proof that the tree of size --from is a prefix of the tree of size --to')
    .requiredOption('--from <n>', 'the older tree size (a head you kept)')
    .option('--to <n>', 'the newer tree size (default: the latest signed head)')
    .option('--public-key <file>', "PEM public key heads are checked with (default: the ledger's export key)")
    .action(async (options: { from: string; to?: string; publicKey?: string }) => {
      await withTree(context, options.publicKey, (tree) => {
        const from = treeSize(options.from, '--from');
        const to = options.to === undefined ? signedSize(tree) : treeSize(options.to, '--to');
        if (to > tree.size) throw new UsageError(`--to ${to} is beyond the log's ${tree.size} events`);
        if (from > to) throw new UsageError(`--from ${from} is larger than --to ${to}`);
        print({ fromSize: from, toSize: to, proof: tree.tree.consistencyProof(from, to).map(toHex) });
      });
    });
};
