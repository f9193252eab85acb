import { ConcurrencyError, InvalidAppendError, StoreUnavailableError } from '../errors';
import type { AppendResult } from '../event-store.port';
import type { GroupMember } from './group-committer';

/** What the writer thread opens: the store's file, already migrated by the store. */
export interface WriterThreadData {
  readonly file: string;
  readonly revisionCacheSize: number;
}

/**
 * One column of a request's rows (its ids, types or data texts) as it crosses threads: the texts side by side
 * in ONE string, the i-th ending at `ends[i]`. A string crosses as one copy; a thousand strings cost the
 * structured clone a thousand entries on the sending side, which is the event loop (posting the groups of a
 * bulk ingest was the biggest share of its long stretches after garbage collection).
 */
export interface PackedColumn {
  readonly text: string;
  readonly ends: Uint32Array;
}

export function packColumn(values: readonly string[]): PackedColumn {
  const ends = new Uint32Array(values.length);
  let end = 0;
  for (let i = 0; i < values.length; i++) {
    end += values[i].length;
    ends[i] = end;
  }
  return { text: values.join(''), ends };
}

export function unpackColumn({ text, ends }: PackedColumn): string[] {
  const values = new Array<string>(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    values[i] = text.slice(start, ends[i]);
    start = ends[i];
  }
  return values;
}

/** An append as it crosses to the writer thread: the validated, serialized rows, no caller attached. */
export interface WireAppend extends Pick<GroupMember, 'stream' | 'expected' | 'unchecked'> {
  readonly ids: PackedColumn;
  readonly types: PackedColumn;
  readonly data: PackedColumn;
  /** Null when no event of the request has metadata (every view of a batch). */
  readonly metadata: readonly (string | null)[] | null;
}

/** A port error as it crosses back; rebuilt into the same class on the store's side. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly stream?: string;
  readonly expected?: string;
  readonly actual?: string;
}

export interface WireOutcome {
  /**
   * A retry's result (its positions need not be consecutive). A request whose rows were written gets none:
   * its result follows from `firstPosition`, its count and `firstRevision` (`writtenResult`).
   */
  readonly result?: AppendResult;
  readonly error?: WireError;
  readonly firstPosition: number;
  readonly firstRevision: number;
}

export type ToWriter =
  { readonly kind: 'commit'; readonly batch: readonly WireAppend[] } | { readonly kind: 'close' };

export type FromWriter =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'committed';
      readonly groupStart: number;
      readonly head: number;
      readonly outcomes: readonly WireOutcome[];
    }
  | { readonly kind: 'failed'; readonly error: WireError }
  | { readonly kind: 'closed' };

export function toWireError(error: Error): WireError {
  if (error instanceof ConcurrencyError) {
    const { code, message, stream, expected, actual } = error;
    return { code, message, stream, expected, actual };
  }
  const code = error instanceof InvalidAppendError ? 'invalid_append' : 'unavailable';
  return { code, message: error.message };
}

/** The port's own error classes again, so callers cannot tell which thread wrote. */
export function fromWireError(wire: WireError): Error {
  if (wire.code === 'concurrency') {
    return new ConcurrencyError(wire.stream ?? '', wire.expected ?? '', wire.actual ?? '');
  }
  if (wire.code === 'invalid_append') return new InvalidAppendError(wire.message);
  return new StoreUnavailableError(wire.message);
}
