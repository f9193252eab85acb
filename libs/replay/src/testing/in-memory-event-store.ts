import { Observable } from 'rxjs';
import {
  checkEventId,
  checkEventType,
  checkExpectedRevision,
  checkStreamName,
  comparePositions,
  ConcurrencyError,
  InvalidAppendError,
  appendSerializedViaAppend,
  readAllDataViaReadAll,
  subscribeStoredViaSubscribe,
  isJsonObject,
  serializeJsonObject,
  START,
  StoreClosedError,
  type AllFilter,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type JsonObject,
  type SerializedAppendRequest,
  type LogPosition,
  type ReadAllDataOptions,
  type ReadAllDataPage,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamOptions,
  type RecordedEvent,
  type StoredSubscriptionMessage,
  type SubscribeOptions,
  type SubscriptionMessage,
} from '@ledger/event-store';

const position = (n: number): LogPosition => ({ commit: BigInt(n), prepare: BigInt(n) });

function matcher(filter: AllFilter | undefined): (event: RecordedEvent) => boolean {
  const prefixes = filter?.streamPrefixes ?? [];
  const types = filter?.eventTypes ?? [];
  const anyStream = prefixes.length === 0 || prefixes.includes('');
  return (event) =>
    (types.length === 0 || types.includes(event.type)) &&
    (anyStream || prefixes.some((prefix) => event.stream.startsWith(prefix)));
}

/**
 * A small in-memory EventStore for the replay and import unit tests. It passes the same store contract suite as
 * the real adapters (the shared append rules, expected revisions, all-or-nothing requests, idempotent retries by
 * event id, filtered `$all` pages both ways, subscriptions with caught-up, close), so what a replay test proves
 * on it holds on them. Positions are dense here; callers may only compare them.
 */
export class InMemoryEventStore implements EventStore {
  readonly name = 'in-memory';
  readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  private readonly listeners = new Set<() => void>();
  private readonly closers = new Set<() => void>();
  private closed = false;
  /** Counts `readAll` calls, so tests can check paging. */
  readAllCalls = 0;

  async append(request: AppendRequest): Promise<AppendResult> {
    this.assertOpen();
    return this.appendNow(request);
  }

  async appendSerialized(request: SerializedAppendRequest): Promise<AppendResult> {
    this.assertOpen();
    return appendSerializedViaAppend(this, request);
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>> {
    this.assertOpen();
    if (!Array.isArray(requests)) throw new InvalidAppendError('appendMany needs an array of requests');
    return requests.map((request) => {
      try {
        return this.appendNow(request);
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof InvalidAppendError) return error;
        throw error;
      }
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(maxCount) || maxCount < 0)
      throw new RangeError('maxCount must be a non-negative integer');
    if (options.fromRevision !== undefined && options.fromRevision < 0n)
      throw new RangeError('fromRevision must not be negative');
    const events = this.streams.get(stream) ?? [];
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? BigInt(events.length - 1) : 0n);
    const selected = backwards
      ? events.filter((e) => e.revision <= from).reverse()
      : events.filter((e) => e.revision >= from);
    return selected.slice(0, maxCount);
  }

  /** Through `readAll`, so `readAllCalls` counts the pages of either read. */
  readAllData(options: ReadAllDataOptions): Promise<ReadAllDataPage> {
    return readAllDataViaReadAll(this, options);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.assertOpen();
    this.readAllCalls++;
    const { from, direction, maxCount } = options;
    if (!Number.isInteger(maxCount) || maxCount < 1)
      throw new RangeError('maxCount must be a positive integer');
    const matches = matcher(options.filter);
    const events: RecordedEvent[] = [];
    let isEnd = true;
    if (direction === 'forwards') {
      if (from === 'end') return { events, next: from, isEnd: true };
      for (let i = this.firstAfter(from); i < this.log.length; i++) {
        if (!matches(this.log[i])) continue;
        if (events.length === maxCount) {
          isEnd = false;
          break;
        }
        events.push(this.log[i]);
      }
    } else {
      const start = from === 'end' ? this.log.length - 1 : this.firstAfter(from, true) - 1;
      for (let i = start; i >= 0; i--) {
        if (from !== 'end' && comparePositions(this.log[i].position, from) >= 0) continue;
        if (!matches(this.log[i])) continue;
        if (events.length === maxCount) {
          isEnd = false;
          break;
        }
        events.push(this.log[i]);
      }
    }
    return { events, next: events.length > 0 ? events[events.length - 1].position : from, isEnd };
  }

