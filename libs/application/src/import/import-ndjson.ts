import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { InvalidInputError, isValidId, type Millis } from '@ledger/domain';
import { ImportEventIds } from './import-event-id';
import {
  isOwnershipLine,
  parseImportLine,
  type ImportLine,
  type OwnershipLine,
  type ViewLine,
} from './import-line';
import type { LedgerWriter, LineOutcome, NumberedLine } from './ledger-writer';

export interface ImportProgress {
  readonly bytesRead: number;
  readonly totalBytes: number;
  readonly lines: number;
  readonly accepted: number;
  readonly skipped: number;
  readonly rejected: number;
}

export interface ImportSummary {
  /** What the event ids were derived from: the caller's id, or `sha256:<hex>` of the file. */
  readonly importId: string;
  /** Lines read, blank ones included. */
  readonly lines: number;
  readonly accepted: number;
  /** Already in the ledger (an earlier run of the same import). */
  readonly skipped: number;
  readonly rejected: number;
  readonly blank: number;
}

export interface ImportOptions {
  readonly writer: LedgerWriter;
  /**
   * Stable name of this import (1-128 id characters). Defaults to the SHA-256 of the file's content, so
   * rerunning the same file is a no-op; give one to keep ids stable while a file is appended to.
   */
  readonly importId?: string;
  /** Clock used to refuse business times more than 5 minutes ahead. */
  readonly now?: () => Millis;
  /**
   * Views are handed to the writer once this many bytes of view lines are buffered (default 2 MiB): one
   * group commit per batch, whatever the size of the views. The writer splits it into appends under the
   * store's maximum append size.
   */
  readonly viewBatchBytes?: number;
  /** And at the latest after this many views (default 50,000). */
  readonly viewBatchSize?: number;
  readonly ownershipBatchSize?: number;
  onProgress?(progress: ImportProgress): void;
  /** Every rejected line, with its 1-based number and what is wrong. */
  onRejected?(line: number, message: string): void;
}

/** The file cannot be read (missing, a directory, no permission, read error): a usage error. */
export class ImportFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`cannot read ${file}: ${reason}`);
    this.name = 'ImportFileError';
  }
}

const READ_CHUNK = 1 << 20;
const NEWLINE = 0x0a;

/**
 * Imports an NDJSON file of ownership changes and views (contract §7). Lines are validated one by one (a
 * bad line is reported with its number and skipped, the rest go on), ownership lines are applied in file
 * order per device, views are appended in large batches. Every line's event id is derived from the import id
 * and the line number, so an interrupted import run again neither loses nor duplicates anything.
 */
