import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import { EVENT_STORE } from './ledger.providers';

/** Shutdown order matters: stop following the log, flush the snapshot, then close the store. */
@Injectable()
export class LedgerLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('LedgerLifecycle');

  constructor(
    private readonly projection: LiveProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.projection.stop();
    } catch (error) {
      this.logger.error(`projection snapshot on shutdown failed: ${(error as Error).message}`);
    }
    await this.store.close();
  }
}
