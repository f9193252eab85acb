import { Observable } from 'rxjs';
import {
  comparePositions,
  ConcurrencyError,
  InvalidAppendError,
  readAllDataViaReadAll,
  START,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type LogPosition,
  type ReadAllDataOptions,
  type ReadAllDataPage,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscriptionMessage,
} from '@ledger/event-store';

const position = (n: number): LogPosition => ({ commit: BigInt(n), prepare: BigInt(n) });

/**
 * A small, synchronous EventStore for the replay and import unit tests: the port's append semantics
 * (expected revisions, all-or-nothing requests, a repeated request of stored ids is an idempotent retry) and
 * filtered `$all` pages. Integration tests use the embedded SQLite store instead.
 */
export class InMemoryEventStore implements EventStore {
  readonly name = 'in-memory';
  readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  /** Counts `readAll` calls, so tests can check paging. */
  readAllCalls = 0;

  async append(request: AppendRequest): Promise<AppendResult> {
    return this.appendNow(request);
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>> {
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
    const events = this.streams.get(stream) ?? [];
    const from = options.fromRevision ?? (options.direction === 'backwards' ? BigInt(events.length - 1) : 0n);
    const selected =
      options.direction === 'backwards'
        ? events.filter((e) => e.revision <= from).reverse()
        : events.filter((e) => e.revision >= from);
    return selected.slice(0, options.maxCount ?? selected.length);
  }

  /** Through `readAll`, so `readAllCalls` counts the pages of either read. */
  readAllData(options: ReadAllDataOptions): Promise<ReadAllDataPage> {
    return readAllDataViaReadAll(this, options);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.readAllCalls++;
    if (options.direction !== 'forwards' || options.from === 'end') {
      throw new Error('InMemoryEventStore reads $all forwards only');
    }
    const from = options.from;
    const prefixes = options.filter?.streamPrefixes ?? [];
    const types = options.filter?.eventTypes ?? [];
    const events: RecordedEvent[] = [];
    let index = this.log.findIndex((e) => comparePositions(e.position, from) > 0);
    if (index < 0) index = this.log.length;
    for (; index < this.log.length && events.length < options.maxCount; index++) {
      const event = this.log[index];
      if (types.length > 0 && !types.includes(event.type)) continue;
      if (prefixes.length > 0 && !prefixes.some((p) => event.stream.startsWith(p))) continue;
      events.push(event);
    }
    return {
      events,
      next: events.length > 0 ? events[events.length - 1].position : from,
      isEnd: index >= this.log.length,
    };
  }

  subscribeToAll(): Observable<SubscriptionMessage> {
    return new Observable((subscriber) =>
      subscriber.error(new Error('InMemoryEventStore has no subscriptions')),
    );
  }

  async headPosition(): Promise<LogPosition> {
    return this.log.length === 0 ? START : this.log[this.log.length - 1].position;
  }

  async close(): Promise<void> {}

  private appendNow(request: AppendRequest): AppendResult {
    const { stream, events, expectedRevision } = request;
    if (events.length === 0) throw new InvalidAppendError(`append to ${stream}: no events`);
    const existing = this.streams.get(stream) ?? [];
    const stored = events.map((e) => this.byId.get(e.eventId.toLowerCase()));
    if (stored.some((e) => e !== undefined)) {
      const retry = stored.every(
        (e, k) => e && e.stream === stream && e.revision === (stored[0]?.revision ?? 0n) + BigInt(k),
      );
      if (!retry) throw new InvalidAppendError(`append to ${stream}: some event ids are stored, some not`);
      const positions = stored.map((e) => (e as RecordedEvent).position);
      return {
        nextExpectedRevision: (stored[stored.length - 1] as RecordedEvent).revision,
        position: positions[positions.length - 1],
        positions,
      };
    }
    const current = existing.length - 1;
    const ok =
      expectedRevision === 'any' ||
      (expectedRevision === 'no_stream' && current === -1) ||
      (expectedRevision === 'stream_exists' && current >= 0) ||
      (typeof expectedRevision === 'bigint' && expectedRevision === BigInt(current));
    if (!ok) throw new ConcurrencyError(stream, String(expectedRevision), String(current));
    const positions: LogPosition[] = [];
    for (const event of events) {
      const recorded: RecordedEvent = {
        eventId: event.eventId.toLowerCase(),
        stream,
        revision: BigInt(existing.length),
        type: event.type,
        data: JSON.parse(JSON.stringify(event.data)),
        metadata: event.metadata ?? {},
        position: position(this.log.length),
      };
      existing.push(recorded);
      this.log.push(recorded);
      this.byId.set(recorded.eventId, recorded);
      positions.push(recorded.position);
    }
    this.streams.set(stream, existing);
    return {
      nextExpectedRevision: BigInt(existing.length - 1),
      position: positions[positions.length - 1],
      positions,
    };
  }
}