export async function importNdjsonFile(file: string, options: ImportOptions): Promise<ImportSummary> {
  if (options.importId !== undefined && !isValidId(options.importId)) {
    throw new InvalidInputError(
      'importId',
      'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit',
    );
  }
  const totalBytes = await fileSize(file);
  const importId = options.importId ?? (await fileDigest(file));
  const eventIds = new ImportEventIds(importId);
  const now = options.now ?? Date.now;
  const viewBatchBytes = options.viewBatchBytes ?? 2 * 1024 * 1024;
  const viewBatchSize = options.viewBatchSize ?? 50_000;
  const ownershipBatchSize = options.ownershipBatchSize ?? 5000;
  const { writer } = options;

  let lines = 0;
  let blank = 0;
  let accepted = 0;
  let skipped = 0;
  let rejectedCount = 0;
  let bytesRead = 0;
  let views: NumberedLine<ViewLine>[] = [];
  let viewBytes = 0;
  let changes: NumberedLine<OwnershipLine>[] = [];

  const reject = (line: number, message: string): void => {
    rejectedCount++;
    options.onRejected?.(line, message);
  };
  const count = (batch: readonly NumberedLine<unknown>[], outcomes: readonly LineOutcome[]): void => {
    outcomes.forEach((outcome, k) => {
      if (outcome.status === 'accepted') accepted++;
      else if (outcome.status === 'skipped') skipped++;
      else reject(batch[k].line, outcome.message);
    });
  };
  /**
   * The batch of views being appended while the next one is read and checked: reading overlaps the store's
   * commit (on the embedded store's writer thread, or EventStoreDB's round trip). At most one, so memory
   * holds two batches at most.
   */
  let viewsInFlight: Promise<void> | null = null;
  const settleViews = async (): Promise<void> => {
    const appending = viewsInFlight;
    viewsInFlight = null;
    if (appending) await appending;
  };
  const flushViews = async (): Promise<void> => {
    await settleViews();
    if (views.length === 0) return;
    const batch = views;
    views = [];
    viewBytes = 0;
    const appending = writer.appendViews(batch).then((outcomes) => count(batch, outcomes));
    // Awaited by the next flush or at the end; a failure meanwhile is not an unhandled rejection.
    appending.catch(() => undefined);
    viewsInFlight = appending;
  };
  const flushChanges = async (): Promise<void> => {
    // Outcomes are counted, and rejected lines reported, batch after batch in the order they were read.
    await settleViews();
    if (changes.length === 0) return;
    const batch = changes;
    changes = [];
    count(batch, await writer.applyOwnershipLines(batch));
  };
  const report = (): void =>
    options.onProgress?.({ bytesRead, totalBytes, lines, accepted, skipped, rejected: rejectedCount });

  /** Validates and queues one line; says which queue is full and must be flushed before going on. */
  const handle = (text: string): 'views' | 'changes' | null => {
    const number = ++lines;
    if (number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') {
      blank++;
      return null;
    }
    let parsed: ImportLine;
    try {
      parsed = parseImportLine(text, now());
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      reject(number, error.message);
      return null;
    }
    const eventId = eventIds.of(number);
    if (isOwnershipLine(parsed)) {
      changes.push({ line: number, eventId, input: parsed });
      return changes.length >= ownershipBatchSize ? 'changes' : null;
    }
    views.push({ line: number, eventId, input: parsed });
    viewBytes += text.length;
    return views.length >= viewBatchSize || viewBytes >= viewBatchBytes ? 'views' : null;
  };
  const flush = (full: 'views' | 'changes' | null): Promise<void> | null =>
    full === 'views' ? flushViews() : full === 'changes' ? flushChanges() : null;

  let pending: Buffer | null = null;
  const stream = createReadStream(file, { highWaterMark: READ_CHUNK });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      let start = 0;
      for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
        const piece: Buffer = pending
          ? Buffer.concat([pending, chunk.subarray(start, end)])
          : chunk.subarray(start, end);
        pending = null;
        start = end + 1;
        const full = handle(lineText(piece));
        if (full) await flush(full);
      }
      if (start < chunk.length) {
        pending = pending
          ? Buffer.concat([pending, chunk.subarray(start)])
          : Buffer.from(chunk.subarray(start));
      }
      report();
    }
  } catch (error) {
    // Nothing of this import goes on once it has returned: the caller may close the store.
    await settleViews().catch(() => undefined);
    if (isFileSystemError(error)) throw new ImportFileError(file, error.message);
    throw error;
  } finally {
    stream.destroy();
  }
  if (pending && pending.length > 0) handle(lineText(pending));
  await flushChanges();
  await flushViews();
  await settleViews();
  report();
  return { importId, lines, accepted, skipped, rejected: rejectedCount, blank };
}

function lineText(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new ImportFileError(file, 'not a regular file');
    return info.size;
  } catch (error) {
    if (error instanceof ImportFileError) throw error;
    throw new ImportFileError(file, error instanceof Error ? error.message : String(error));
  }
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file, {
      highWaterMark: READ_CHUNK,
    }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
    }
  } catch (error) {
    throw new ImportFileError(file, error instanceof Error ? error.message : String(error));
  }
  return `sha256:${hash.digest('hex')}`;
}

function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  return (
    error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && 'syscall' in error
  );
}
