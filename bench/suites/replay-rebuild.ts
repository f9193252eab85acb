import * as path from 'node:path';
import Database from 'better-sqlite3';
import { rebuildFromLog } from '@ledger/projections';
import { replayIncident } from '@ledger/replay';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { EVENT_ID_AS_HEX, StoredRowCodec } from '../../libs/event-store/src/sqlite/stored-row';
import { paired, perSecond, result, timeIt } from '../lib/stats';
import type { Suite } from '../lib/types';

type Side = 'replay' | 'rebuild' | 'raw';

/**
 * replay and rebuild: events/s of `replayIncident` (the §4 report over the whole log) and of `rebuildFromLog`
 * (the relationship projection from position zero), each against a raw scan of the same log: every row in
 * position order through better-sqlite3 with `JSON.parse` of its data and metadata. Since schema version 2
 * the scan decodes the stored data first (`StoredRowCodec`): the text any reader of the file has to get back.
 */
export const replayRebuild: Suite = async (context, log) => {
  const store = SqliteEventStore.open({ dataDir: context.fleetLogDir });
  const db = new Database(path.join(context.fleetLogDir, 'events.sqlite3'), { readonly: true });
  try {
    let exposures = 0;
    const codec = new StoredRowCodec(db);
    const scan = db
      .prepare(
        `SELECT position, ${EVENT_ID_AS_HEX}, stream, revision, type_id, data, metadata FROM events ORDER BY position`,
      )
      .raw();
    const runs: Record<Side, () => Promise<number>> = {
      replay: async () => {
        let read = 0;
        const report = await replayIncident(store, {}, { onProgress: (events) => (read = events) });
        if (report.summary.viewsExamined === 0) throw new Error('the replay examined no views');
        exposures = report.summary.exposures;
        return read;
      },
      rebuild: async () => (await rebuildFromLog(store)).events,
      raw: async () => {
        let rows = 0;
        let bytes = 0;
        for (const row of scan.iterate() as IterableIterator<
          [number, string, string, number, number, string, string | null]
        >) {
          const data = JSON.parse(codec.data.decode(row[5])) as Record<string, unknown>;
          const metadata = row[6] === null ? null : (JSON.parse(row[6]) as Record<string, unknown>);
          if (data !== null && metadata !== undefined) rows++;
          bytes += row[5].length;
        }
        return bytes > 0 ? rows : 0;
      },
    };
    const replay = paired();
    const rebuild = paired();
    let sizes: Record<Side, number> = { replay: 0, rebuild: 0, raw: 0 };
    const orders: Side[][] = [
      ['raw', 'replay', 'rebuild'],
      ['rebuild', 'raw', 'replay'],
      ['replay', 'rebuild', 'raw'],
    ];
    for (let round = 0; round < context.rounds; round++) {
      const rates: Record<Side, number> = { replay: 0, rebuild: 0, raw: 0 };
      for (const side of orders[round % orders.length]) {
        let events = 0;
        const ms = await timeIt(async () => {
          events = await runs[side]();
        });
        rates[side] = perSecond(events, ms);
        sizes = { ...sizes, [side]: events };
      }
      replay.ours.push(rates.replay);
      replay.theirs.push(rates.raw);
      rebuild.ours.push(rates.rebuild);
      rebuild.theirs.push(rates.raw);
      log(
        `round ${round + 1}: replay ${Math.round(rates.replay)}/s, rebuild ${Math.round(rates.rebuild)}/s, raw scan ${Math.round(rates.raw)}/s`,
      );
    }
    const baseline =
      'raw better-sqlite3 scan of the same log in position order with JSON.parse of data and metadata';
    return {
      results: [
        result('replay', 'events/s', baseline, replay, true),
        result('rebuild', 'events/s', baseline, rebuild, true),
      ],
      notes: [
        `replay/rebuild: a log of ${sizes.raw.toLocaleString('en-US')} events; the replay read ${sizes.replay.toLocaleString('en-US')} ` +
          `(ownership pass + views pass) and reported ${exposures.toLocaleString('en-US')} exposures (every fifth view is ` +
          `by a stranger: a heavy incident, so sorting and digesting the exposures is part of the cost); the rebuild read ` +
          `${sizes.rebuild.toLocaleString('en-US')}.`,
      ],
    };
  } finally {
    db.close();
    await store.close();
  }
};
