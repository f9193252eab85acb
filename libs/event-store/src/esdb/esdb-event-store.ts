import { Observable } from 'rxjs';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  type AppendExpectedRevision,
  type EventData,
} from '@eventstore/db-client';
import {
  AppendTooLargeError,
  ConcurrencyError,
  InvalidAppendError,
  StoreClosedError,
  StoreUnavailableError,
  type EventStoreError,
} from '../errors';
import type {
  AppendRequest,
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllDataOptions,
  ReadAllDataPage,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  SerializedAppendRequest,
  SubscribeOptions,
  StoredSubscriptionMessage,
  SubscriptionMessage,
} from '../event-store.port';
import { appendSerializedViaAppend } from '../append-rules';
import { readAllDataViaReadAll } from '../read-all-data';
import { subscribeStoredViaSubscribe } from '../stored-subscription';
import { START as LOG_START, type LogPosition } from '../position';
import { compileAllFilter } from './all-filter';
import { createAllReader, readAllPage, type RawAllReader } from './all-reader';
import { AllSubscriptionRun, type ReconnectPolicy } from './all-subscription';
import { validateAppend, type ValidAppend } from './append-validation';
import { redactConnectionString, toClientConnectionString } from './connection-string';
import { fromVendorEvent, toLogPosition } from './event-mapping';
import { toPortError } from './vendor-errors';

export interface EsdbEventStoreOptions {
  /**
   * How many of a stream's latest events, beyond the request's own count, are compared with an append's event
   * ids to recognise a retry (see `append`). Default 32.
   */
  readonly idempotencyWindow?: number;
  /** Streams `appendMany` writes to at the same time (requests to one stream always run in order). Default 64. */
  readonly appendConcurrency?: number;
  /** How a dropped `$all` subscription is resumed. Default: 100 ms doubling to 5 s, 60 attempts. */
  readonly reconnect?: Partial<ReconnectPolicy>;
  /**
   * Filter `$all` reads on the server (default). False reads through the client's public `readAll` and filters
   * here, which is slower for narrow filters but needs nothing beyond the client's documented API.
   */
  readonly serverSideFiltering?: boolean;
  /**
   * The server's `--max-append-size` in bytes (default 1 MiB, EventStoreDB's default). An append measured
   * larger is refused here with AppendTooLargeError before anything is sent; a server configured smaller still
   * refuses it and that is reported the same way.
   */
  readonly maxAppendBytes?: number;
}

/** EventStoreDB's default `--max-append-size`. */
export const DEFAULT_MAX_APPEND_BYTES = 1024 * 1024;

const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 100, maxDelayMs: 5_000, maxAttempts: 60 };

function toVendorExpected(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return expected;
  }
}

function toVendorEvent(event: NewEvent): EventData {
  return event.metadata === undefined
    ? jsonEvent({ id: event.eventId, type: event.type, data: { ...event.data } })
    : jsonEvent({
        id: event.eventId,
        type: event.type,
        data: { ...event.data },
        metadata: { ...event.metadata },
      });
}

/** Runs `work` over `items` with at most `limit` running at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await work(item);
    }
  });
  await Promise.all(lanes);
}

/**
 * The event store port on EventStoreDB / KurrentDB through `@eventstore/db-client`. Streams map one to one to
 * EventStoreDB streams (names unchanged), the global log is `$all` without its system events, and log positions
 * are `$all` commit/prepare positions (byte offsets: comparable, never dense).
 */
export class EsdbEventStore implements EventStore {
  readonly name = 'eventstoredb';
  private closed = false;
  private readonly reader: RawAllReader;
  private readonly runs = new Set<AllSubscriptionRun>();
  private readonly idempotencyWindow: number;
  private readonly appendConcurrency: number;
  private readonly reconnect: ReconnectPolicy;
  private readonly maxAppendBytes: number;

  private constructor(
    private readonly client: EventStoreDBClient,
    options: EsdbEventStoreOptions,
  ) {
    this.reader = createAllReader(client, options.serverSideFiltering ?? true);
    this.idempotencyWindow = Math.max(0, options.idempotencyWindow ?? 32);
    this.appendConcurrency = Math.max(1, options.appendConcurrency ?? 64);
    this.reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.maxAppendBytes = options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES;
    if (!Number.isInteger(this.maxAppendBytes) || this.maxAppendBytes < 1)
      throw new RangeError(`maxAppendBytes must be a positive integer, got ${this.maxAppendBytes}`);
  }

