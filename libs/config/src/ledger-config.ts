import * as path from 'node:path';

export const SCOPES = ['ledger:write', 'ledger:read', 'audit:replay', 'audit:export'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyConfig {
  readonly name: string;
  readonly key: string;
  readonly scopes: readonly Scope[];
}

export interface LedgerConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Set: events live in that EventStoreDB. Unset: the embedded SQLite store in `dataDir`. */
  readonly eventStoreConnectionString: string | null;
  /** null: a local admin key is generated once into the data dir. */
  readonly apiKeys: readonly ApiKeyConfig[] | null;
  /** PEM (PKCS#8) or base64/hex Ed25519 seed; null: generated once into the data dir. */
  readonly exportKey: string | null;
  /** How long a read waits for the projection to reach an `atLeast` token before answering 503. */
  readonly consistencyWaitMs: number;
  /** The projection writes a snapshot after this many applied events (and on shutdown). */
  readonly snapshotEveryEvents: number;
  /** Sign a tree head after this many events since the last one; 0: never by count. */
  readonly headEveryEvents: number;
  /** Sign a tree head this often when the log grew since the last one; 0: never by time. */
  readonly headEverySeconds: number;
  readonly logLevel: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim()))
    throw new ConfigError(name, `must be an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function parseApiKeys(raw: string | undefined): ApiKeyConfig[] | null {
  if (raw === undefined || raw.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('LEDGER_API_KEYS', 'is not valid JSON (expected [{"name","key","scopes":[...]}])');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new ConfigError('LEDGER_API_KEYS', 'must be a non-empty JSON array');
  }
  const seenKeys = new Set<string>();
  return parsed.map((entry: unknown, index) => {
    const where = `LEDGER_API_KEYS[${index}]`;
    if (typeof entry !== 'object' || entry === null) throw new ConfigError(where, 'must be an object');
    const { name, key, scopes } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
      throw new ConfigError(`${where}.name`, 'must be a string of 1–128 characters');
    }
    if (typeof key !== 'string' || key.length < 16 || key.length > 512 || /\s/.test(key)) {
      throw new ConfigError(`${where}.key`, 'must be a string of 16–512 characters without spaces');
    }
    if (seenKeys.has(key)) throw new ConfigError(`${where}.key`, 'is used by another entry');
    seenKeys.add(key);
    if (!Array.isArray(scopes) || scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
      throw new ConfigError(`${where}.scopes`, `must be an array of ${SCOPES.join(', ')}`);
    }
    return { name, key, scopes: [...new Set(scopes as Scope[])] };
  });
}

function connectionString(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === '') return null;
  const value = raw.trim();
  if (!/^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\/.+/.test(value)) {
    throw new ConfigError('EVENTSTORE_CONNECTION_STRING', 'must look like esdb://host:2113?tls=false');
  }
  return value;
}

/** Reads and validates the environment once at start-up; a bad value stops the process with its name. */
export function loadConfig(env: Env = process.env): LedgerConfig {
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    dataDir: path.resolve(env.LEDGER_DATA_DIR?.trim() || './data'),
    eventStoreConnectionString: connectionString(env.EVENTSTORE_CONNECTION_STRING),
    apiKeys: parseApiKeys(env.LEDGER_API_KEYS),
    exportKey: env.LEDGER_EXPORT_KEY?.trim() || null,
    consistencyWaitMs: integer(env, 'LEDGER_CONSISTENCY_WAIT_MS', 5000, 0, 120000),
    snapshotEveryEvents: integer(env, 'LEDGER_SNAPSHOT_EVERY', 250_000, 1, 1_000_000_000),
    headEveryEvents: integer(env, 'LEDGER_HEAD_EVERY_EVENTS', 10_000, 0, 1_000_000_000),
    headEverySeconds: integer(env, 'LEDGER_HEAD_EVERY_SECONDS', 3600, 0, 7 * 86_400),
    logLevel: env.LOG_LEVEL?.trim() || 'info',
  };
}
