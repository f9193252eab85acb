import type { JsonObject, RecordedEvent } from '@ledger/event-store';

/**
 * What a write stores about its Idempotency-Key, in the metadata of the last event it appends — so the key
 * is recorded in the same atomic append as the write and survives exactly what the write survives.
 */
export interface IdempotencyRecord {
  /** `<api key name>:<Idempotency-Key>`: keys are scoped per client. */
  readonly scope: string;
  readonly requestHash: string;
  readonly status: number;
  /** The response body minus its `token`, which is the carrying event's position. */
  readonly body: JsonObject;
}

export const IDEMPOTENCY_METADATA_KEY = 'idempotency';

export interface RememberedResponse {
  readonly requestHash: string;
  readonly status: number;
  readonly body: JsonObject;
  readonly position: RecordedEvent['position'];
}

/** Read model of every Idempotency-Key ever used, built from event metadata like any projection. */
export class IdempotencyIndex {
  private readonly entries = new Map<string, RememberedResponse>();

  get size(): number {
    return this.entries.size;
  }

  apply(event: RecordedEvent): void {
    const record = event.metadata[IDEMPOTENCY_METADATA_KEY] as unknown as IdempotencyRecord | undefined;
    if (!record || typeof record.scope !== 'string' || this.entries.has(record.scope)) return;
    this.entries.set(record.scope, {
      requestHash: record.requestHash,
      status: record.status,
      body: record.body,
      position: event.position,
    });
  }

  get(scope: string): RememberedResponse | undefined {
    return this.entries.get(scope);
  }

  *serialize(): Generator<
    [string, { requestHash: string; status: number; body: JsonObject; commit: string; prepare: string }]
  > {
    for (const [scope, entry] of this.entries) {
      yield [
        scope,
        {
          requestHash: entry.requestHash,
          status: entry.status,
          body: entry.body,
          commit: entry.position.commit.toString(),
          prepare: entry.position.prepare.toString(),
        },
      ];
    }
  }

  restore(
    scope: string,
    entry: { requestHash: string; status: number; body: JsonObject; commit: string; prepare: string },
  ): void {
    this.entries.set(scope, {
      requestHash: entry.requestHash,
      status: entry.status,
      body: entry.body,
      position: { commit: BigInt(entry.commit), prepare: BigInt(entry.prepare) },
    });
  }
}
