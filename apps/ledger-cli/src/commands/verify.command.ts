import * as fs from 'node:fs';
import {
  describeKeySource,
  ExportKeyError,
  loadLedgerPublicKey,
  readPublicKeyFile,
  verifyExport,
  type VerificationKey,
} from '@ledger/audit-trail';
import { ExitCode, UsageError, type CliContext } from '../cli-context';
import type { RegisterCommand } from './index';

interface VerifyOptions {
  readonly publicKey?: string;
  readonly trustEmbeddedKey?: boolean;
}

function verificationKey(options: VerifyOptions, context: () => CliContext): VerificationKey {
  if (options.publicKey !== undefined && options.trustEmbeddedKey) {
    throw new UsageError('give either --public-key or --trust-embedded-key, not both');
  }
  if (options.trustEmbeddedKey) return 'embedded';
  try {
    return options.publicKey !== undefined
      ? readPublicKeyFile(options.publicKey)
      : loadLedgerPublicKey(context().config);
  } catch (error) {
    if (error instanceof ExportKeyError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * `ledger verify FILE`: exit 0 for an intact export, 1 naming the first bad record (or a bad signature, or a
 * truncated file), 2 for a file that is not an export at all.
 */
export const registerVerifyCommand: RegisterCommand = (program, context, setExitCode) => {
  program
    .command('verify')
    .description('check an audit trail export: every record, the hash chain, the count and the signature')
    .argument('<file>', 'the export (NDJSON or CSV; detected from its first line)')
    .option(
      '--public-key <file>',
      "PEM public key to check the signature with (default: the ledger's own export key)",
    )
    .option(
      '--trust-embedded-key',
      'check against the key inside the manifest: proves integrity, not who signed it',
    )
    .action(async (file: string, options: VerifyOptions) => {
      const key = verificationKey(options, context);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch (error) {
        throw new UsageError(
          `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        );
      }
      if (!stat.isFile()) throw new UsageError(`${file} is not a file`);
      if (key === 'embedded') {
        process.stderr.write(
          'verify: trusting the key embedded in the manifest; this does not show who signed it\n',
        );
      }
      const result = await verifyExport(file, key);
      if (result.ok) {
        const { manifest } = result;
        process.stdout.write(
          `OK: ${file} is intact: ${result.count} records (${result.format}), filter ${JSON.stringify(manifest.filter)}, ` +
            `generated ${manifest.generatedAt}, last hash ${manifest.lastHash}; signed by ${manifest.keyId}, ` +
            `checked with ${describeKeySource(result.key.source)}\n`,
        );
        setExitCode(ExitCode.ok);
        return;
      }
      const where = [
        result.recordSeq === undefined ? null : `record ${result.recordSeq}`,
        result.line === undefined ? null : `line ${result.line}`,
      ]
        .filter((part) => part !== null)
        .join(', ');
      if (result.kind === 'not_an_export') {
        process.stderr.write(`verify: ${file} is not an audit trail export: ${result.message}\n`);
        setExitCode(ExitCode.usage);
        return;
      }
      process.stdout.write(
        `FAILED (${result.kind})${where === '' ? '' : ` at ${where}`}: ${file}: ${result.message}\n`,
      );
      setExitCode(ExitCode.findings);
    });
};
