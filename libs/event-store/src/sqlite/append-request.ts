import type { AppendRequest, AppendResult, ExpectedRevision, JsonObject } from '../event-store.port';
import { InvalidAppendError } from '../errors';
import { hasLoneSurrogate } from './all-reader';
import { NO_STREAM } from './revision-cache';

const MAX_STREAM_NAME_LENGTH = 512;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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
  readonly sink: AppendSink;
  readonly index: number;
  outcome: AppendResult | Error | undefined;
  /** Position and revision of its first new row; -1 when nothing was written (a retry, or a failure). */
  firstPosition: number;
  firstRevision: number;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function serialize(value: JsonObject, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidAppendError(`${what} is not serializable as JSON: ${(error as Error).message}`);
  }
  if (json === undefined) throw new InvalidAppendError(`${what} is not serializable as JSON`);
  return json;
}

/**
 * Validates and serializes one append request before it reaches the write transaction, so the transaction
 * only writes: a request refused here never touches the database.
 */
export function prepareAppend(request: AppendRequest, sink: AppendSink, index: number): PendingAppend {
  if (typeof request !== 'object' || request === null)
    throw new InvalidAppendError('append request is missing');
  const { stream, events, expectedRevision } = request;
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME_LENGTH) {
    throw new InvalidAppendError(`stream name must be 1-${MAX_STREAM_NAME_LENGTH} characters`);
  }
  if (hasLoneSurrogate(stream)) throw new InvalidAppendError('stream name is not well-formed Unicode');
  if (!(
    expectedRevision === 'any' ||
    expectedRevision === 'no_stream' ||
    expectedRevision === 'stream_exists' ||
    (typeof expectedRevision === 'bigint' && expectedRevision >= 0n)
  )) {
    throw new InvalidAppendError(
      `append to ${stream}: invalid expected revision ${String(expectedRevision)}`,
    );
  }
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
    const { eventId, type } = event;
    if (typeof eventId !== 'string' || !UUID.test(eventId)) {
      throw new InvalidAppendError(`append to ${stream}: event id ${String(eventId)} is not a UUID`);
    }
    // Stored lower-case, as EventStoreDB returns them, so ids compare equal whichever store wrote them.
    const id = eventId.toLowerCase();
    if (seen.has(id)) throw new InvalidAppendError(`append to ${stream}: event id ${id} appears twice`);
    seen.add(id);
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidAppendError(`append to ${stream}: event ${id} has no type`);
    }
    if (!isJsonObject(event.data))
      throw new InvalidAppendError(`append to ${stream}: event ${id} data is not an object`);
    if (event.metadata !== undefined && !isJsonObject(event.metadata)) {
      throw new InvalidAppendError(`append to ${stream}: event ${id} metadata is not an object`);
    }
    ids[i] = id;
    types[i] = type;
    data[i] = serialize(event.data, `data of event ${id}`);
    const meta = event.metadata === undefined ? null : serialize(event.metadata, `metadata of event ${id}`);
    metadata[i] = meta === EMPTY_METADATA ? null : meta;
  }
  return {
    stream,
    expected: expectedRevision,
    ids,
    types,
    data,
    metadata,
    sink,
    index,
    outcome: undefined,
    firstPosition: NO_STREAM,
    firstRevision: NO_STREAM,
  };
}
