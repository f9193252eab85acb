import { InvalidAppendError } from '../errors';
import type { AppendRequest, ExpectedRevision, JsonObject, NewEvent } from '../event-store.port';

const MAX_STREAM_NAME_LENGTH = 512;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A request that passed the port's rules, with each event id in lower case (as EventStoreDB returns ids). */
export interface ValidAppend {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expectedRevision: ExpectedRevision;
  /**
   * The append as EventStoreDB measures it against `--max-append-size`: per event the JSON bytes of data and
   * metadata plus the type counted twice (its UTF-16 length).
   */
  readonly sizeBytes: number;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** The value's JSON size in UTF-8 bytes, as the client sends it. */
function checkSerializable(what: string, value: JsonObject): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidAppendError(`${what} is not serializable as JSON: ${(error as Error).message}`);
  }
  if (json === undefined) throw new InvalidAppendError(`${what} is not serializable as JSON`);
  return Buffer.byteLength(json, 'utf8');
}

function checkExpectedRevision(stream: string, expected: unknown): ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected;
  if (typeof expected === 'bigint' && expected >= 0n && expected < 0x7fffffffffffffffn) return expected;
  throw new InvalidAppendError(`append to ${stream}: invalid expected revision ${String(expected)}`);
}

/**
 * The port's rules for an append, checked before anything reaches the server so an invalid request writes
 * nothing. Stream names and event types starting with `$` are EventStoreDB's system namespace and are refused:
 * the adapter hides system events from `$all`, so such an event could never be read back there.
 */
export function validateAppend(request: AppendRequest): ValidAppend {
  if (typeof request !== 'object' || request === null)
    throw new InvalidAppendError('append request is missing');
  const { stream, events } = request;
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME_LENGTH) {
    throw new InvalidAppendError(`stream name must be 1-${MAX_STREAM_NAME_LENGTH} characters`);
  }
  if (hasLoneSurrogate(stream)) throw new InvalidAppendError('stream name is not well-formed Unicode');
  if (stream.startsWith('$'))
    throw new InvalidAppendError(`stream ${stream}: names starting with $ are reserved`);
  const expectedRevision = checkExpectedRevision(stream, request.expectedRevision);
  if (!Array.isArray(events) || events.length === 0)
    throw new InvalidAppendError(`append to ${stream}: no events`);

  const seen = new Set<string>();
  const normalized: NewEvent[] = [];
  let sizeBytes = 0;
  events.forEach((event: NewEvent, i) => {
    if (!isJsonObject(event))
      throw new InvalidAppendError(`append to ${stream}: event ${i} is not an object`);
    const { eventId, type, data, metadata } = event;
    if (typeof eventId !== 'string' || !UUID.test(eventId)) {
      throw new InvalidAppendError(`append to ${stream}: event id ${String(eventId)} is not a UUID`);
    }
    const id = eventId.toLowerCase();
    if (seen.has(id)) throw new InvalidAppendError(`append to ${stream}: event id ${id} appears twice`);
    seen.add(id);
    if (typeof type !== 'string' || type.length === 0 || hasLoneSurrogate(type)) {
      throw new InvalidAppendError(`append to ${stream}: event ${id} has no valid type`);
    }
    if (type.startsWith('$'))
      throw new InvalidAppendError(`append to ${stream}: event type ${type} is reserved`);
    if (!isJsonObject(data))
      throw new InvalidAppendError(`append to ${stream}: event ${id} data is not an object`);
    sizeBytes += checkSerializable(`append to ${stream}: event ${id} data`, data) + 2 * type.length;
    if (metadata !== undefined) {
      if (!isJsonObject(metadata)) {
        throw new InvalidAppendError(`append to ${stream}: event ${id} metadata is not an object`);
      }
      sizeBytes += checkSerializable(`append to ${stream}: event ${id} metadata`, metadata);
    }
    normalized.push(
      metadata === undefined ? { eventId: id, type, data } : { eventId: id, type, data, metadata },
    );
  });
  return { stream, events: normalized, expectedRevision, sizeBytes };
}
