import { ViewColumns } from '@ledger/replay';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { writeFleetLog, type FleetShape } from '../lib/fixtures';
import { reportResult } from '../lib/node-child';

/**
 * Writes the shared benchmark log (a fleet, then its views) through the store port into a data dir, then
 * builds the replay's views projection from position zero, as the ledger keeps it for a data dir it serves.
 */
async function main(): Promise<void> {
  const { dir, shape, views } = JSON.parse(process.argv[2]) as {
    dir: string;
    shape: FleetShape;
    views: number;
  };
  const store = SqliteEventStore.open({ dataDir: dir });
  try {
    const written = await writeFleetLog(store, shape, views);
    const started = Date.now();
    const columns = await new ViewColumns(dir).catchUp(store);
    if (!columns.usable) throw new Error(`the views projection declined the bench log: ${columns.why}`);
    reportResult({
      events: written.ownershipEvents + written.views,
      ...written,
      viewColumnsMs: Date.now() - started,
    });
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
