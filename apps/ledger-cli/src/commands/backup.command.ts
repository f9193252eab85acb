import { backupEmbeddedLog } from '@ledger/event-store';
import { UsageError } from '../cli-context';
import type { RegisterCommand } from './index';

/** `ledger backup FILE`: a consistent online copy of the embedded log. */
export const registerBackupCommand: RegisterCommand = (program, context) => {
  program
    .command('backup')
    .argument('<file>', 'where to write the copy (must not exist)')
    .description('copy the embedded event log while the service keeps running')
    .action(async (file: string) => {
      const ctx = context();
      if (ctx.config.eventStoreConnectionString) {
        throw new UsageError('backup copies the embedded store; back up EventStoreDB with its own tools');
      }
      try {
        const result = await backupEmbeddedLog(ctx.config.dataDir, file, ({ totalPages, remainingPages }) => {
          if (ctx.interactive)
            process.stderr.write(`\rbackup ${totalPages - remainingPages}/${totalPages} pages`);
        });
        if (ctx.interactive) process.stderr.write('\n');
        process.stdout.write(`backed up ${result.bytes} bytes to ${result.file}\n`);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    });
};
