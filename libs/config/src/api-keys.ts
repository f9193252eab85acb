import { randomBytes } from 'node:crypto';
import { SCOPES, type ApiKeyConfig, type LedgerConfig } from './ledger-config';
import { readOrCreateSecretFile } from './secret-files';

export const LOCAL_ADMIN_KEY_FILE = 'admin-api-key.json';

export interface ResolvedApiKeys {
  readonly keys: readonly ApiKeyConfig[];
  /** Set when the keys are the generated local admin key (printed at start). */
  readonly generatedAdmin: { key: ApiKeyConfig; file: string; created: boolean } | null;
}

export function resolveApiKeys(config: LedgerConfig): ResolvedApiKeys {
  if (config.apiKeys) return { keys: config.apiKeys, generatedAdmin: null };
  const { content, created } = readOrCreateSecretFile(config.dataDir, LOCAL_ADMIN_KEY_FILE, () =>
    JSON.stringify(
      { name: 'local-admin', key: `lk_${randomBytes(24).toString('base64url')}`, scopes: SCOPES },
      null,
      2,
    ),
  );
  const key = JSON.parse(content) as ApiKeyConfig;
  return { keys: [key], generatedAdmin: { key, file: `${config.dataDir}/${LOCAL_ADMIN_KEY_FILE}`, created } };
}
