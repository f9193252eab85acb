import type { JsonObject, LogPosition, RecordedEvent } from '@ledger/event-store';

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

/** How long a key is remembered unless configured (`LEDGER_IDEMPOTENCY_RETENTION`), as payment APIs do. */
export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface RememberedResponse {
  readonly requestHash: string;
  readonly status: number;
  readonly body: JsonObject;
  readonly position: RecordedEvent['position'];
}

/** One line of the snapshot's idempotency section. */
export interface SerializedIdempotencyEntry {
  readonly requestHash: string;
  readonly status: number;
  readonly body: JsonObject;
  readonly commit: string;
  readonly prepare: string;
  /** Epoch ms the carrying event was recorded; absent in snapshots written before keys expired. */
  readonly recordedAt?: number;
}

/**
 * One remembered key as the binary snapshot holds it: `[scope, requestHash, status, body as JSON text,
 * commit, prepare, recordedAt]`. The body stays text, as the index keeps it, so neither side parses it.
 */
export type IdempotencySnapshotRow = [string, string, number, string, string, string, number];

/** The unexpired keys at one moment: immutable entries, so a shallow copy holds them still. */
export interface IdempotencyCapture {
  readonly size: number;
  row(index: number): IdempotencySnapshotRow;
}

export interface IdempotencyIndexOptions {
  /** Keys recorded this long ago or longer are forgotten: a repeat after that is a new request. */
  readonly retentionMs?: number;
  /** Epoch ms now; the ledger's clock. */
  readonly now?: () => number;
}

/**
 * Kept small on purpose: a media service sending a key with every view puts millions of these in memory
 * within one window. The body stays in the serialized form it will be answered in (hits are rare), and the
 * position is a number whenever it fits one (always on the embedded store).
 */
class Entry {
  constructor(
    readonly requestHash: string,
    readonly status: number,
    readonly bodyJson: string,
    readonly position: number | LogPosition,
    readonly recordedAt: number,
  ) {}
}

const MAX_SAFE_POSITION = BigInt(Number.MAX_SAFE_INTEGER);

function compactPosition(position: LogPosition): number | LogPosition {
  return position.commit === position.prepare && position.commit <= MAX_SAFE_POSITION
    ? Number(position.commit)
    : position;
}

function fullPosition(position: number | LogPosition): LogPosition {
  if (typeof position !== 'number') return position;
  const value = BigInt(position);
  return { commit: value, prepare: value };
}

