import {
  checkSerializedRequest,
  checkEventId,
  checkEventType,
  checkExpectedRevision,
  checkStreamName,
  isJsonObject,
  serializeJsonObject,
} from '../append-rules';
import type {
  AppendRequest,
  AppendResult,
  ExpectedRevision,
  SerializedAppendRequest,
} from '../event-store.port';
import { InvalidAppendError } from '../errors';
import { NO_STREAM } from './revision-cache';

export const EMPTY_METADATA = '{}';

/** Where the outcome of a queued request goes: one `append` promise, or a slot of an `appendMany`. */
export interface AppendSink {
  /** `fatal` marks a failure of the whole transaction rather than of this request. */
  settle(index: number, outcome: AppendResult | Error, fatal: boolean): void;
}

/**
 * An append request validated and serialized before it reaches the write transaction. The transaction
 * records what it did on the object itself, which spares an allocation per request on the hot path.
 */
export interface PendingAppend {
  readonly stream: string;
  readonly expected: ExpectedRevision;
  readonly ids: readonly string[];
  readonly types: readonly string[];
  readonly data: readonly string[];
  readonly metadata: readonly (string | null)[];
  /**
   * The rows came serialized (`appendSerialized`) and their per-event rules are not checked yet: the group
   * committer checks them before its transaction, on the thread that writes, so the service's thread never
   * parses them. A request refused there writes nothing.
   */
  readonly unchecked: boolean;
  readonly sink: AppendSink;
  readonly index: number;
  outcome: AppendResult | Error | undefined;
  /** Position and revision of its first new row; -1 when nothing was written (a retry, or a failure). */
  firstPosition: number;
  firstRevision: number;
}

/**
 * Validates and serializes one append request before it reaches the write transaction, so the transaction
 * only writes: a request refused here never touches the database.
 */
export function prepareAppend(request: AppendRequest, sink: AppendSink, index: number): PendingAppend {
  if (typeof request !== 'object' || request === null)
    throw new InvalidAppendError('append request is missing');
  // The rules every adapter shares (append-rules.ts); the SQL constraints back them up.
  const stream = checkStreamName(request.stream);
  const expectedRevision = checkExpectedRevision(stream, request.expectedRevision);
  const events = request.events;
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidAppendError(`append to ${stream}: no events`);
  }
  const count = events.length;
  const ids = new Array<string>(count);
  const types = new Array<string>(count);
  const data = new Array<string>(count);
  const metadata = new Array<string | null>(count);
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const event = events[i];
    if (!isJsonObject(event))
      throw new InvalidAppendError(`append to ${stream}: event ${i} is not an object`);
    const id = checkEventId(stream, event.eventId, seen);
    ids[i] = id;
    types[i] = checkEventType(stream, id, event.type);
    data[i] = serializeJsonObject(`append to ${stream}: event ${id} data`, event.data);
    const meta =
      event.metadata === undefined
        ? null
        : serializeJsonObject(`append to ${stream}: event ${id} metadata`, event.metadata);
    metadata[i] = meta === EMPTY_METADATA ? null : meta;
  }
  return {
    stream,
    expected: expectedRevision,
    ids,
    types,
    data,
    metadata,
    unchecked: false,
    sink,
    index,
    outcome: undefined,
    firstPosition: NO_STREAM,
    firstRevision: NO_STREAM,
  };
}

/**
 * A serialized append (`appendSerialized`) as a queued request: its columns are taken as they are, without an
 * object or a string made per event here; their per-event rules are checked where the group is committed.
 */
export function prepareSerializedAppend(
  request: SerializedAppendRequest,
  sink: AppendSink,
  index: number,
): PendingAppend {
  const count = checkSerializedRequest(request);
  const { eventIds, types, dataJson } = request.events;
  return {
    stream: request.stream,
    expected: request.expectedRevision,
    ids: eventIds,
    types,
    data: dataJson,
    metadata: new Array<null>(count).fill(null),
    unchecked: true,
    sink,
    index,
    outcome: undefined,
    firstPosition: NO_STREAM,
    firstRevision: NO_STREAM,
  };
}