  /**
   * Creates the client for `esdb://`, `esdb+discover://` (or `kurrentdb://`) connection strings. No connection
   * is opened until the first call, so a server that is down makes calls fail with StoreUnavailableError rather
   * than this.
   */
  static async connect(
    connectionString: string,
    options: EsdbEventStoreOptions = {},
  ): Promise<EsdbEventStore> {
    let client: EventStoreDBClient;
    try {
      client = EventStoreDBClient.connectionString(toClientConnectionString(connectionString));
    } catch (error) {
      throw new StoreUnavailableError(
        `invalid EventStoreDB connection string ${redactConnectionString(connectionString)}: ${(error as Error).message}`,
      );
    }
    return new EsdbEventStore(client, options);
  }

  /** Whether `$all` reads are filtered by the server (false when the client's internals were not available). */
  get filtersOnServer(): boolean {
    return this.reader.serverSideFiltering;
  }

  /**
   * EventStoreDB makes a retried append idempotent when the retry names the same expected revision or `any`
   * (for ids still in its cache). The port promises more: an append whose events are already stored returns
   * the original result whatever its expected revision, and one that is only partly stored is refused. So
   * every append but a single event with `any` (EventStoreDB's own check covers that one fully) first compares
   * its ids with the stream's latest events; ids older than that window fall back to the server's guarantee.
   */
  async append(request: AppendRequest): Promise<AppendResult> {
    this.assertOpen();
    const valid = this.validSized(request);
    return this.guard('append to', valid.stream, valid.expectedRevision, () => this.appendValid(valid));
  }