/** `recordedAt` of the carrying event (ISO text in event data); null when it has none readable. */
function recordedAtOf(event: RecordedEvent): number | null {
  const value = event.data.recordedAt;
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return null;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

/** How many expired slots the expiry queue may carry at its front before it is compacted. */
const QUEUE_COMPACT_AT = 4096;

/**
 * Read model of the Idempotency-Keys used within the retention window, built from event metadata like any
 * projection. A key is answered while `recordedAt + retention > now` and forgotten after; the carrying
 * event stays in the log forever, only the index lets go. Keys are queued in log order, which is
 * `recordedAt` order up to clock skew between writers, so expiry pops them from the front in O(1) per key
 * (a queue of its own: a Map's iterator would walk every deleted slot again); `get` checks the window
 * exactly, so a key is never answered after it, whatever the order.
 */
export class IdempotencyIndex {
  private readonly entries = new Map<string, Entry>();
  /** Keys in the order they were remembered, with their recordedAt; `head` is the first still queued. */
  private queuedScopes: string[] = [];
  private queuedAt: number[] = [];
  private head = 0;
  readonly retentionMs: number;
  private readonly now: () => number;

  constructor(options: IdempotencyIndexOptions = {}) {
    const retentionMs = options.retentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS;
    if (!Number.isFinite(retentionMs) || retentionMs <= 0) {
      throw new RangeError(`idempotency retention must be a positive number of ms, got ${retentionMs}`);
    }
    this.retentionMs = retentionMs;
    this.now = options.now ?? Date.now;
  }

  /** Keys remembered now (expired ones are let go first). */
  get size(): number {
    const now = this.now();
    this.forgetExpired(now);
    // Keys a skewed writer recorded out of order can be expired behind an unexpired one: sweep them too,
    // so the count (and the snapshot written after it) holds no expired key.
    for (const [scope, entry] of this.entries) {
      if (this.isExpired(entry.recordedAt, now)) this.entries.delete(scope);
    }
    return this.entries.size;
  }

  apply(event: RecordedEvent): void {
    const record = event.metadata[IDEMPOTENCY_METADATA_KEY] as unknown as IdempotencyRecord | undefined;
    if (!record || typeof record.scope !== 'string') return;
    const now = this.now();
    this.forgetExpired(now);
    // An event without a readable recordedAt counts from when it is applied: remembered a full window.
    const recordedAt = recordedAtOf(event) ?? now;
    if (this.isExpired(recordedAt, now)) return;
    const existing = this.entries.get(record.scope);
    if (existing !== undefined) {
      // Inside the window the first write of a key is its answer; after it, a reuse is a new request.
      if (!this.isExpired(existing.recordedAt, now)) return;
      this.entries.delete(record.scope);
    }
    this.remember(
      record.scope,
      new Entry(
        record.requestHash,
        record.status,
        JSON.stringify(record.body),
        compactPosition(event.position),
        recordedAt,
      ),
    );
  }

  get(scope: string): RememberedResponse | undefined {
    const entry = this.entries.get(scope);
    if (entry === undefined) return undefined;
    if (this.isExpired(entry.recordedAt, this.now())) {
      this.entries.delete(scope);
      return undefined;
    }
    return {
      requestHash: entry.requestHash,
      status: entry.status,
      body: JSON.parse(entry.bodyJson) as JsonObject,
      position: fullPosition(entry.position),
    };
  }

  /** The unexpired keys, for the snapshot: an expired key is never written to disk again. */
  *serialize(): Generator<[string, SerializedIdempotencyEntry]> {
    const now = this.now();
    for (const [scope, entry] of this.entries) {
      if (this.isExpired(entry.recordedAt, now)) continue;
      const position = fullPosition(entry.position);
      yield [
        scope,
        {
          requestHash: entry.requestHash,
          status: entry.status,
          body: JSON.parse(entry.bodyJson) as JsonObject,
          commit: position.commit.toString(),
          prepare: position.prepare.toString(),
          recordedAt: entry.recordedAt,
        },
      ];
    }
  }

  /** The unexpired keys now, as a shallow copy: keys applied after this call are not in it. */
  capture(): IdempotencyCapture {
    const now = this.now();
    this.forgetExpired(now);
    const scopes: string[] = [];
    const entries: Entry[] = [];
    for (const [scope, entry] of this.entries) {
      if (this.isExpired(entry.recordedAt, now)) continue;
      scopes.push(scope);
      entries.push(entry);
    }
    return {
      size: scopes.length,
      row: (index) => {
        const entry = entries[index];
        const position = fullPosition(entry.position);
        return [
          scopes[index],
          entry.requestHash,
          entry.status,
          entry.bodyJson,
          position.commit.toString(),
          position.prepare.toString(),
          entry.recordedAt,
        ];
      },
    };
  }

  /** Restores a key from a binary snapshot's row; one whose window has passed since is left out. */
  restoreRow(row: IdempotencySnapshotRow): void {
    const [scope, requestHash, status, bodyJson, commit, prepare, recordedAt] = row;
    if (
      typeof scope !== 'string' ||
      typeof requestHash !== 'string' ||
      typeof status !== 'number' ||
      typeof bodyJson !== 'string' ||
      typeof recordedAt !== 'number'
    ) {
      throw new Error('an idempotency row is not [scope, hash, status, body, commit, prepare, recordedAt]');
    }
    if (this.isExpired(recordedAt, this.now())) return;
    this.remember(
      scope,
      new Entry(
        requestHash,
        status,
        bodyJson,
        compactPosition({ commit: BigInt(commit), prepare: BigInt(prepare) }),
        recordedAt,
      ),
    );
  }

  restore(scope: string, entry: SerializedIdempotencyEntry): void {
    // A snapshot from before keys expired has no recordedAt: such a key gets one more full window.
    const recordedAt = typeof entry.recordedAt === 'number' ? entry.recordedAt : this.now();
    if (this.isExpired(recordedAt, this.now())) return;
    this.remember(
      scope,
      new Entry(
        entry.requestHash,
        entry.status,
        JSON.stringify(entry.body),
        compactPosition({ commit: BigInt(entry.commit), prepare: BigInt(entry.prepare) }),
        recordedAt,
      ),
    );
  }

  private isExpired(recordedAt: number, now: number): boolean {
    return recordedAt + this.retentionMs <= now;
  }

  private remember(scope: string, entry: Entry): void {
    this.entries.set(scope, entry);
    this.queuedScopes.push(scope);
    this.queuedAt.push(entry.recordedAt);
  }

  /** Pops expired keys off the front of the queue; a slot whose key was replaced since only moves the head. */
  private forgetExpired(now: number): void {
    const scopes = this.queuedScopes;
    const times = this.queuedAt;
    let head = this.head;
    while (head < scopes.length && this.isExpired(times[head], now)) {
      const entry = this.entries.get(scopes[head]);
      if (entry !== undefined && entry.recordedAt === times[head]) this.entries.delete(scopes[head]);
      head++;
    }
    if (head >= QUEUE_COMPACT_AT && head * 2 >= scopes.length) {
      this.queuedScopes = scopes.slice(head);
      this.queuedAt = times.slice(head);
      head = 0;
    }
    this.head = head;
  }
}
