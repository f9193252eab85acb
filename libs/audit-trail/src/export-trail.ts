import { randomUUID } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import { formatTime, Streams, type AuditTrailExported } from '@ledger/domain';
import { positionToToken, type AppendResult, type EventStore, type LogPosition } from '@ledger/event-store';
import { LogTreeView, type LogTreeSnapshot, type TreeHead } from '@ledger/log-integrity';
import { GENESIS_HASH } from './canonical';
import { CSV_COLUMNS, CSV_MANIFEST_MARKER, recordToCsvRow } from './csv-format';
import type { ExportSigner } from './export-key';
import { FORMAT_VERSION, manifestJson, signManifest, type ExportFormat, type Manifest } from './manifest';
import { CSV_INCLUSION_MARKER, inclusionJson, inclusionOf, INCLUSION_PROOFS } from './inclusion';
import { encodeRecord, recordFields } from './record';
import { selectTrail, type SelectionProgress } from './select-trail';
import { normalizeTrailFilter, type TrailFilter } from './trail-filter';

export interface ExportSummary {
  readonly count: number;
  readonly lastHash: string;
  readonly firstToken: string | null;
  readonly lastToken: string | null;
  /** The filter as the manifest states it (times normalized). */
  readonly filter: TrailFilter;
  readonly format: ExportFormat;
  readonly manifest: Manifest;
}

export interface ExportOptions {
  readonly now?: () => Date;
  readonly pageSize?: number;
  /** Output is handed out in chunks of about this many characters. */
  readonly chunkSize?: number;
  readonly onProgress?: (progress: SelectionProgress) => void;
  /**
   * Cut the export at a signed tree head: read the log only up to `upTo` (the position of the head's last
   * leaf) and put the head in the manifest, so every record can be proven a leaf of its tree.
   */
  readonly cutAt?: {
    readonly treeHead: TreeHead;
    readonly upTo: LogPosition;
    /** The tree the head was signed over (shared, not copied): each record is followed by its inclusion proof. */
    readonly tree?: LogTreeSnapshot;
  };
}

const DEFAULT_CHUNK_SIZE = 64 * 1024;

// `\r` alone is not quoted by default, yet CSV readers treat it as a line break; quoting it keeps values exact.
const CSV_OPTIONS = { record_delimiter: 'unix', quoted_match: /\r/ } as const;

function csvLines(rows: readonly string[][]): string {
  return stringify(rows as string[][], CSV_OPTIONS);
}

/**
 * A piece of an export: records, or the signed manifest that ends it (always a piece of its own, so a caller
 * can put the export on the record before it releases what makes the export verifiable).
 */
export type TrailPiece =
  | { readonly kind: 'records'; readonly text: string }
  | { readonly kind: 'manifest'; readonly text: string; readonly summary: ExportSummary };

/**
 * Produces a signed, hash-chained export as text chunks, in constant memory; the generator's return value is
 * the summary. Throws (before the first chunk) InvalidInputError for a bad filter.
 */
export async function* trailChunks(
  store: EventStore,
  filter: TrailFilter,
  format: ExportFormat,
  signer: ExportSigner,
  options: ExportOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  for await (const piece of trailPieces(store, filter, format, signer, options)) {
    yield piece.text;
    if (piece.kind === 'manifest') return piece.summary;
  }
  throw new Error('the export ended without its manifest');
}

