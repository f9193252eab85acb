import * as path from 'node:path';
import Database from 'better-sqlite3';
import { getSQLiteEventStore } from '@event-driven-io/emmett-sqlite';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { viewEvents, viewStream, type FleetShape } from '../lib/fixtures';
import { reportResult } from '../lib/node-child';
import { perSecond, timeIt } from '../lib/stats';

/** The fleet whose views `peer.emmett` appends; the same rows and stream names on both sides. */
const PEER_EMMETT_SHAPE: FleetShape = { devices: 5_000, users: 10_000, viewersPerDevice: 1, revokeEvery: 0 };

/** Attempts of one Emmett append that fails with SQLITE_BUSY before the round fails. */
const EMMETT_ATTEMPTS = 5;

/**
 * One timed round of `peer.emmett`, one side, in a process of its own (ours too, so both start equally cold):
 * `ours` or `emmett`, a fresh data dir, and the number of sequential one-event appends.
 *
 * Emmett's store (0.38.5, node-sqlite3) now and then fails its own COMMIT with SQLITE_BUSY "cannot commit
 * transaction - SQL statements in progress", in a fresh process with one store as well: its appends read
 * `INSERT/UPDATE … RETURNING` through `db.get`, whose statement is finalized on its own queue, and node-sqlite3
 * runs a database's statements in parallel unless serialized, so the COMMIT can run first. The failed append is
 * rolled back, so it is retried as a command handler would (the retries are timed and counted), and the round
 * then checks that Emmett stored each event exactly once.
 */
async function main(): Promise<void> {
  const [side, dir, count] = process.argv.slice(2);
  const appends = Number(count);
  if (!Number.isInteger(appends) || appends < 1) throw new Error(`appends: a positive integer, got ${count}`);
  const events = viewEvents(0, appends, PEER_EMMETT_SHAPE);
  let ms: number;
  let busyRetries = 0;
  if (side === 'ours') {
    const store = SqliteEventStore.open({ dataDir: dir });
    try {
      ms = await timeIt(async () => {
        for (const event of events) {
          await store.append({ stream: viewStream([event]), expectedRevision: 'any', events: [event] });
        }
      });
    } finally {
      await store.close();
    }
  } else if (side === 'emmett') {
    const file = path.join(dir, 'emmett.sqlite3');
    const store = getSQLiteEventStore({ fileName: file });
    ms = await timeIt(async () => {
      for (const event of events) {
        for (let attempt = 1; ; attempt++) {
          try {
            await store.appendToStream(viewStream([event]), [{ type: event.type, data: event.data }]);
            break;
          } catch (error) {
            if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || attempt >= EMMETT_ATTEMPTS)
              throw error;
            busyRetries += 1;
          }
        }
      }
    });
    const check = new Database(file, { readonly: true });
    try {
      const { stored } = check.prepare('SELECT COUNT(*) AS stored FROM emt_messages').get() as {
        stored: number;
      };
      if (stored !== appends) throw new Error(`Emmett stored ${stored} events of ${appends} appended`);
    } finally {
      check.close();
    }
  } else {
    throw new Error(`side: ours or emmett, got ${side}`);
  }
  reportResult({ appendsPerSecond: perSecond(appends, ms), busyRetries });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
