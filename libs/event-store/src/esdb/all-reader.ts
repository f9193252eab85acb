import type { Readable } from 'node:stream';
import type { CallOptions, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import {
  BACKWARDS,
  convertToCommandError,
  END,
  FORWARDS,
  START,
  type BaseOptions,
  type EventStoreDBClient,
  type GRPCClientConstructor,
} from '@eventstore/db-client';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import { ReadReq, type ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { StoreUnavailableError } from '../errors';
import type { ReadAllOptions, ReadAllPage, RecordedEvent } from '../event-store.port';
import { comparePositions, type LogPosition } from '../position';
import type { CompiledAllFilter, ServerFilter } from './all-filter';
import { fromReadResponseEvent, fromVendorEvent } from './event-mapping';

export interface RawAllRead {
  /** EventStoreDB semantics: forwards from a position includes the event there, backwards excludes it. */
  readonly from: 'start' | 'end' | LogPosition;
  readonly direction: 'forwards' | 'backwards';
  readonly count: number;
  readonly filter: ServerFilter;
}

/** One `$all` read as the server does it. */
export interface RawAllReader {
  /** False when the filter is not applied by the server, so callers read bigger batches. */
  readonly serverSideFiltering: boolean;
  read(request: RawAllRead): Promise<RecordedEvent[]>;
}

/**
 * The part of the client's transport `readAll` itself uses. Version 6.x of the client does not expose a filter
 * on `readAll` although the protocol (and every server since 20.6) supports filtered `$all` reads; going
 * through the client's own stream creator keeps its connection handling (discovery, TLS, credentials,
 * reconnect on not-leader). `@kurrent/kurrentdb-client` 1.x takes `filter` on `readAll` and makes this moot.
 */
interface ClientTransport {
  GRPCStreamCreator<C extends GrpcClient, T extends Readable>(
    Client: GRPCClientConstructor<C>,
    debugName: string,
    creator: (client: C) => T | Promise<T>,
  ): () => Promise<T>;
  callArguments(options: BaseOptions, callOptions?: CallOptions): [Metadata, CallOptions];
}

function transportOf(client: EventStoreDBClient): ClientTransport | null {
  const candidate = client as unknown as Partial<ClientTransport>;
  return typeof candidate.GRPCStreamCreator === 'function' && typeof candidate.callArguments === 'function'
    ? (candidate as ClientTransport)
    : null;
}

class ServerFilteredAllReader implements RawAllReader {
  readonly serverSideFiltering = true;

  constructor(private readonly transport: ClientTransport) {}

  async read({ from, direction, count, filter }: RawAllRead): Promise<RecordedEvent[]> {
    const all = new ReadReq.Options.AllOptions();
    if (from === 'start') all.setStart(new Empty());
    else if (from === 'end') all.setEnd(new Empty());
    else {
      all.setPosition(
        new ReadReq.Options.Position()
          .setCommitPosition(from.commit.toString())
          .setPreparePosition(from.prepare.toString()),
      );
    }
    const expression = new ReadReq.Options.FilterOptions.Expression();
    const filterOptions = new ReadReq.Options.FilterOptions();
    if (filter.on === 'eventType') filterOptions.setEventType(expression.setRegex(filter.regex));
    else filterOptions.setStreamIdentifier(expression.setPrefixList([...filter.prefixes]));
    filterOptions.setCount(new Empty());
    filterOptions.setCheckpointintervalmultiplier(1);

    const options = new ReadReq.Options()
      .setAll(all)
      .setReadDirection(
        direction === 'forwards'
          ? ReadReq.Options.ReadDirection.FORWARDS
          : ReadReq.Options.ReadDirection.BACKWARDS,
      )
      .setResolveLinks(false)
      .setCount(String(count))
      .setUuidOption(new ReadReq.Options.UUIDOption().setString(new Empty()))
      .setFilter(filterOptions);
    const request = new ReadReq().setOptions(options);

    const events: RecordedEvent[] = [];
    try {
      const responses = await this.transport.GRPCStreamCreator(StreamsClient, 'readAll', (client) =>
        client.read(request, ...this.transport.callArguments({}, { deadline: Infinity })),
      )();
      for await (const response of responses as AsyncIterable<ReadResp>) {
        const recorded = response.getEvent()?.getEvent();
        if (recorded) events.push(fromReadResponseEvent(recorded));
      }
    } catch (error) {
      throw error instanceof Error ? convertToCommandError(error) : error;
    }
    return events;
  }
}

/** The public `readAll`: no server-side filter, so the caller filters and reads in bigger batches. */
class ClientFilteredAllReader implements RawAllReader {
  readonly serverSideFiltering = false;

  constructor(private readonly client: EventStoreDBClient) {}

  async read({ from, direction, count }: RawAllRead): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    const fromPosition = from === 'start' ? START : from === 'end' ? END : from;
    const stream = this.client.readAll({
      fromPosition,
      direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
      maxCount: count,
    });
    for await (const resolved of stream) {
      if (resolved.event) events.push(fromVendorEvent(resolved.event));
    }
    return events;
  }
}

export function createAllReader(client: EventStoreDBClient, serverSideFiltering: boolean): RawAllReader {
  const transport = serverSideFiltering ? transportOf(client) : null;
  return transport ? new ServerFilteredAllReader(transport) : new ClientFilteredAllReader(client);
}

/** Batches of the client-filtered reader: the filter may discard most of what a batch brings. */
const CLIENT_FILTER_BATCH = 1_000;

/**
 * One page of the port's `readAll`: strictly after (forwards) or strictly before (backwards) `from`, only events
 * the filter matches (system events never), at most `maxCount`, `isEnd` exact. Server pages may include `from`
 * itself and, when part of the filter is applied here, hold events that are then dropped, so this reads on
 * until the page is full plus one more matching event (to know whether the end was reached) or the log ends.
 */
export async function readAllPage(
  reader: RawAllReader,
  filter: CompiledAllFilter,
  options: ReadAllOptions,
): Promise<ReadAllPage> {
  const { from, direction, maxCount } = options;
  if (!Number.isInteger(maxCount) || maxCount < 1)
    throw new RangeError('maxCount must be a positive integer');
  const forwards = direction === 'forwards';
  if (forwards && from === 'end') return { events: [], next: from, isEnd: true };
  if (!forwards && from !== 'end' && from.commit < 0n) return { events: [], next: from, isEnd: true };

  const events: RecordedEvent[] = [];
  let bound: LogPosition | null = from === 'end' || from.commit < 0n ? null : from;
  let cursor: 'start' | 'end' | LogPosition = from === 'end' ? 'end' : from.commit < 0n ? 'start' : from;
  const beyond = (position: LogPosition): boolean => {
    if (bound === null) return true;
    const order = comparePositions(position, bound);
    return forwards ? order > 0 : order < 0;
  };

  for (let round = 0; ; round++) {
    const wanted = maxCount - events.length + 2;
    // Filtering here, batches grow from a small first one (a head read needs a few events) to a large one.
    const count = reader.serverSideFiltering
      ? wanted
      : Math.max(wanted, Math.min(CLIENT_FILTER_BATCH, 16 * 2 ** round));
    const batch = await reader.read({ from: cursor, direction, count, filter: filter.server });
    for (const event of batch) {
      if (!beyond(event.position)) continue;
      bound = event.position;
      if (!filter.matches(event.stream, event.type)) continue;
      if (events.length === maxCount)
        return { events, next: events[events.length - 1].position, isEnd: false };
      events.push(event);
    }
    if (batch.length < count) {
      return { events, next: events.length > 0 ? events[events.length - 1].position : from, isEnd: true };
    }
    if (bound === null || (cursor !== 'start' && cursor !== 'end' && comparePositions(bound, cursor) === 0)) {
      throw new StoreUnavailableError('EventStoreDB returned a full $all page without moving past its start');
    }
    cursor = bound;
  }
}