/** `trailChunks`, with the manifest in a piece of its own that carries the summary. */
export async function* trailPieces(
  store: EventStore,
  filter: TrailFilter,
  format: ExportFormat,
  signer: ExportSigner,
  options: ExportOptions = {},
): AsyncGenerator<TrailPiece, void, undefined> {
  if (format !== 'ndjson' && format !== 'csv') throw new TypeError(`unknown export format ${String(format)}`);
  const { filter: normalized } = normalizeTrailFilter(filter);
  const generatedAt = formatTime((options.now ?? (() => new Date()))().getTime());
  const head = options.cutAt?.upTo ?? (await store.headPosition());
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;

  let pending: string[] = [];
  let pendingRows: string[][] = [];
  let pendingLength = 0;
  const take = (): string => {
    if (pendingRows.length > 0) {
      pending.push(csvLines(pendingRows));
      pendingRows = [];
    }
    const chunk = pending.join('');
    pending = [];
    pendingLength = 0;
    return chunk;
  };
  if (format === 'csv') pendingRows.push([...CSV_COLUMNS]);
  const treeSize = options.cutAt?.treeHead.treeSize ?? 0;
  const proofs = options.cutAt?.tree ? new LogTreeView(options.cutAt.tree) : null;
  if (proofs && proofs.size < treeSize) {
    throw new Error(`the tree given holds ${proofs.size} leaves, fewer than the head's ${treeSize}`);
  }

  let count = 0;
  let prevHash = GENESIS_HASH;
  let firstToken: string | null = null;
  let lastToken: string | null = null;
  for await (const event of selectTrail(store, normalized, {
    head,
    pageSize: options.pageSize,
    onProgress: options.onProgress,
  })) {
    count++;
    const { record, line } = encodeRecord(recordFields(event, count), prevHash);
    prevHash = record.hash;
    firstToken ??= record.position;
    lastToken = record.position;
    const proof = proofs ? inclusionJson(inclusionOf(proofs, treeSize, event, count)) : null;
    if (format === 'ndjson') {
      pending.push(line, '\n');
      pendingLength += line.length + 1;
      if (proof !== null) {
        pending.push(`{"inclusion":${proof}}\n`);
        pendingLength += proof.length + 15;
      }
    } else {
      const row = recordToCsvRow(record);
      pendingRows.push(row);
      for (const cell of row) pendingLength += cell.length + 1;
      if (proof !== null) {
        const proofRow = [CSV_INCLUSION_MARKER, proof];
        while (proofRow.length < CSV_COLUMNS.length) proofRow.push('');
        pendingRows.push(proofRow);
        pendingLength += proof.length + CSV_COLUMNS.length + 12;
      }
    }
    if (pendingLength >= chunkSize) yield { kind: 'records', text: take() };
  }
  if (pending.length > 0 || pendingRows.length > 0) yield { kind: 'records', text: take() };

  const manifest = signManifest(
    {
      format: FORMAT_VERSION,
      encoding: format,
      filter: normalized,
      count,
      firstToken,
      lastToken,
      headToken: positionToToken(head),
      lastHash: prevHash,
      ...(options.cutAt ? { treeHead: options.cutAt.treeHead } : {}),
      ...(proofs ? { proofs: INCLUSION_PROOFS } : {}),
      generatedAt,
      keyId: signer.publicKey.keyId,
      publicKey: signer.publicKey.pem,
    },
    signer,
  );
  if (format === 'ndjson') {
    pending.push(`{"manifest":${manifestJson(manifest)}}\n`);
  } else {
    const row = [CSV_MANIFEST_MARKER, manifestJson(manifest)];
    while (row.length < CSV_COLUMNS.length) row.push('');
    pendingRows.push(row);
  }
  const summary = { count, lastHash: prevHash, firstToken, lastToken, filter: normalized, format, manifest };
  yield { kind: 'manifest', text: take(), summary };
}

/**
 * Writes an export through `out`, awaiting it for back-pressure, and returns the summary. Callers that must
 * have the export on the record before it is usable (contract §5) use `trailPieces` instead, as the
 * application's audit service does.
 */
export async function exportTrail(
  store: EventStore,
  filter: TrailFilter,
  format: ExportFormat,
  signer: ExportSigner,
  out: (chunk: string) => Promise<void> | void,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  const chunks = trailChunks(store, filter, format, signer, options);
  for (;;) {
    const next = await chunks.next();
    if (next.done) return next.value;
    await out(next.value);
  }
}

/** Appends `AuditTrailExported` to the ledger's own audit stream: who exported what, when, how much. */
export async function recordExport(
  store: EventStore,
  summary: Pick<ExportSummary, 'count' | 'lastHash'>,
  filter: TrailFilter,
  format: ExportFormat,
  actor: string,
  options: { readonly now?: () => Date; readonly eventId?: string } = {},
): Promise<AppendResult> {
  const { filter: normalized } = normalizeTrailFilter(filter);
  const data: AuditTrailExported['data'] = {
    actor,
    filter: normalized,
    format,
    count: summary.count,
    lastHash: summary.lastHash,
    recordedAt: formatTime((options.now ?? (() => new Date()))().getTime()),
  };
  return store.append({
    stream: Streams.audit,
    // Exports never contend with anything: each is its own fact, so no revision is worth checking.
    expectedRevision: 'any',
    events: [
      {
        eventId: options.eventId ?? randomUUID(),
        type: 'AuditTrailExported',
        data: { ...data, filter: { ...normalized } },
      },
    ],
  });
}
