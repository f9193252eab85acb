import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { writeFleetLog, type FleetShape } from '../lib/fixtures';
import { reportResult } from '../lib/node-child';

/** Writes the shared benchmark log (a fleet, then its views) through the store port into a data dir. */
async function main(): Promise<void> {
  const { dir, shape, views } = JSON.parse(process.argv[2]) as {
    dir: string;
    shape: FleetShape;
    views: number;
  };
  const store = SqliteEventStore.open({ dataDir: dir });
  try {
    const written = await writeFleetLog(store, shape, views);
    reportResult({ events: written.ownershipEvents + written.views, ...written });
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
