import { applyDeviceEvent, cloneTimeline, toDeviceEvent, type DeviceState } from '@ledger/domain';
import {
  ConcurrencyError,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from '@ledger/event-store';

/** A stream's history as a command handler decides against it. */
export interface LoadedStream<State> {
  readonly state: State;
  /** Revision of the stream's last event; null when the stream does not exist. */
  readonly revision: bigint | null;
  /** Ids of the events in the stream: a command whose event id is here was applied before. */
  readonly eventIds: ReadonlySet<string>;
  /** Just read from the store, rather than remembered from an earlier command (which may be stale). */
  readonly fresh: boolean;
}

/** What `handle` decided: the events to append (none: nothing changes) and what to answer. */
export interface Decision<Result, State> {
  readonly events: readonly NewEvent[];
  readonly result: Result;
  /**
   * Nothing is appended, so nothing proves the history was current: decide again on a fresh read before
   * answering (used when the answer is a refusal that a stale history could have caused).
   */
  readonly confirmOnFreshRead?: boolean;
  /** The state once `events` are applied, when the handler computed it: a cache then keeps it. */
  readonly nextState?: State;
}

export interface RetryPolicy {
  /** Decisions taken again after a failed append, at most. */
  readonly maxRetries: number;
  /** Whether a failed append means "your history was stale": read again and decide again. */
  shouldRetry(error: unknown, loadedFresh: boolean): boolean;
  /** Wait before the next attempt (0: none). */
  delayMs(attempt: number): number;
}

/** A concurrent change to the stream: decided again at once, up to `maxRetries` times, with a little jitter. */
export function concurrencyRetry(maxRetries: number, jitterMs = 5): RetryPolicy {
  return {
    maxRetries,
    shouldRetry: (error) => error instanceof ConcurrencyError,
    delayMs: (attempt) => (jitterMs > 0 ? Math.random() * jitterMs * (attempt + 1) : 0),
  };
}

/** How a stream's recorded events fold into the state decisions are taken against. */
export interface StreamFold<State> {
  readonly initialState: () => State;
  /** Applies one recorded event; may mutate and return `state` (the handler hands out copies). */
  readonly apply: (state: State, event: RecordedEvent) => State;
  readonly clone: (state: State) => State;
}

/** Remembers loaded streams between commands (the importer's, bounded); a failed append evicts the entry. */
export interface StreamCache<State> {
  get(stream: string): LoadedStream<State> | undefined;
  set(stream: string, loaded: LoadedStream<State>): void;
  delete(stream: string): void;
}

export interface HandledCommand<Result> {
  readonly result: Result;
  /** The append's result; null when the decision appended nothing. */
  readonly appended: AppendResult | null;
}

/**
 * One command against one stream: read the stream (or take it from `cache`), decide, append what was decided
 * with the stream's revision as the expectation; when the append fails in a way `retry` calls stale, read
 * again and decide again. After the last retry the append's error is thrown. (Emmett's `handleCommand`.)
 */
export async function handleCommand<State, Result>(
  store: EventStore,
  stream: string,
  fold: StreamFold<State>,
  handle: (loaded: LoadedStream<State>) => Decision<Result, State>,
  retry: RetryPolicy,
  cache?: StreamCache<State>,
): Promise<HandledCommand<Result>> {
  for (let attempt = 0; ; attempt++) {
    const loaded = cache?.get(stream) ?? (await load(store, stream, fold));
    // A remembered state is shared with the cache, so the decision works on a copy; a fresh one is its own.
    const decision = handle(loaded.fresh ? loaded : { ...loaded, state: fold.clone(loaded.state) });
    if (decision.events.length === 0) {
      if (decision.confirmOnFreshRead && !loaded.fresh) {
        cache?.delete(stream);
        continue;
      }
      cache?.set(stream, loaded);
      return { result: decision.result, appended: null };
    }
    try {
      const appended = await store.append({
        stream,
        expectedRevision: loaded.revision ?? 'no_stream',
        events: decision.events,
      });
      if (cache && decision.nextState !== undefined) {
        // What was decided is now the stream: remember it without reading it back.
        const eventIds = new Set(loaded.eventIds);
        for (const event of decision.events) eventIds.add(event.eventId);
        cache.set(stream, {
          state: decision.nextState,
          revision: appended.nextExpectedRevision,
          eventIds,
          fresh: false,
        });
      } else cache?.delete(stream);
      return { result: decision.result, appended };
    } catch (error) {
      cache?.delete(stream);
      if (attempt >= retry.maxRetries || !retry.shouldRetry(error, loaded.fresh)) throw error;
      const wait = retry.delayMs(attempt);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

async function load<State>(
  store: EventStore,
  stream: string,
  fold: StreamFold<State>,
): Promise<LoadedStream<State>> {
  const recorded = await store.readStream(stream);
  let state = fold.initialState();
  const eventIds = new Set<string>();
  for (const event of recorded) {
    eventIds.add(event.eventId);
    state = fold.apply(state, event);
  }
  return {
    state,
    revision: recorded.length > 0 ? recorded[recorded.length - 1].revision : null,
    eventIds,
    fresh: true,
  };
}

/** A device stream folds into its §2 timeline (events of other types in the stream are skipped). */
export const deviceStreamFold: StreamFold<DeviceState> = {
  initialState: () => null,
  apply: (state, event) => {
    const decoded = toDeviceEvent(event);
    return decoded ? applyDeviceEvent(state, decoded) : state;
  },
  clone: (state) => (state ? cloneTimeline(state) : null),
};

/** The importer's cache of device streams: the least recently used is evicted past `capacity`. */
export class LruStreamCache<State> implements StreamCache<State> {
  private readonly entries = new Map<string, LoadedStream<State>>();

  constructor(private readonly capacity: number) {}

  get(stream: string): LoadedStream<State> | undefined {
    const entry = this.entries.get(stream);
    if (entry === undefined) return undefined;
    this.entries.delete(stream);
    this.entries.set(stream, entry);
    return { ...entry, fresh: false };
  }

  set(stream: string, loaded: LoadedStream<State>): void {
    this.entries.delete(stream);
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(stream, loaded);
  }

  delete(stream: string): void {
    this.entries.delete(stream);
  }
}
