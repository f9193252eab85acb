import { AuditService, HeavyWorkGate, InlineAuditWork, viewColumnsFor } from '@ledger/application';
import type { EventStore } from '@ledger/event-store';
import type { CliContext } from '../cli-context';
import { exportSigner } from './export.command';

/**
 * The audit service as the CLI uses it: the same use cases as the HTTP service, with the heavy reads in
 * this process's own thread (the CLI serves nothing else) on the store the command opened.
 */
export function cliAuditService(ctx: CliContext, store: EventStore): AuditService {
  return new AuditService(
    store,
    exportSigner(ctx.config),
    // Replays read the data dir's views projection, caught up from its checkpoint first.
    new InlineAuditWork(store, exportSigner(ctx.config), viewColumnsFor(ctx.config)),
    new HeavyWorkGate(ctx.config.auditWorkers),
  );
}
