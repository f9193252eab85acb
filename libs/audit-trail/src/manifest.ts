import { formatTime, isValidId, parseRfc3339 } from '@ledger/domain';
import { parseTreeHead, type TreeHead } from '@ledger/log-integrity';
import { canonicalJson, HASH_PATTERN, type CanonicalValue } from './canonical';
import type { ExportSigner } from './export-key';
import type { TrailFilter } from './trail-filter';

export const FORMAT_VERSION = 'ledger-audit-trail/1';

export type ExportFormat = 'ndjson' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'csv'];

export interface Manifest {
  readonly format: typeof FORMAT_VERSION;
  /** How the records above the manifest are written. */
  readonly encoding: ExportFormat;
  readonly filter: TrailFilter;
  readonly count: number;
  /** Log position (token) of the first and last record; null when there are none. */
  readonly firstToken: string | null;
  readonly lastToken: string | null;
  /** The head of the log when the export started: the snapshot it was read at. */
  readonly headToken: string;
  /** Hash of the last record, or the genesis hash (64 zeros) when there are none. */
  readonly lastHash: string;
  /**
   * The signed Merkle tree head the export was cut at (exports served by the API): every record is a leaf of
   * that tree, provable with `GET /v1/log/proofs/inclusion?eventId=…&treeSize=<treeHead.treeSize>`.
   */
  readonly treeHead?: TreeHead;
  /** `inclusion`: every record is followed by its proof of inclusion in `treeHead`'s tree. */
  readonly proofs?: 'inclusion';
  /** When the export started (RFC 3339 UTC ms). */
  readonly generatedAt: string;
  readonly keyId: string;
  /** SPKI PEM, for convenience only: a verifier must not trust it unless told to. */
  readonly publicKey: string;
  /** Base64 Ed25519 over the canonical JSON of every other manifest field. */
  readonly signature: string;
}

export type UnsignedManifest = Omit<Manifest, 'signature'>;

const MANIFEST_KEYS = [
  'format',
  'encoding',
  'filter',
  'count',
  'firstToken',
  'lastToken',
  'headToken',
  'lastHash',
  'treeHead',
  'proofs',
  'generatedAt',
  'keyId',
  'publicKey',
  'signature',
] as const;
/** Fields an export may leave out (older exports, exports cut without a tree head). */
const OPTIONAL_KEYS: ReadonlySet<string> = new Set(['treeHead', 'proofs']);
const FILTER_KEYS = new Set(['deviceId', 'userId', 'from', 'to']);

/** The exact bytes the signature covers. */
export function manifestSigningText(manifest: UnsignedManifest | Manifest): string {
  const { signature: _signature, ...unsigned } = manifest as Manifest;
  return canonicalJson(withPlainMembers(unsigned));
}

export function signManifest(unsigned: UnsignedManifest, signer: ExportSigner): Manifest {
  return { ...unsigned, signature: signer.sign(manifestSigningText(unsigned)) };
}

export function manifestJson(manifest: Manifest): string {
  return canonicalJson(withPlainMembers(manifest));
}

/** Interfaces have no index signature; spreading them into plain objects gives canonicalJson its values. */
function withPlainMembers(manifest: UnsignedManifest | Manifest): CanonicalValue {
  const { filter, treeHead, ...rest } = manifest;
  return { ...rest, filter: { ...filter }, ...(treeHead ? { treeHead: { ...treeHead } } : {}) };
}

const TOKEN = /^lt1\.[0-9a-z.]{1,53}$/;

/** Checks a parsed manifest's shape; returns what is wrong, or the manifest. */
export function parseManifest(
  value: unknown,
): { ok: true; manifest: Manifest } | { ok: false; problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: 'the manifest is not an object' };
  }
  const m = value as Record<string, unknown>;
  const keys = Object.keys(m);
  const unknown = keys.find((key) => !(MANIFEST_KEYS as readonly string[]).includes(key));
  if (unknown !== undefined) return { ok: false, problem: `the manifest has an unknown field ${unknown}` };
  const missing = MANIFEST_KEYS.find((key) => !OPTIONAL_KEYS.has(key) && !(key in m));
  if (missing !== undefined) return { ok: false, problem: `the manifest has no ${missing}` };
  if (m.format !== FORMAT_VERSION)
    return { ok: false, problem: `unsupported format ${JSON.stringify(m.format)}` };
  if (m.encoding !== 'ndjson' && m.encoding !== 'csv')
    return { ok: false, problem: 'encoding is not ndjson or csv' };
  const filter = m.filter;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    return { ok: false, problem: 'filter is not an object' };
  }
  for (const [key, item] of Object.entries(filter)) {
    if (!FILTER_KEYS.has(key)) return { ok: false, problem: `filter has an unknown field ${key}` };
    const valid =
      key === 'deviceId' || key === 'userId'
        ? isValidId(item)
        : typeof item === 'string' &&
          parseRfc3339(item) !== undefined &&
          formatTime(parseRfc3339(item) as number) === item;
    if (!valid) return { ok: false, problem: `filter.${key} is malformed` };
  }
  if (typeof m.count !== 'number' || !Number.isSafeInteger(m.count) || m.count < 0) {
    return { ok: false, problem: 'count is not a non-negative integer' };
  }
  const tokenOrNull = (item: unknown): boolean =>
    item === null || (typeof item === 'string' && TOKEN.test(item));
  if (!tokenOrNull(m.firstToken) || !tokenOrNull(m.lastToken))
    return { ok: false, problem: 'firstToken/lastToken malformed' };
  if ((m.count === 0) !== (m.firstToken === null) || (m.count === 0) !== (m.lastToken === null)) {
    return { ok: false, problem: 'firstToken/lastToken must be null exactly when count is 0' };
  }
  if (typeof m.headToken !== 'string' || !TOKEN.test(m.headToken))
    return { ok: false, problem: 'headToken malformed' };
  if (typeof m.lastHash !== 'string' || !HASH_PATTERN.test(m.lastHash))
    return { ok: false, problem: 'lastHash malformed' };
  if ('treeHead' in m) {
    const head = parseTreeHead(m.treeHead);
    if (!head.ok) return { ok: false, problem: `treeHead: ${head.problem}` };
  }
  if ('proofs' in m && (m.proofs !== 'inclusion' || !('treeHead' in m))) {
    return { ok: false, problem: 'proofs is not "inclusion" with a treeHead' };
  }
  if (typeof m.generatedAt !== 'string' || parseRfc3339(m.generatedAt) === undefined) {
    return { ok: false, problem: 'generatedAt malformed' };
  }
  for (const key of ['keyId', 'publicKey', 'signature'] as const) {
    if (typeof m[key] !== 'string') return { ok: false, problem: `${key} is not a string` };
  }
  return { ok: true, manifest: m as unknown as Manifest };
}
