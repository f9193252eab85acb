import {
  ExportKeyError,
  loadExportSigner,
  loadLedgerPublicKey,
  readPublicKeyFile,
  type ExportPublicKey,
} from '@ledger/audit-trail';
import { headKeyOf, type TreeHeadKey } from '@ledger/log-integrity';
import { UsageError, type CliContext } from '../cli-context';

/** The key heads are checked with: `--public-key FILE`, else the ledger's own export key (never created here). */
export function headVerificationKey(
  publicKeyFile: string | undefined,
  context: () => CliContext,
): { key: TreeHeadKey; publicKey: ExportPublicKey } {
  try {
    const publicKey =
      publicKeyFile !== undefined ? readPublicKeyFile(publicKeyFile) : loadLedgerPublicKey(context().config);
    return { key: headKeyOf(publicKey), publicKey };
  } catch (error) {
    if (error instanceof ExportKeyError) throw new UsageError(error.message);
    throw error;
  }
}

/** The ledger's signing key (the export key), for `ledger head --sign`. */
export function headSigningKey(context: () => CliContext) {
  try {
    return loadExportSigner(context().config);
  } catch (error) {
    if (error instanceof ExportKeyError) throw new UsageError(error.message);
    throw error;
  }
}
