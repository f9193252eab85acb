import type { OwnershipLine, ViewLine } from './import-line';

/** A validated line with its place in the file and its deterministic event id. */
export interface NumberedLine<T> {
  readonly line: number;
  readonly eventId: string;
  readonly input: T;
}

export type LineOutcome =
  | { readonly status: 'accepted' }
  /** Its event is in the ledger already (an earlier run of the same import). */
  | { readonly status: 'skipped' }
  /** A rule violation (what the HTTP API answers with 404/409) or an invalid combination of fields. */
  | { readonly status: 'rejected'; readonly message: string };

/**
 * Where `import` writes. The default (`StoreLedgerWriter`) decides and appends against the event store
 * directly; an application layer can supply its own command handlers instead. Either way, each call returns
 * one outcome per line, in the order given, and applies one device's lines in the order given.
 */
export interface LedgerWriter {
  applyOwnershipLines(batch: readonly NumberedLine<OwnershipLine>[]): Promise<LineOutcome[]>;
  appendViews(batch: readonly NumberedLine<ViewLine>[]): Promise<LineOutcome[]>;
}

export const ACCEPTED: LineOutcome = Object.freeze({ status: 'accepted' });
export const SKIPPED: LineOutcome = Object.freeze({ status: 'skipped' });
export const rejected = (message: string): LineOutcome => ({ status: 'rejected', message });
