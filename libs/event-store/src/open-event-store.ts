import type { EventStore } from './event-store.port';

export interface StoreSelection {
  readonly dataDir: string;
  /** Set: EventStoreDB. Unset: the embedded SQLite store in `dataDir`. */
  readonly eventStoreConnectionString: string | null;
}

/**
 * The one place that picks an adapter. Adapters are loaded lazily so the embedded path never loads the gRPC
 * client and the EventStoreDB path never opens SQLite.
 */
export async function openEventStore(selection: StoreSelection): Promise<EventStore> {
  if (selection.eventStoreConnectionString) {
    const { EsdbEventStore } = await import('./esdb');
    return EsdbEventStore.connect(selection.eventStoreConnectionString);
  }
  const { SqliteEventStore } = await import('./sqlite');
  return SqliteEventStore.open({ dataDir: selection.dataDir });
}
