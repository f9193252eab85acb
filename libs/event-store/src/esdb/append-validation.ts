import {
  checkEventId,
  checkEventType,
  checkExpectedRevision,
  checkStreamName,
  isJsonObject,
  serializeJsonObject,
} from '../append-rules';
import { InvalidAppendError } from '../errors';
import type { AppendRequest, ExpectedRevision, NewEvent } from '../event-store.port';

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

/**
 * The port's rules for an append, checked before anything reaches the server so an invalid request writes
 * nothing. Stream names and event types starting with `$` are EventStoreDB's system namespace and are refused:
 * the adapter hides system events from `$all`, so such an event could never be read back there.
 */
export function validateAppend(request: AppendRequest): ValidAppend {
  if (typeof request !== 'object' || request === null)
    throw new InvalidAppendError('append request is missing');
  const stream = checkStreamName(request.stream);
  const expectedRevision = checkExpectedRevision(stream, request.expectedRevision);
  const events = request.events;
  if (!Array.isArray(events) || events.length === 0)
    throw new InvalidAppendError(`append to ${stream}: no events`);

  const seen = new Set<string>();
  const normalized: NewEvent[] = [];
  let sizeBytes = 0;
  events.forEach((event: NewEvent, i) => {
    if (!isJsonObject(event))
      throw new InvalidAppendError(`append to ${stream}: event ${i} is not an object`);
    const { data, metadata } = event;
    const id = checkEventId(stream, event.eventId, seen);
    const type = checkEventType(stream, id, event.type);
    sizeBytes +=
      Buffer.byteLength(serializeJsonObject(`append to ${stream}: event ${id} data`, data), 'utf8') +
      2 * type.length;
    if (metadata !== undefined) {
      sizeBytes += Buffer.byteLength(
        serializeJsonObject(`append to ${stream}: event ${id} metadata`, metadata),
        'utf8',
      );
    }
    normalized.push(
      metadata === undefined ? { eventId: id, type, data } : { eventId: id, type, data, metadata },
    );
  });
  return { stream, events: normalized, expectedRevision, sizeBytes };
}
