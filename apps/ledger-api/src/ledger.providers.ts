import { Logger, type Provider } from '@nestjs/common';
import * as path from 'node:path';
import { LedgerCommands, LedgerQueries, MonotonicClock, type Clock } from '@ledger/application';
import type { LedgerConfig } from '@ledger/config';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { StoreWritability } from './health/store-writability';
import { NonBlockingLogDestination } from './logging/non-blocking-log-destination';
import { deriveSnapshotKey, LiveProjection } from '@ledger/projections';
import { InstrumentedEventStore } from './metrics/instrumented-event-store';
import { LedgerMetrics } from './metrics/ledger-metrics';


/**
 * The service's bound on one group commit: one full batch of views (or many small appends). An
 * authorization's one-event append, taken ahead of queued batches by the store's priority lane, still waits
 * for the group already on the writer thread; with several batches allowed in one group (the store's default
 * bound is 10,000 events) that wait grew with the ingest load. Batches now pay one fsync each, on the writer
 * thread, while the next batch is built on the loop.
 */
export const SERVICE_MAX_GROUP_EVENTS = 1000;

export const LEDGER_CONFIG = Symbol('LEDGER_CONFIG');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const CLOCK = Symbol('CLOCK');
/**
 * The data dir, held by this service alone while it runs: taken by `createLedgerApp` before anything opens the
 * data dir's files, released by `LedgerLifecycle` on shutdown.
 */
export const DATA_DIR_LOCK = Symbol('DATA_DIR_LOCK');

export const ledgerProviders: Provider[] = [
  { provide: CLOCK, useValue: new MonotonicClock() },
  {
    provide: LedgerMetrics,
    inject: [NonBlockingLogDestination],
    useFactory: (log: NonBlockingLogDestination) => {
      const metrics = new LedgerMetrics();
      metrics.observeLogOutput(() => log.stats.dropped);
      return metrics;
    },
  },
  {
    provide: StoreWritability,
    inject: [LEDGER_CONFIG],
    useFactory: (config: LedgerConfig) => new StoreWritability(config.dataDir),
  },
  {
    provide: EVENT_STORE,
    inject: [LEDGER_CONFIG, LedgerMetrics, StoreWritability],
    useFactory: async (
      config: LedgerConfig,
      metrics: LedgerMetrics,
      writability: StoreWritability,
    ): Promise<EventStore> =>
      // The service commits on the writer thread: checks and authorizations never wait behind a big group's
      // inserts and fsync (authorize.http.during-ingest).
      new InstrumentedEventStore(
        await openEventStore({
          ...config,
          embeddedWriterThread: true,
          embeddedMaxGroupEvents: SERVICE_MAX_GROUP_EVENTS,
          onMigration: (message) => new Logger('EventStore').warn(message),
        }),
        metrics,
        writability,
      ),
  },
  {
    provide: LiveProjection,
    inject: [EVENT_STORE, LEDGER_CONFIG, CLOCK],
    useFactory: async (store: EventStore, config: LedgerConfig, clock: Clock): Promise<LiveProjection> => {
      const logger = new Logger('RelationshipProjection');
      const projection = new LiveProjection(store, {
        snapshotDir: path.join(config.dataDir, 'snapshots'),
        snapshotEveryEvents: config.snapshotEveryEvents,
        idempotency: { retentionMs: config.idempotencyRetentionMs, now: () => clock.now() },
        // Only a secret from the environment authenticates: a key generated into the data dir would not.
        snapshotKey: config.exportKey ? deriveSnapshotKey(config.exportKey) : null,
        logger: { log: (m) => logger.log(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) },
      });
      await projection.start();
      return projection;
    },
  },
  {
    provide: LedgerCommands,
    inject: [EVENT_STORE, LiveProjection, CLOCK, LEDGER_CONFIG],
    useFactory: (store: EventStore, projection: LiveProjection, clock: Clock, config: LedgerConfig) =>
      new LedgerCommands(store, projection, clock, { consistencyWaitMs: config.consistencyWaitMs }),
  },
  {
    provide: LedgerQueries,
    inject: [LiveProjection, CLOCK, LEDGER_CONFIG],
    useFactory: (projection: LiveProjection, clock: Clock, config: LedgerConfig) =>
      new LedgerQueries(projection, clock, { consistencyWaitMs: config.consistencyWaitMs }),
  },
];