  /** The client takes event objects: the rows are checked by the port's rules, parsed and appended as such. */
  async appendSerialized(request: SerializedAppendRequest): Promise<AppendResult> {
    this.assertOpen();
    return appendSerializedViaAppend(this, request);
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>> {
    this.assertOpen();
    if (!Array.isArray(requests)) throw new InvalidAppendError('appendMany needs an array of requests');
    const results: Array<AppendResult | Error> = new Array<AppendResult | Error>(requests.length);
    const lanes = new Map<string, Array<{ index: number; request: ValidAppend }>>();
    requests.forEach((request, index) => {
      try {
        const valid = this.validSized(request);
        const lane = lanes.get(valid.stream) ?? [];
        lane.push({ index, request: valid });
        lanes.set(valid.stream, lane);
      } catch (error) {
        if (!(error instanceof InvalidAppendError)) throw error;
        results[index] = error;
      }
    });
    // Requests to one stream run in order so each sees the ones before it; streams run side by side, and on the
    // BatchAppend path the client multiplexes them over one call.
    let fatal: EventStoreError | undefined;
    await forEachLimited([...lanes.values()], this.appendConcurrency, async (lane) => {
      for (const { index, request } of lane) {
        if (fatal) return;
        try {
          results[index] = await this.guard('append to', request.stream, request.expectedRevision, () =>
            this.appendValid(request),
          );
        } catch (error) {
          if (error instanceof ConcurrencyError || error instanceof InvalidAppendError)
            results[index] = error;
          else fatal ??= error as EventStoreError;
        }
      }
    });
    if (fatal) throw fatal;
    return results;
  }

  /** The port's rules plus the size limit: an append the server would refuse for its size is not sent. */
  private validSized(request: AppendRequest): ValidAppend {
    const valid = validateAppend(request);
    if (valid.sizeBytes > this.maxAppendBytes)
      throw new AppendTooLargeError(valid.stream, this.maxAppendBytes, valid.sizeBytes);
    return valid;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    return this.guard('read', stream, undefined, () => this.readStreamEvents(stream, options));
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.assertOpen();
    const filter = compileAllFilter(options.filter);
    return this.guard('read $all', undefined, undefined, () => readAllPage(this.reader, filter, options));
  }

  /** The client hands out whole events whatever is asked, so the generic form costs nothing extra. */
  readAllData(options: ReadAllDataOptions): Promise<ReadAllDataPage> {
    return readAllDataViaReadAll(this, options);
  }

  async headPosition(): Promise<LogPosition> {
    this.assertOpen();
    return this.guard('read the head of', '$all', undefined, () => this.head());
  }

  subscribeToAll(options: SubscribeOptions): Observable<SubscriptionMessage> {
    return new Observable<SubscriptionMessage>((subscriber) => {
      if (this.closed) {
        subscriber.error(new StoreClosedError());
        return undefined;
      }
      let filter;
      try {
        filter = compileAllFilter(options.filter);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      const run = new AllSubscriptionRun(
        {
          open: (from) =>
            this.client.subscribeToAll({
              fromPosition: from.commit < 0n ? START : { commit: from.commit, prepare: from.prepare },
              filter: filter.vendorFilter(),
            }),
          head: () => this.head(),
          lastMatching: async () => {
            const page = await readAllPage(this.reader, filter, {
              from: 'end',
              direction: 'backwards',
              maxCount: 1,
            });
            return page.events.length > 0 ? page.events[0].position : null;
          },
          isClosed: () => this.closed,
        },
        filter,
        options.from,
        subscriber,
        this.reconnect,
        (finished) => this.runs.delete(finished),
      );
      this.runs.add(run);
      run.start();
      return () => run.stop();
    });
  }

  /** The client hands out parsed events only; they are serialized back as `JSON.stringify` wrote them. */
  subscribeToAllStored(options: SubscribeOptions): Observable<StoredSubscriptionMessage> {
    return subscribeStoredViaSubscribe(this, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const run of [...this.runs]) run.fail(new StoreClosedError());
    try {
      await this.client.dispose();
    } catch {
      // Disposing cancels open calls; their errors are of no interest once closed.
    }
  }

  // ---- internals -------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private async guard<T>(
    operation: string,
    stream: string | undefined,
    expected: ExpectedRevision | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof RangeError) throw error;
      throw toPortError(error, { operation, stream, expected, closed: this.closed });
    }
  }

  private async head(): Promise<LogPosition> {
    const page = await readAllPage(this.reader, compileAllFilter(undefined), {
      from: 'end',
      direction: 'backwards',
      maxCount: 1,
    });
    return page.events.length > 0 ? page.events[0].position : LOG_START;
  }

  private async appendValid(request: ValidAppend): Promise<AppendResult> {
    const { stream, events, expectedRevision } = request;
    if (events.length > 1 || expectedRevision !== 'any') {
      const retried = await this.findStoredAppend(request);
      if (retried) return retried;
    }
    const result = await this.client.appendToStream(stream, events.map(toVendorEvent), {
      expectedRevision: toVendorExpected(expectedRevision),
    });
    const last = result.nextExpectedRevision;
    if (events.length === 1 && result.position) {
      const position = toLogPosition(result.position.commit, result.position.prepare, `${stream}@${last}`);
      return { nextExpectedRevision: last, position, positions: [position] };
    }
    // Several events, or an append the server recognised as a retry (it then reports no position): the
    // positions of the stored events are read back, the only place they can be learnt from.
    const stored = await this.readStreamEvents(stream, {
      fromRevision: last - BigInt(events.length) + 1n,
      maxCount: events.length,
    });
    if (stored.length !== events.length || stored.some((event, i) => event.eventId !== events[i].eventId)) {
      throw new StoreUnavailableError(`append to ${stream}: the appended events could not be read back`);
    }
    return resultOf(stored);
  }

  /**
   * The original result when every event of the request is already stored, consecutively and in order; null
   * when none of the ids is among the stream's latest events. Ids found elsewhere than as one earlier append
   * make the request invalid: part of it was stored, part was not.
   */
  private async findStoredAppend({ stream, events }: ValidAppend): Promise<AppendResult | null> {
    const tail = await this.readStreamEvents(stream, {
      direction: 'backwards',
      maxCount: events.length + this.idempotencyWindow,
    });
    if (tail.length === 0) return null;
    const requestIndex = new Map(events.map((event, i) => [event.eventId, i]));
    const hit = tail.find((event) => requestIndex.has(event.eventId));
    if (!hit) return null;
    // The earlier append this would be a retry of starts here; it may reach back beyond the tail that was read.
    const start = hit.revision - BigInt(requestIndex.get(hit.eventId) as number);
    const run =
      start < 0n ? [] : await this.readStreamEvents(stream, { fromRevision: start, maxCount: events.length });
    if (run.length === events.length && run.every((event, i) => event.eventId === events[i].eventId)) {
      return resultOf(run);
    }
    throw new InvalidAppendError(
      `append to ${stream}: event ${hit.eventId} is already stored (revision ${hit.revision}) but the ` +
        'request is not a retry of the append that stored it',
    );
  }

  private async readStreamEvents(stream: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const direction = options.direction ?? 'forwards';
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(maxCount) || maxCount < 0)
      throw new RangeError('maxCount must be a non-negative integer');
    if (options.fromRevision !== undefined && options.fromRevision < 0n) {
      throw new RangeError('fromRevision must not be negative');
    }
    if (maxCount === 0) return [];
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
        fromRevision: options.fromRevision ?? (direction === 'forwards' ? START : END),
        maxCount,
      });
      for await (const resolved of read) {
        if (resolved.event) events.push(fromVendorEvent(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }
}

function resultOf(stored: readonly RecordedEvent[]): AppendResult {
  const positions = stored.map((event) => event.position);
  return {
    nextExpectedRevision: stored[stored.length - 1].revision,
    position: positions[positions.length - 1],
    positions,
  };
}
