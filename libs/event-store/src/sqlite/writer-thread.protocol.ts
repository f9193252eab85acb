import { ConcurrencyError, InvalidAppendError, StoreUnavailableError } from '../errors';
import type { AppendResult } from '../event-store.port';
import type { GroupMember } from './group-committer';

/** What the writer thread opens: the store's file, already migrated by the store. */
export interface WriterThreadData {
  readonly file: string;
  readonly revisionCacheSize: number;
}

/** An append as it crosses to the writer thread: the validated, serialized rows, no caller attached. */
export type WireAppend = Pick<
  GroupMember,
  'stream' | 'expected' | 'ids' | 'types' | 'data' | 'metadata' | 'unchecked'
>;

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
  | {
      readonly kind: 'commit';
      /** Numbers the groups: answers name it, as a group allowed to go first may be answered first. */
      readonly seq: number;
      readonly batch: readonly WireAppend[];
      /**
       * Every request of this small group may be committed before those of the groups posted ahead of it
       * (`mayOvertake`): the thread then commits it as soon as it sees it, even in the middle of preparing a
       * big group.
       */
      readonly mayGoFirst: boolean;
    }
  | { readonly kind: 'close' };

export type FromWriter =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'committed';
      readonly seq: number;
      readonly groupStart: number;
      readonly head: number;
      readonly outcomes: readonly WireOutcome[];
    }
  | { readonly kind: 'failed'; readonly seq: number; readonly error: WireError }
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
