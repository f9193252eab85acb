import { Logger, type Provider } from '@nestjs/common';
import * as path from 'node:path';
import { LedgerCommands, LedgerQueries, MonotonicClock, type Clock } from '@ledger/application';
import type { LedgerConfig } from '@ledger/config';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { deriveSnapshotKey, LiveProjection } from '@ledger/projections';
import { InstrumentedEventStore } from './metrics/instrumented-event-store';
import { LedgerMetrics } from './metrics/ledger-metrics';

export const LEDGER_CONFIG = Symbol('LEDGER_CONFIG');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const CLOCK = Symbol('CLOCK');

export const ledgerProviders: Provider[] = [
  { provide: CLOCK, useValue: new MonotonicClock() },
  { provide: LedgerMetrics, useFactory: () => new LedgerMetrics() },
  {
    provide: EVENT_STORE,
    inject: [LEDGER_CONFIG, LedgerMetrics],
    useFactory: async (config: LedgerConfig, metrics: LedgerMetrics): Promise<EventStore> =>
      new InstrumentedEventStore(await openEventStore(config), metrics),
  },
  {
    provide: LiveProjection,
    inject: [EVENT_STORE, LEDGER_CONFIG],
    useFactory: async (store: EventStore, config: LedgerConfig): Promise<LiveProjection> => {
      const logger = new Logger('RelationshipProjection');
      const projection = new LiveProjection(store, {
        snapshotDir: path.join(config.dataDir, 'snapshots'),
        snapshotEveryEvents: config.snapshotEveryEvents,
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
