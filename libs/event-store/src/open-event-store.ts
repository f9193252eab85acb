import type { EventStore } from './event-store.port';

export interface StoreSelection {
  readonly dataDir: string;
  /** Set: EventStoreDB. Unset: the embedded SQLite store in `dataDir`. */
  readonly eventStoreConnectionString: string | null;
  /** EventStoreDB's `--max-append-size`; default 1 MiB. */
  readonly eventStoreMaxAppendBytes?: number;
  /** The embedded store commits on a writer thread, so big groups never hold the event loop (the service). */
  readonly embeddedWriterThread?: boolean;
  /** The embedded store's bound on the events of one group commit (`SqliteEventStoreOptions.maxBatchEvents`). */
  readonly embeddedMaxGroupEvents?: number;
  /** Told when the embedded log is rewritten to a newer schema on this open (it may take minutes). */
  readonly onMigration?: (message: string) => void;
}

/**
 * The one place that picks an adapter. Adapters are loaded lazily so the embedded path never loads the gRPC
 * client and the EventStoreDB path never opens SQLite.
 */
export async function openEventStore(selection: StoreSelection): Promise<EventStore> {
  if (selection.eventStoreConnectionString) {
    const { EsdbEventStore } = await import('./esdb');
    return EsdbEventStore.connect(selection.eventStoreConnectionString, {
      maxAppendBytes: selection.eventStoreMaxAppendBytes,
    });
  }
  const { SqliteEventStore } = await import('./sqlite');
  return SqliteEventStore.open({
    dataDir: selection.dataDir,
    writerThread: selection.embeddedWriterThread === true,
    onMigration: selection.onMigration,
    ...(selection.embeddedMaxGroupEvents === undefined
      ? {}
      : { maxBatchEvents: selection.embeddedMaxGroupEvents }),
  });
}

/** Online backup of the embedded log (the EventStoreDB path is backed up with the server's own tools). */
export async function backupEmbeddedLog(
  dataDir: string,
  target: string,
  onProgress?: (progress: { totalPages: number; remainingPages: number }) => void,
): Promise<{ file: string; bytes: number }> {
  const { backupSqliteLog } = await import('./sqlite');
  return backupSqliteLog(dataDir, target, onProgress);
}
