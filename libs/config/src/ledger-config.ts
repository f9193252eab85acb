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
  /** The gRPC API's port; null (GRPC_PORT unset): no gRPC server. 0 picks a free port (tests). */
  readonly grpcPort: number | null;
  readonly host: string;
  readonly dataDir: string;
  /** Set: events live in that EventStoreDB. Unset: the embedded SQLite store in `dataDir`. */
  readonly eventStoreConnectionString: string | null;
  /**
   * EVENTSTORE_MAX_APPEND_BYTES: the EventStoreDB server's `--max-append-size` (default 1 MiB, the server's
   * default). Writes measured larger (e.g. a big `POST /v1/views/batch`) are refused with 413 before they are
   * sent; raise both together.
   */
  readonly eventStoreMaxAppendBytes: number;
  /** null: a local admin key is generated once into the data dir. */
  readonly apiKeys: readonly ApiKeyConfig[] | null;
  /** PEM (PKCS#8) or base64/hex Ed25519 seed; null: generated once into the data dir. */
  readonly exportKey: string | null;
  /** How long a read waits for the projection to reach an `atLeast` token before answering 503. */
  readonly consistencyWaitMs: number;
  /**
   * The projection writes a snapshot after this many applied events that change it (device events, events
   * carrying an Idempotency-Key), or 40 times as many events of any kind (views), and on shutdown.
   */
  readonly snapshotEveryEvents: number;
  /** How long an Idempotency-Key is remembered; a key reused after that is a new request. */
  readonly idempotencyRetentionMs: number;
  /** Sign a tree head after this many events since the last one; 0: never by count. */
  readonly headEveryEvents: number;
  /** Sign a tree head this often when the log grew since the last one; 0: never by time. */
  readonly headEverySeconds: number;
  /**
   * LEDGER_KEPT_HEADS: a file of signed tree heads kept outside the data dir (JSON, or NDJSON of heads); at
   * start-up the log must extend each, else readiness reports it tampered. null: none.
   */
  readonly keptHeadsFile: string | null;
  readonly logLevel: string;
  /** Bounds of the watch feed (GET /v1/watch), so no client can make the service hold unbounded memory. */
  readonly watch: {
    /** Open watch connections one API key may hold; past it a 429 with Retry-After. */
    readonly maxConnectionsPerKey: number;
    /** Live changes queued for one client that does not read; past it the feed ends with an `overflow` event. */
    readonly maxBufferedEvents: number;
    /** How many changes back a resume token may lie; an older one is a 410 saying how to resync. */
    readonly maxResumeChanges: number;
  };
  /**
   * Largest append the ledger makes (EVENTSTORE_MAX_APPEND_BYTES; EventStoreDB's `--max-append-size`, 1 MiB
   * by default): the importer splits its appends under it.
   */
  readonly maxAppendBytes: number;
  /**
   * Replays, exports and rebuilds asked for over HTTP run on worker threads, at most this many of each kind
   * at once; past it the request is refused with 429 and Retry-After.
   */
  readonly auditWorkers: { readonly replay: number; readonly export: number; readonly rebuild: number };
  /**
   * LEDGER_VIEW_BATCH_TIMEOUT_MS: the longest the view batch worker thread may take over one
   * `POST /v1/views/batch` body (about 13 ms of CPU for 1000 views). A thread past it is taken for hung: the
   * batches it held answer 503 with Retry-After and nothing stored, it is terminated, and the next batch
   * starts a new one.
   */
  readonly viewBatchTimeoutMs: number;
}

/** `LEDGER_VIEW_BATCH_TIMEOUT_MS`'s default: three orders of magnitude over a 1000-view build. */
export const DEFAULT_VIEW_BATCH_TIMEOUT_MS = 10_000;

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

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const MAX_RETENTION_MS = 366 * 86_400_000;