  subscribeToAll(options: SubscribeOptions): Observable<SubscriptionMessage> {
    return new Observable<SubscriptionMessage>((subscriber) => {
      if (this.closed) {
        subscriber.error(new StoreClosedError());
        return undefined;
      }
      const matches = matcher(options.filter);
      let cursor = this.firstAfter(options.from);
      let caughtUp = false;
      const pump = (): void => {
        for (; cursor < this.log.length && !subscriber.closed; cursor++) {
          const event = this.log[cursor];
          if (matches(event)) subscriber.next({ kind: 'event', event });
        }
        if (!caughtUp && !subscriber.closed) {
          caughtUp = true;
          const last = this.log[cursor - 1]?.position;
          const at = last && comparePositions(last, options.from) > 0 ? last : options.from;
          subscriber.next({ kind: 'caught-up', position: at });
        }
      };
      const close = (): void => subscriber.error(new StoreClosedError());
      // Delivered after subscribe returns, as a real store's subscription would be.
      const started = setImmediate(() => {
        this.listeners.add(pump);
        pump();
      });
      this.closers.add(close);
      return () => {
        clearImmediate(started);
        this.listeners.delete(pump);
        this.closers.delete(close);
      };
    });
  }

  subscribeToAllStored(options: SubscribeOptions): Observable<StoredSubscriptionMessage> {
    return subscribeStoredViaSubscribe(this, options);
  }

  async headPosition(): Promise<LogPosition> {
    this.assertOpen();
    return this.log.length === 0 ? START : this.log[this.log.length - 1].position;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    for (const close of [...this.closers]) close();
    this.closers.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  /** Index of the first event strictly after `after` (or at/after it with `inclusive`). */
  private firstAfter(after: LogPosition, inclusive = false): number {
    if (after.commit < 0n) return 0;
    const index = this.log.findIndex((e) => {
      const order = comparePositions(e.position, after);
      return inclusive ? order >= 0 : order > 0;
    });
    return index < 0 ? this.log.length : index;
  }

  private appendNow(request: AppendRequest): AppendResult {
    if (typeof request !== 'object' || request === null)
      throw new InvalidAppendError('append request is missing');
    const stream = checkStreamName(request.stream);
    const expectedRevision = checkExpectedRevision(stream, request.expectedRevision);
    if (!Array.isArray(request.events) || request.events.length === 0)
      throw new InvalidAppendError(`append to ${stream}: no events`);
    const seen = new Set<string>();
    const events = request.events.map((event, i) => {
      if (!isJsonObject(event))
        throw new InvalidAppendError(`append to ${stream}: event ${i} is not an object`);
      const eventId = checkEventId(stream, event.eventId, seen);
      const type = checkEventType(stream, eventId, event.type);
      const data = JSON.parse(
        serializeJsonObject(`append to ${stream}: event ${eventId} data`, event.data),
      ) as JsonObject;
      const metadata =
        event.metadata === undefined
          ? {}
          : (JSON.parse(
              serializeJsonObject(`append to ${stream}: event ${eventId} metadata`, event.metadata),
            ) as JsonObject);
      return { eventId, type, data, metadata };
    });

    const stored = events.map((e) => this.byId.get(e.eventId));
    const hit = stored.find((e) => e !== undefined);
    if (hit) {
      const first = stored[0];
      const retry =
        first !== undefined &&
        stored.every((e, k) => e && e.stream === stream && e.revision === first.revision + BigInt(k));
      if (!retry) {
        throw new InvalidAppendError(
          `append to ${stream}: event ${hit.eventId} is already stored (revision ${hit.revision}) but the ` +
            'request is not a retry of the append that stored it',
        );
      }
      const positions = stored.map((e) => (e as RecordedEvent).position);
      return {
        nextExpectedRevision: (stored[stored.length - 1] as RecordedEvent).revision,
        position: positions[positions.length - 1],
        positions,
      };
    }
    const existing = this.streams.get(stream) ?? [];
    const current = existing.length - 1;
    const ok =
      expectedRevision === 'any' ||
      (expectedRevision === 'no_stream' && current === -1) ||
      (expectedRevision === 'stream_exists' && current >= 0) ||
      (typeof expectedRevision === 'bigint' && current >= 0 && expectedRevision === BigInt(current));
    if (!ok) {
      throw new ConcurrencyError(
        stream,
        String(expectedRevision),
        current < 0 ? 'no_stream' : String(current),
      );
    }
    const positions: LogPosition[] = [];
    for (const event of events) {
      const recorded: RecordedEvent = {
        ...event,
        stream,
        revision: BigInt(existing.length),
        position: position(this.log.length),
      };
      existing.push(recorded);
      this.log.push(recorded);
      this.byId.set(recorded.eventId, recorded);
      positions.push(recorded.position);
    }
    this.streams.set(stream, existing);
    for (const listener of [...this.listeners]) listener();
    return {
      nextExpectedRevision: BigInt(existing.length - 1),
      position: positions[positions.length - 1],
      positions,
    };
  }
}
