import { loadConfig, type LedgerConfig } from '@ledger/config';
import { openEventStore, type EventStore } from '@ledger/event-store';

/** What every command gets: the validated configuration and a way to open the same store the service uses. */
export interface CliContext {
  readonly config: LedgerConfig;
  /**
   * `commitsOnWriterThread`: the embedded store commits on a thread of its own, as the service's does, so a
   * command that writes in bulk (import) reads and checks its next batch while the last one commits.
   */
  openStore(options?: { readonly commitsOnWriterThread?: boolean }): Promise<EventStore>;
  /** True when stderr is a terminal: progress bars go there, never into output files or pipes. */
  readonly interactive: boolean;
  /** Who the CLI acts as in the ledger's own audit events. */
  readonly actor: string;
}

export function createCliContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  const config = loadConfig(env);
  return {
    config,
    openStore: (options) =>
      openEventStore({
        ...config,
        embeddedWriterThread: options?.commitsOnWriterThread === true,
        onMigration: (message) => process.stderr.write(`${message}\n`),
      }),
    interactive: Boolean(process.stderr.isTTY) && env.CI !== 'true',
    actor: `cli:${env.USER ?? env.LOGNAME ?? 'unknown'}`,
  };
}

/** Exit codes of contract §7. */
export const ExitCode = { ok: 0, findings: 1, usage: 2 } as const;

/** A usage or input problem: printed without a stack, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
