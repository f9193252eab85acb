import type { Provider } from '@nestjs/common';
import { AuditService, HeavyWorkGate, WorkerAuditWork } from '@ledger/application';
import { loadExportSigner } from '@ledger/audit-trail';
import type { LedgerConfig } from '@ledger/config';
import type { EventStore } from '@ledger/event-store';
import { EVENT_STORE, LEDGER_CONFIG } from '../ledger.providers';

/**
 * The audit service of the HTTP ledger: heavy reads on worker threads (each with its own store handle), at
 * most `auditWorkers` of each kind at once; records appended on the service's own store. The signing key is
 * loaded here, at start, so a bad LEDGER_EXPORT_KEY stops the service early.
 */
export const auditProviders: Provider[] = [
  {
    provide: AuditService,
    inject: [EVENT_STORE, LEDGER_CONFIG],
    useFactory: (store: EventStore, config: LedgerConfig) =>
      new AuditService(
        store,
        loadExportSigner(config),
        new WorkerAuditWork(config),
        new HeavyWorkGate(config.auditWorkers),
      ),
  },
];
