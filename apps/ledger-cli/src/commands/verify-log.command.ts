import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  KeptHeadsError,
  loadTreeState,
  parseKeptHeads,
  verifyLog,
  type TreeHead,
} from '@ledger/log-integrity';
import { ExitCode, UsageError } from '../cli-context';
import type { RegisterCommand } from './index';
import { headVerificationKey } from './log-key';

interface VerifyLogOptions {
  readonly publicKey?: string;
  readonly head?: string[];
  readonly state?: boolean;
}

/** Kept heads: files each holding one head as JSON, or several as NDJSON (one per line), as `ledger head` prints. */
export function readKeptHeads(files: readonly string[]): TreeHead[] {
  const heads: TreeHead[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    try {
      heads.push(...parseKeptHeads(text, file));
    } catch (error) {
      if (error instanceof KeptHeadsError) throw new UsageError(error.message);
      throw error;
    }
  }
  return heads;
}

/**
 * `ledger verify-log`: recompute the Merkle tree from the store and check it against the tree state recorded
 * in the data dir, every signed head in the log, and any kept heads. Exit 0 intact, 1 tampered (naming the
 * first leaf that differs when it can), 2 unusable input.
 */
export const registerVerifyLogCommand: RegisterCommand = (program, context, setExitCode) => {
  program
    .command('verify-log')
    .description('recompute the Merkle tree over the whole log and check it against every signed tree head')
    .option(
      '--public-key <file>',
      "PEM public key the heads must be signed with (default: the ledger's export key)",
    )
    .option(
      '--head <file>',
      'a head kept outside the ledger (JSON, or NDJSON of heads); today’s log must extend it (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--no-state', 'do not compare with the tree state recorded in the data dir')
    .action(async (options: VerifyLogOptions) => {
      const { key, publicKey } = headVerificationKey(options.publicKey, context);
      const keptHeads = readKeptHeads(options.head ?? []);
      const { dataDir } = context().config;
      const store = await context().openStore();
      try {
        const recorded = options.state === false ? undefined : loadTreeState(dataDir, store.name);
        if (recorded?.kind === 'discarded') {
          process.stderr.write(
            `verify-log: ignoring the tree state in ${path.join(dataDir, 'integrity')}: ${recorded.why}\n`,
          );
        }
        const result = await verifyLog(store, { key, recorded, keptHeads });
        if (result.ok) {
          const latest = result.latestHead;
          process.stdout.write(
            `OK: the log is intact: ${result.treeSize} events, root ${result.rootHash}; ` +
              `${result.verifiedHeads} signed heads match` +
              (latest ? ` (latest: size ${latest.treeSize}, ${latest.timestamp})` : ' (no head signed yet)') +
              (result.comparedWithRecorded > 0
                ? `; ${result.comparedWithRecorded} leaves match the recorded state`
                : '') +
              (result.keptHeads.length > 0
                ? `; ${result.keptHeads.length} kept heads are prefixes of it`
                : '') +
              `; checked with ${publicKey.keyId}\n`,
          );
          setExitCode(ExitCode.ok);
          return;
        }
        const { finding } = result;
        const where = [
          finding.leafIndex === undefined ? null : `leaf ${finding.leafIndex}`,
          finding.position === undefined ? null : `position ${finding.position}`,
        ]
          .filter((part) => part !== null)
          .join(', ');
        process.stdout.write(
          `TAMPERED (${finding.kind})${where ? ` at ${where}` : ''}: ${finding.message}\n`,
        );
        setExitCode(ExitCode.findings);
      } finally {
        await store.close();
      }
    });
};
