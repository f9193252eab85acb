import * as path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { deriveSnapshotKey, rebuildFromLog, writeSnapshot } from '@ledger/projections';
import type { RegisterCommand } from './index';

/** `ledger rebuild`: the relationship projection from position zero, its digest and token, and a fresh snapshot. */
export const registerRebuildCommand: RegisterCommand = (program, context) => {
  program
    .command('rebuild')
    .description(
      'rebuild the projections from the log, print their digest and token, and replace the snapshot',
    )
    .option('--json', 'print one JSON object instead of text')
    .option('--no-snapshot', 'do not replace the snapshot in the data dir')
    .action(async (options: { json?: boolean; snapshot: boolean }) => {
      const ctx = context();
      const store = await ctx.openStore();
      const bar = ctx.interactive
        ? new SingleBar(
            { format: 'rebuild {bar} {value} events', stream: process.stderr },
            Presets.shades_classic,
          )
        : null;
      try {
        const started = Date.now();
        bar?.start(0, 0);
        const result = await rebuildFromLog(store, { onProgress: (events) => bar?.update(events) });
        bar?.stop();
        if (options.snapshot) {
          await writeSnapshot(
            path.join(ctx.config.dataDir, 'snapshots'),
            store.name,
            result.position,
            result.table,
            result.idempotency,
            result.anchor,
            // Authenticated like the service's own snapshots, so a keyed service loads it without re-checking.
            ctx.config.exportKey ? deriveSnapshotKey(ctx.config.exportKey) : null,
          );
        }
        const summary = {
          digest: result.digest,
          token: result.token,
          events: result.events,
          devices: result.devices,
          relationships: result.relationships,
          durationMs: Date.now() - started,
        };
        process.stdout.write(
          options.json
            ? `${JSON.stringify(summary)}\n`
            : `digest ${summary.digest}\ntoken ${summary.token}\nevents ${summary.events}, devices ${summary.devices}, relationships ${summary.relationships} (${summary.durationMs} ms)\n`,
        );
      } finally {
        bar?.stop();
        await store.close();
      }
    });
};
