import { InvalidAppendError } from './errors';
import type {
  AppendRequest,
  EventStore,
  ExpectedRevision,
  JsonObject,
  NewEvent,
  SerializedAppendRequest,
  SerializedEvents,
} from './event-store.port';

/**
 * The port's rules for an append, shared by every adapter and pinned by the store contract suite, so a request
 * one store accepts is one every store accepts. Checked before anything is written: an invalid request writes
 * nothing.
 */
export const MAX_STREAM_NAME_LENGTH = 512;

const LOWER_CASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Revisions are EventStoreDB's signed 64-bit stream versions; 2^63 - 1 is the tombstone's. */
const MAX_REVISION = 0x7fffffffffffffffn;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * 1–512 characters of well-formed Unicode, outside the `$` namespace: EventStoreDB keeps `$` for its system
 * streams and every adapter hides system events from `$all`, so such a stream could never be read back there.
 */
export function checkStreamName(stream: unknown): string {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME_LENGTH) {
    throw new InvalidAppendError(`stream name must be 1-${MAX_STREAM_NAME_LENGTH} characters`);
  }
  if (LONE_SURROGATE.test(stream)) throw new InvalidAppendError('stream name is not well-formed Unicode');
  if (stream.startsWith('$'))
    throw new InvalidAppendError(`stream ${stream}: names starting with $ are reserved`);
  return stream;
}

export function checkExpectedRevision(stream: string, expected: unknown): ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected;
  if (typeof expected === 'bigint' && expected >= 0n && expected < MAX_REVISION) return expected;
  throw new InvalidAppendError(`append to ${stream}: invalid expected revision ${String(expected)}`);
}

/** A UUID, returned in lower case (as EventStoreDB returns ids) so ids compare equal whichever store wrote them. */
export function checkEventId(stream: string, eventId: unknown, seen: Set<string>): string {
  if (typeof eventId !== 'string' || !UUID.test(eventId)) {
    throw new InvalidAppendError(`append to ${stream}: event id ${String(eventId)} is not a UUID`);
  }
  const id = eventId.toLowerCase();
  if (seen.has(id)) throw new InvalidAppendError(`append to ${stream}: event id ${id} appears twice`);
  seen.add(id);
  return id;
}

/** A non-empty, well-formed type outside the `$` namespace of system event types. */
export function checkEventType(stream: string, id: string, type: unknown): string {
  if (typeof type !== 'string' || type.length === 0 || LONE_SURROGATE.test(type)) {
    throw new InvalidAppendError(`append to ${stream}: event ${id} has no valid type`);
  }
  if (type.startsWith('$'))
    throw new InvalidAppendError(`append to ${stream}: event type ${type} is reserved`);
  return type;
}

/** The JSON text of an event's data or metadata (which must be an object), as stored. */
export function serializeJsonObject(what: string, value: unknown): string {
  if (!isJsonObject(value)) throw new InvalidAppendError(`${what} is not an object`);
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
 * The checks of a serialized append that look at no event: stream, expected revision, and three columns of one
 * length, at least one event. Returns the number of events.
 */
export function checkSerializedRequest(request: SerializedAppendRequest): number {
  if (typeof request !== 'object' || request === null)
    throw new InvalidAppendError('append request is missing');
  const stream = checkStreamName(request.stream);
  checkExpectedRevision(stream, request.expectedRevision);
  const events = request.events as Partial<SerializedEvents> | null;
  const count = Array.isArray(events?.eventIds) ? events.eventIds.length : 0;
  if (
    count === 0 ||
    !Array.isArray(events?.types) ||
    !Array.isArray(events?.dataJson) ||
    events.types.length !== count ||
    events.dataJson.length !== count
  ) {
    throw new InvalidAppendError(
      `append to ${stream}: no events, or event ids, types and data of different lengths`,
    );
  }
  return count;
}

/** Events checked between two calls of `checkSerializedEvents`' `between`. */
const CHECK_SLICE = 100;

function noPause(): void {}

/**
 * The per-event rules of a serialized append (`SerializedEvents`): lower-case UUIDs, none twice; valid types;
 * each data text exactly `JSON.stringify` of an object, so what is stored is what `append` would store.
 * `between` is called every `CHECK_SLICE` events: the writer thread commits what may not wait there.
 */
export function checkSerializedEvents(
  stream: string,
  events: SerializedEvents,
  between: () => void = noPause,
): void {
  const { eventIds, types, dataJson } = events;
  const seen = new Set<string>();
  let lastType: unknown;
  for (let i = 0; i < eventIds.length; i++) {
    if (i % CHECK_SLICE === CHECK_SLICE - 1) between();
    const id = eventIds[i];
    if (typeof id !== 'string' || !LOWER_CASE_UUID.test(id)) {
      throw new InvalidAppendError(
        `append to ${stream}: event id ${String(id)} is not a lower-case UUID (serialized events)`,
      );
    }
    if (seen.has(id)) throw new InvalidAppendError(`append to ${stream}: event id ${id} appears twice`);
    seen.add(id);
    // A batch usually holds one type: it is checked once.
    if (types[i] !== lastType) lastType = checkEventType(stream, id, types[i]);
    checkSerializedData(`append to ${stream}: event ${id} data`, dataJson[i]);
  }
}

/** Text that `JSON.stringify` writes for an object, byte for byte (any JSON.stringify output is a fixed point). */
function checkSerializedData(what: string, text: unknown): void {
  if (typeof text !== 'string') throw new InvalidAppendError(`${what} is not JSON text`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidAppendError(`${what} is not JSON text`);
  }
  if (!isJsonObject(value)) throw new InvalidAppendError(`${what} is not an object`);
  if (JSON.stringify(value) !== text)
    throw new InvalidAppendError(`${what} is not JSON.stringify's text of its value`);
}

/**
 * `appendSerialized` through `append`: checked by the same rules, then appended as parsed events. For adapters
 * whose client takes objects anyway (EventStoreDB's), and stores kept for tests.
 */
export function appendSerializedViaAppend(
  store: Pick<EventStore, 'append'>,
  request: SerializedAppendRequest,
): ReturnType<EventStore['append']> {
  try {
    checkSerializedRequest(request);
    checkSerializedEvents(request.stream, request.events);
  } catch (error) {
    return Promise.reject(error);
  }
  const { eventIds, types, dataJson } = request.events;
  const events = new Array<NewEvent>(eventIds.length);
  for (let i = 0; i < eventIds.length; i++) {
    events[i] = { eventId: eventIds[i], type: types[i], data: JSON.parse(dataJson[i]) as JsonObject };
  }
  const append: AppendRequest = {
    stream: request.stream,
    events,
    expectedRevision: request.expectedRevision,
  };
  return store.append(append);
}
