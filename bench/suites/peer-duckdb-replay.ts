import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ReplaySummary } from '@ledger/replay';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import type { FleetShape } from '../lib/fixtures';
import { exportLogNdjson } from '../lib/ndjson-export';
import { runChild } from '../lib/node-child';
import { median, result, round } from '../lib/stats';
import type { BenchResult, SuiteContext } from '../lib/types';
import type { Suite } from '../lib/types';

interface PeerRun {
  readonly loadMs: number;
  readonly queryMs: number;
  readonly summary: ReplaySummary;
  readonly maxRssBytes: number;
}

interface OurRun {
  readonly ms: number;
  readonly summary: ReplaySummary;
  readonly digest: string;
  readonly maxRssBytes: number;
}

/** The 10M-event point of a full run: the bench fleet ten times over (1M devices, 6.9M views). */
const TEN_MILLION_SHAPE: FleetShape = {
  devices: 1_000_000,
  users: 2_000_000,
  viewersPerDevice: 2,
  revokeEvery: 10,
};
const TEN_MILLION_VIEWS = 6_900_000;

const MB = 1024 * 1024;

interface PointFigures {
  readonly events: number;
  readonly ours: { seconds: number[]; rssMb: number[] };
  readonly theirs: { seconds: number[]; loadSeconds: number[]; rssMb: number[] };
  exposures: number;
}

/**
 * peer.duckdb.replay: the complete §4 report by `replayIncident` (every exposure, sorted and digested)
 * against DuckDB (embedded, @duckdb/node-api) loading the same log from NDJSON and answering the §4 summary
 * with one SQL anti-join of views against §2's access intervals. Each side runs in a child process of its
 * own, so each peak RSS is that side's alone. The summaries must be equal to the last figure, or the suite
 * fails: a faster wrong answer is not a result.
 */
export const peerDuckdbReplay: Suite = async (context, log) => {
  const small = await measurePoint(context, context.fleetLogDir, context.rounds, log);
  const results: BenchResult[] = [
    result(
      'peer.duckdb.replay',
      's',
      'DuckDB 1.5 (@duckdb/node-api, in memory): NDJSON load + the §4 summary in SQL, same log',
      { ours: small.ours.seconds, theirs: small.theirs.seconds },
      false,
    ),
    result(
      'peer.duckdb.replay.rss',
      'MB',
      "DuckDB's peak RSS for the same load and query, each side in its own process",
      { ours: small.ours.rssMb, theirs: small.theirs.rssMb },
      false,
    ),
  ];
  const notes = [pointNote(small)];
  if (!context.quick) {
    const dir = path.join(context.workDir, 'fleet-log-10m');
    log('building the 10M-event log through the store port …');
    await runChild('bench/children/build-fleet-log', [
      JSON.stringify({ dir, shape: TEN_MILLION_SHAPE, views: TEN_MILLION_VIEWS }),
    ]);
    const large = await measurePoint(context, dir, 1, log);
    fs.rmSync(dir, { recursive: true, force: true });
    results.push(
      result(
        'peer.duckdb.replay.10m',
        's',
        'DuckDB, the same at 10M events',
        { ours: large.ours.seconds, theirs: large.theirs.seconds },
        false,
      ),
      result(
        'peer.duckdb.replay.10m.rss',
        'MB',
        "DuckDB's peak RSS at 10M events",
        { ours: large.ours.rssMb, theirs: large.theirs.rssMb },
        false,
      ),
    );
    notes.push(pointNote(large));
  }
  return { results, notes };
};

async function measurePoint(
  context: SuiteContext,
  dataDir: string,
  rounds: number,
  log: (message: string) => void,
): Promise<PointFigures> {
  const file = path.join(context.workDir, `${path.basename(dataDir)}.ndjson`);
  const store = SqliteEventStore.open({ dataDir });
  let events: number;
  try {
    events = await exportLogNdjson(store, file);
  } finally {
    await store.close();
  }
  log(
    `exported ${events.toLocaleString('en-US')} events to NDJSON (${Math.round(fs.statSync(file).size / MB)} MB)`,
  );
  const figures: PointFigures = {
    events,
    ours: { seconds: [], rssMb: [] },
    theirs: { seconds: [], loadSeconds: [], rssMb: [] },
    exposures: 0,
  };
  try {
    for (let r = 0; r < rounds; r++) {
      const sides = r % 2 === 0 ? (['ours', 'duckdb'] as const) : (['duckdb', 'ours'] as const);
      let ours: OurRun | undefined;
      let theirs: PeerRun | undefined;
      for (const side of sides) {
        if (side === 'ours')
          ours = await runChild<OurRun>('bench/children/replay-child', [dataDir], {
            profileDir: context.profileDir,
          });
        else theirs = await runChild<PeerRun>('bench/children/duckdb-replay', [file]);
      }
      if (!ours || !theirs) throw new Error('a side of the round did not report');
      if (!isDeepStrictEqual(ours.summary, theirs.summary)) {
        throw new Error(
          `DuckDB's summary differs from the replay's:\n  ours   ${JSON.stringify(ours.summary)}\n  duckdb ${JSON.stringify(theirs.summary)}`,
        );
      }
      figures.exposures = ours.summary.exposures;
      figures.ours.seconds.push(ours.ms / 1000);
      figures.ours.rssMb.push(ours.maxRssBytes / MB);
      figures.theirs.seconds.push((theirs.loadMs + theirs.queryMs) / 1000);
      figures.theirs.loadSeconds.push(theirs.loadMs / 1000);
      figures.theirs.rssMb.push(theirs.maxRssBytes / MB);
      log(
        `round ${r + 1} (${events.toLocaleString('en-US')} events): replay ${(ours.ms / 1000).toFixed(2)} s, ` +
          `${Math.round(ours.maxRssBytes / MB)} MB; DuckDB ${((theirs.loadMs + theirs.queryMs) / 1000).toFixed(2)} s ` +
          `(load ${(theirs.loadMs / 1000).toFixed(2)} s), ${Math.round(theirs.maxRssBytes / MB)} MB; summaries equal`,
      );
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
  return figures;
}

function pointNote(figures: PointFigures): string {
  const s = (values: number[]): string => `${round(median(values))} s`;
  const mb = (values: number[]): string => `${Math.round(median(values))} MB`;
  return (
    `peer.duckdb.replay at ${figures.events.toLocaleString('en-US')} events (${figures.exposures.toLocaleString('en-US')} ` +
    `exposures): our complete report ${s(figures.ours.seconds)}, peak RSS ${mb(figures.ours.rssMb)}; DuckDB ` +
    `${s(figures.theirs.seconds)} (load ${s(figures.theirs.loadSeconds)}), peak RSS ${mb(figures.theirs.rssMb)}; ` +
    'the two summaries were equal in every round.'
  );
}
