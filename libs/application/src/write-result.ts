import type { JsonObject } from '@ledger/event-store';

/** What a write answers: an HTTP-like status and a body whose `token` names the write's log position. */
export interface WriteResult {
  readonly status: number;
  readonly body: JsonObject & { readonly token: string };
}

export interface IdempotencyContext {
  /** `<client>:<Idempotency-Key>` */
  readonly scope: string;
  readonly requestHash: string;
}

export interface WriteContext {
  readonly idempotency?: IdempotencyContext;
}
