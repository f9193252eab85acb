import { UsageError } from '../cli-context';
import { exportSigner } from './export.command';
import type { RegisterCommand } from './index';

/**
 * `ledger export-key --public`: the public half of the export signing key, for auditors. The private key is
 * never printed; it stays in LEDGER_EXPORT_KEY or the data dir.
 */
export const registerExportKeyCommand: RegisterCommand = (program, context) => {
  program
    .command('export-key')
    .description(
      'print the public key that verifies exports (SPKI PEM); generates the key once if there is none',
    )
    .option('--public', 'print the public key')
    .action((options: { public?: boolean }) => {
      if (!options.public) {
        throw new UsageError('export-key prints only the public key: use export-key --public');
      }
      const { publicKey } = exportSigner(context().config);
      process.stdout.write(publicKey.pem.endsWith('\n') ? publicKey.pem : `${publicKey.pem}\n`);
      const { source } = publicKey;
      const generated =
        source.kind === 'data-dir' && source.created ? ` (generated now in ${source.file})` : '';
      process.stderr.write(`export-key: ${publicKey.keyId}${generated}\n`);
    });
};
