import {
  formatTime,
  InvalidInputError,
  MAX_FUTURE_SKEW_MS,
  parseRfc3339,
  Streams,
  viewShardFor,
  type MediaViewed,
} from '@ledger/domain';
import {
  MalformedTokenError,
  tokenToPosition,
  type NewEvent,
  type SerializedEvents,
} from '@ledger/event-store';
import { mediaViewed } from './device-change';
import type { ViewInput } from './inputs';

/** The most views one batch may hold. */
export const MAX_VIEWS_PER_BATCH = 1000;

/** One batch of reported views as it is appended: one stream (the first view's shard), one atomic append. */
export interface ViewBatch {
  readonly stream: string;
  readonly events: NewEvent[];
}

/** A batch of views in the form the store keeps them (`EventStore.appendSerialized`), as built off the loop. */
export interface SerializedViewBatch {
  readonly stream: string;
  readonly events: SerializedEvents;
}

/** A time field of an input, parsed; a malformed one is a 400 naming the field. */
export function parseTimeField(field: string, value: string): number {
  const ms = parseRfc3339(value);
  if (ms === undefined)
    throw new InvalidInputError(field, 'must be an RFC 3339 time, e.g. 2024-02-16T09:41:07.123Z');
  return ms;
}

/** A reported view judged against the receipt time `now`: its time parsed and bounded, its token checked. */
export function viewEvent(
  input: ViewInput,
  now: number,
  fieldPrefix: string,
  recordedAt: string = formatTime(now),
): MediaViewed {
  const occurredAt = parseTimeField(`${fieldPrefix}occurredAt`, input.occurredAt);
  if (occurredAt > now + MAX_FUTURE_SKEW_MS) {
    throw new InvalidInputError(`${fieldPrefix}occurredAt`, 'is more than 5 minutes in the future');
  }
  if (input.decisionToken !== undefined) {
    try {
      tokenToPosition(input.decisionToken);
    } catch (error) {
      if (error instanceof MalformedTokenError) {
        throw new InvalidInputError(`${fieldPrefix}decisionToken`, 'is not a token issued by this ledger');
      }
      throw error;
    }
  }
  return mediaViewed({ ...input, occurredAt }, recordedAt);
}

/**
 * The events of a batch of views received at `now`, the i-th with the id `ids(i)`; every view is checked
 * before any event is returned, so a bad one rejects the whole batch (naming `views.<i>.<field>`). Pure: the
 * time and the ids come in, so the same batch is built alike on the event loop or on a worker thread.
 */
export function buildViewBatch(
  inputs: readonly ViewInput[],
  now: number,
  ids: (index: number) => string,
): ViewBatch {
  if (inputs.length === 0 || inputs.length > MAX_VIEWS_PER_BATCH) {
    throw new InvalidInputError('views', `must hold 1 to ${MAX_VIEWS_PER_BATCH} views`);
  }
  // Every view of the batch is recorded at the same instant: its text is made once, not once per view.
  const recordedAt = formatTime(now);
  const events = new Array<NewEvent>(inputs.length);
  for (let index = 0; index < inputs.length; index++) {
    const event = viewEvent(inputs[index], now, `views.${index}.`, recordedAt);
    events[index] = { eventId: ids(index), type: event.type, data: event.data };
  }
  return { stream: Streams.views(viewShardFor(inputs[0].deviceId)), events };
}
