import type { Observable } from 'rxjs';
import type { LogPosition } from './position';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue | undefined };

/**
 * What a writer must state about the stream's current revision. There is deliberately no default: a caller
 * who does not care says `'any'` out loud.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export interface NewEvent {
  /** UUID. Appending an event id that is already in the store is a no-op for that event (idempotent retry). */
  readonly eventId: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata?: JsonObject;
}

export interface RecordedEvent {
  readonly eventId: string;
  readonly stream: string;
  /** 0-based position of the event in its stream. */
  readonly revision: bigint;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  readonly position: LogPosition;
}

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last event of this append. */
  readonly position: LogPosition;
  /** Global positions of each appended event, in order. */
  readonly positions: readonly LogPosition[];
}

export interface AppendRequest {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expectedRevision: ExpectedRevision;
}

/**
 * The events of one append in the form the store keeps them, for a writer that made that form already (off
 * the service's thread, say): the i-th event is `(eventIds[i], types[i], dataJson[i])`, with no metadata. An
 * adapter can then store a thousand events without building or serializing a thousand objects where the
 * request arrives. The rules are `append`'s, stated on the text: each id a lower-case UUID (as the store hands
 * ids back), each `dataJson[i]` exactly what `JSON.stringify` writes for an object (so the stored text, and
 * every byte derived from it, is what `append` of the parsed object stores). A request that breaks a rule is
 * refused whole with `InvalidAppendError`, writing nothing.
 */
export interface SerializedEvents {
  readonly eventIds: readonly string[];
  readonly types: readonly string[];
  readonly dataJson: readonly string[];
}

export interface SerializedAppendRequest {
  readonly stream: string;
  readonly events: SerializedEvents;
  readonly expectedRevision: ExpectedRevision;
}

export interface ReadStreamOptions {
  readonly fromRevision?: bigint;
  readonly direction?: 'forwards' | 'backwards';
  readonly maxCount?: number;
}

/** Limits `$all` reads and subscriptions to some streams (by prefix) and/or some event types. */
export interface AllFilter {
  readonly streamPrefixes?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /**
   * Forwards: events strictly after this position (START for the beginning).
   * Backwards: events strictly before this position ('end' for the head).
   */
  readonly from: LogPosition | 'end';
  readonly direction: 'forwards' | 'backwards';
  readonly maxCount: number;
  readonly filter?: AllFilter;
}

export interface ReadAllPage {
  readonly events: readonly RecordedEvent[];
  /** Pass as `from` to read the next page; equal to the request's `from` when nothing was read. */
  readonly next: LogPosition | 'end';
  readonly isEnd: boolean;
}

/** A bulk forward read of `$all` that hands back only what an analysis needs: ids, types and data. */
export interface ReadAllDataOptions {
  /** Events strictly after this position (START for the beginning). */
  readonly from: LogPosition;
  /** Events at or before this position only (say, a head captured first). */
  readonly upTo: LogPosition;
  readonly maxCount: number;
  readonly filter?: AllFilter;
}

/**
 * One page of `readAllData`, column by column: the i-th event is `(eventIds[i], types[i], dataJson[i])`.
 * Data comes as its JSON text, so a reader that needs three fields of a million events need not build a
 * million objects (it can still `JSON.parse` any of them).
 */
export interface ReadAllDataPage {
  readonly eventIds: readonly string[];
  readonly types: readonly string[];
  /**
   * Each event's `data` as JSON text: `JSON.parse(dataJson[i])` is the `data` `readAll` returns. These strings
   * (and the ids) may share memory with the page they came in: copy what you keep beyond the page.
   */
  readonly dataJson: readonly string[];
  /** Pass as `from` to read the next page; equal to the request's `from` when nothing was read. */
  readonly next: LogPosition;
  /** Nothing matching is left at or before `upTo`. */
  readonly isEnd: boolean;
}

export type SubscriptionMessage =
  | { readonly kind: 'event'; readonly event: RecordedEvent }
  /** Everything up to `position` has been delivered; later messages are live. */
  | { readonly kind: 'caught-up'; readonly position: LogPosition };

/**
 * An event as the store keeps it: `readAll`'s event with data and metadata as their stored JSON text instead of
 * parsed objects. For every event the store wrote, `dataJson` is byte for byte `JSON.stringify(data)` and
 * `metadataJson` `JSON.stringify(metadata)` (`{}` when there is none); an adapter that keeps that text hands it
 * over without parsing it. For readers that need the bytes, not the values (the Merkle tree's leaves).
 */
export interface StoredEvent {
  readonly eventId: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly type: string;
  readonly dataJson: string;
  readonly metadataJson: string;
  readonly position: LogPosition;
}

export type StoredSubscriptionMessage =
  | { readonly kind: 'event'; readonly event: StoredEvent }
  | { readonly kind: 'caught-up'; readonly position: LogPosition };

export interface SubscribeOptions {
  /** Deliver events strictly after this position. */
  readonly from: LogPosition;
  readonly filter?: AllFilter;
}

/**
 * The event store port. Every adapter (embedded SQLite, EventStoreDB) passes the same contract suite
 * (`testing/event-store.contract.ts`).
 */
export interface EventStore {
  readonly name: string;
  /**
   * Appends atomically: all events of the request or none. Appends made concurrently (neither acknowledged when
   * the other was made) by separate calls have no order between them, in one stream too, as with EventStoreDB;
   * await an append before making one that must come after it, or use `appendMany`.
   */
  append(request: AppendRequest): Promise<AppendResult>;
  /**
   * `append` of events given in their stored form (`SerializedEvents`): the same atomicity, expected revision,
   * idempotent retry by event id and refusals; what it stores and delivers is what `append` of the parsed
   * events would. `appendSerializedViaAppend` is the generic form any adapter can use.
   */
  appendSerialized(request: SerializedAppendRequest): Promise<AppendResult>;
  /**
   * Appends several requests; each is atomic on its own and may fail on its own (results in order). Requests to
   * one stream are appended in the order given.
   */
  appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>>;
  /** Events of a stream in revision order; an empty array when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;
  readAll(options: ReadAllOptions): Promise<ReadAllPage>;
  /**
   * `$all` forwards like `readAll`, but without metadata, streams, revisions or per-event positions, for bulk
   * analyses (the incident replay) that read most of the log. An adapter may serve it far more cheaply than
   * `readAll`; `readAllDataViaReadAll` is the generic form any adapter can use.
   */
  readAllData(options: ReadAllDataOptions): Promise<ReadAllDataPage>;
  /** Catch-up, then live. Never completes on its own; errors with a port error if the store fails. */
  subscribeToAll(options: SubscribeOptions): Observable<SubscriptionMessage>;
  /**
   * `subscribeToAll`, the same messages in the same order, with each event as stored (`StoredEvent`): no parse
   * of data or metadata. `subscribeStoredViaSubscribe` is the generic form any adapter can use.
   */
  subscribeToAllStored(options: SubscribeOptions): Observable<StoredSubscriptionMessage>;
  /** Position of the last event in the log (START when empty). Everything acknowledged so far is at or before it. */
  headPosition(): Promise<LogPosition>;
  close(): Promise<void>;
}
