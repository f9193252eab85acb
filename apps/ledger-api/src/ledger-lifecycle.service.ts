import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataDirLock, EventStore } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import { DATA_DIR_LOCK, EVENT_STORE } from './ledger.providers';
import { NonBlockingLogDestination } from './logging/non-blocking-log-destination';

/**
 * Shutdown order matters: stop following the log, flush the snapshot, close the store, free the data dir,
 * and last write out what is still queued for the log (a SIGTERM ends the process right after this hook).
 */
/** How long shutdown waits for queued log lines to reach stdout before writing what it can and exiting. */
const LOG_DRAIN_MS = 2000;

@Injectable()
export class LedgerLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('LedgerLifecycle');

  constructor(
    private readonly projection: LiveProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(DATA_DIR_LOCK) private readonly dataDirLock: DataDirLock,
    private readonly logDestination: NonBlockingLogDestination,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.projection.stop();
    } catch (error) {
      this.logger.error(`projection snapshot on shutdown failed: ${(error as Error).message}`);
    }
    try {
      await this.store.close();
    } finally {
      this.dataDirLock.release();
      await this.logDestination.drain(LOG_DRAIN_MS);
    }
  }
}
