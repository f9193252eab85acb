import { DuckDBInstance } from '@duckdb/node-api';
import { loadSql, SUMMARY_SQL } from '../lib/duckdb-replay-sql';
import { reportResult } from '../lib/node-child';

/**
 * The peer's side of `peer.duckdb.replay`, in a process of its own so its peak RSS is its own: an in-memory
 * DuckDB loads the NDJSON export and answers the §4 summary in SQL.
 */
async function main(): Promise<void> {
  const file = process.argv[2];
  const started = process.hrtime.bigint();
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(loadSql(file));
    const loaded = process.hrtime.bigint();
    const reader = await connection.runAndReadAll(SUMMARY_SQL);
    const done = process.hrtime.bigint();
    const row = reader.getRowObjectsJson()[0];
    const count = (name: string): number => Number(row[name]);
    reportResult({
      loadMs: Number(loaded - started) / 1e6,
      queryMs: Number(done - loaded) / 1e6,
      summary: {
        viewsExamined: count('viewsExamined'),
        exposures: count('exposures'),
        viewersExposed: count('viewersExposed'),
        viewersOpened: count('viewersOpened'),
        viewersPlayedVideo: count('viewersPlayedVideo'),
        ownersAffected: count('ownersAffected'),
        devicesAffected: count('devicesAffected'),
        firstExposureAt: row.firstExposureAt ?? null,
        lastExposureAt: row.lastExposureAt ?? null,
      },
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
