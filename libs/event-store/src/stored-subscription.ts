import { map, type Observable } from 'rxjs';
import type {
  EventStore,
  RecordedEvent,
  StoredEvent,
  StoredSubscriptionMessage,
  SubscribeOptions,
} from './event-store.port';

/** A parsed event as the store would hand it over stored: its data and metadata serialized back. */
export function toStoredEvent(event: RecordedEvent): StoredEvent {
  return {
    eventId: event.eventId,
    stream: event.stream,
    revision: event.revision,
    type: event.type,
    dataJson: JSON.stringify(event.data),
    metadataJson: JSON.stringify(event.metadata ?? {}),
    position: event.position,
  };
}

/**
 * `subscribeToAllStored` through `subscribeToAll`, re-serializing what the subscription parsed: for adapters
 * whose client hands out parsed events only (EventStoreDB's), and for in-memory stores.
 */
export function subscribeStoredViaSubscribe(
  store: Pick<EventStore, 'subscribeToAll'>,
  options: SubscribeOptions,
): Observable<StoredSubscriptionMessage> {
  return store
    .subscribeToAll(options)
    .pipe(
      map((message): StoredSubscriptionMessage =>
        message.kind === 'event' ? { kind: 'event', event: toStoredEvent(message.event) } : message,
      ),
    );
}
