import { replayIncident, ViewColumns } from '@ledger/replay';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { reportResult } from '../lib/node-child';

/**
 * Our side of `peer.duckdb.replay`, in a process of its own so its peak RSS is its own: the complete §4 report
 * (every exposure, sorted, digested) over the whole log, from opening the store to the finished report — the
 * replay as `ledger replay` runs it on a data dir, from the views projection caught up to the head.
 */
async function main(): Promise<void> {
  const dir = process.argv[2];
  const started = process.hrtime.bigint();
  const store = SqliteEventStore.open({ dataDir: dir });
  try {
    const report = await replayIncident(store, {}, { columns: new ViewColumns(dir) });
    const done = process.hrtime.bigint();
    reportResult({
      ms: Number(done - started) / 1e6,
      summary: report.summary,
      digest: report.digest,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    });
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
