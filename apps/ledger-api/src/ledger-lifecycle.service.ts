import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataDirLock, EventStore } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import { DATA_DIR_LOCK, EVENT_STORE } from './ledger.providers';

/** Shutdown order matters: stop following the log, flush the snapshot, close the store, free the data dir. */
@Injectable()
export class LedgerLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('LedgerLifecycle');

  constructor(
    private readonly projection: LiveProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(DATA_DIR_LOCK) private readonly dataDirLock: DataDirLock,
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
    }
  }
}