/** A duration such as `24h`, `30m`, `90s` or `1h30m` (units d, h, m, s, ms), in ms. */
export function parseDuration(env: Env, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallbackMs;
  const text = raw.trim();
  const shape = /^(?:\d+(?:ms|d|h|m|s))+$/;
  if (!shape.test(text)) {
    throw new ConfigError(name, `must be a duration such as 24h, 30m or 90s, got ${JSON.stringify(raw)}`);
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|d|h|m|s)/g)) {
    total += Number(amount) * DURATION_UNITS_MS[unit];
  }
  if (total < 1000 || total > MAX_RETENTION_MS) {
    throw new ConfigError(name, `must be between 1s and 366d, got ${JSON.stringify(raw)}`);
  }
  return total;
}

function grpcPort(env: Env, httpPort: number): number | null {
  if (env.GRPC_PORT === undefined || env.GRPC_PORT.trim() === '') return null;
  const port = integer(env, 'GRPC_PORT', 0, 0, 65535);
  if (port !== 0 && port === httpPort)
    throw new ConfigError('GRPC_PORT', `must differ from PORT (${httpPort})`);
  return port;
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
  // The name is the client's identity: its Idempotency-Key scope and the actor of its audit records.
  const seenNames = new Set<string>();
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
    if (seenNames.has(name))
      throw new ConfigError(
        `${where}.name`,
        `${JSON.stringify(name)} is used by another entry; names must be unique`,
      );
    seenNames.add(name);
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
  const port = integer(env, 'PORT', 3000, 0, 65535);
  return {
    port,
    grpcPort: grpcPort(env, port),
    host: env.HOST?.trim() || '0.0.0.0',
    dataDir: path.resolve(env.LEDGER_DATA_DIR?.trim() || './data'),
    eventStoreConnectionString: connectionString(env.EVENTSTORE_CONNECTION_STRING),
    eventStoreMaxAppendBytes: integer(env, 'EVENTSTORE_MAX_APPEND_BYTES', 1024 * 1024, 1024, 2 ** 31 - 1),
    apiKeys: parseApiKeys(env.LEDGER_API_KEYS),
    exportKey: env.LEDGER_EXPORT_KEY?.trim() || null,
    consistencyWaitMs: integer(env, 'LEDGER_CONSISTENCY_WAIT_MS', 5000, 0, 120000),
    snapshotEveryEvents: integer(env, 'LEDGER_SNAPSHOT_EVERY', 250_000, 1, 1_000_000_000),
    idempotencyRetentionMs: parseDuration(env, 'LEDGER_IDEMPOTENCY_RETENTION', 24 * 3_600_000),
    headEveryEvents: integer(env, 'LEDGER_HEAD_EVERY_EVENTS', 10_000, 0, 1_000_000_000),
    headEverySeconds: integer(env, 'LEDGER_HEAD_EVERY_SECONDS', 3600, 0, 7 * 86_400),
    keptHeadsFile: env.LEDGER_KEPT_HEADS?.trim() ? path.resolve(env.LEDGER_KEPT_HEADS.trim()) : null,
    logLevel: env.LOG_LEVEL?.trim() || 'info',
    watch: {
      maxConnectionsPerKey: integer(env, 'LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY', 64, 1, 100_000),
      maxBufferedEvents: integer(env, 'LEDGER_WATCH_MAX_BUFFERED_EVENTS', 1000, 1, 1_000_000),
      maxResumeChanges: integer(env, 'LEDGER_WATCH_MAX_RESUME_CHANGES', 100_000, 1, 10_000_000),
    },
    maxAppendBytes: integer(env, 'EVENTSTORE_MAX_APPEND_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    auditWorkers: {
      replay: integer(env, 'LEDGER_REPLAY_WORKERS', 1, 1, 64),
      export: integer(env, 'LEDGER_EXPORT_WORKERS', 2, 1, 64),
      rebuild: integer(env, 'LEDGER_REBUILD_WORKERS', 1, 1, 64),
    },
    viewBatchTimeoutMs: integer(env, 'LEDGER_VIEW_BATCH_TIMEOUT_MS', DEFAULT_VIEW_BATCH_TIMEOUT_MS, 10, 600_000),
  };
}
