import { EventStoreDBClient, jsonEvent, START } from '@eventstore/db-client';
import { startEsdbTestServer } from '@ledger/esdb-test-server';
import { replayIncident } from '@ledger/replay';
import { START as LOG_START, type LogPosition } from '@ledger/event-store';
import { EsdbEventStore } from '../../libs/event-store/src/esdb';
import { viewEvents, viewStream, writeFleetLog, type FleetShape } from '../lib/fixtures';
import { paired, perSecond, result, timeIt } from '../lib/stats';
import type { Suite } from '../lib/types';

const APPEND_SHAPE: FleetShape = { devices: 5_000, users: 10_000, viewersPerDevice: 1, revokeEvery: 0 };

/**
 * The EventStoreDB path, on one in-process test server:
 * - esdb.append: sequential one-event appends (each awaited, as a command handler makes them) through the
 *   adapter and through raw `client.appendToStream` of the same events;
 * - esdb.read-all: the whole `$all` through the adapter's `readAll` pages (system events dropped, events mapped
 *   to the port's records) against the raw `client.readAll()` iteration of it;
 * - esdb.replay: `replayIncident` over the adapter, events/s, against the same raw `$all` read.
 */
export const esdb: Suite = async (context, log) => {
  const appends = context.quick ? 200 : 1_000;
  const shape: FleetShape = context.quick
    ? { devices: 500, users: 1_500, viewersPerDevice: 2, revokeEvery: 7 }
    : { devices: 5_000, users: 15_000, viewersPerDevice: 2, revokeEvery: 7 };
  const views = context.quick ? 8_000 : 100_000;

  const server = await startEsdbTestServer();
  const store = await EsdbEventStore.connect(server.connectionString);
  const client = EventStoreDBClient.connectionString(server.connectionString);
  try {
    const fleet = await writeFleetLog(store, shape, views);
    const logEvents = fleet.ownershipEvents + fleet.views;
    log(`esdb: ${logEvents} events in the test server (${server.log.all.length} with system events)`);

    const append = paired();
    const readAll = paired();
    const replay = paired();
    for (let round = 0; round < context.rounds; round++) {
      const sides = round % 2 === 0 ? (['ours', 'raw'] as const) : (['raw', 'ours'] as const);
      for (const side of sides) {
        const events = viewEvents(round * appends, appends, APPEND_SHAPE);
        const ms = await timeIt(async () => {
          for (const event of events) {
            const stream = `bench-${side}-${viewStream([event])}`;
            if (side === 'ours') {
              await store.append({ stream, expectedRevision: 'any', events: [event] });
            } else {
              await client.appendToStream(
                stream,
                jsonEvent({ id: event.eventId, type: event.type, data: { ...event.data } }),
              );
            }
          }
        });
        (side === 'ours' ? append.ours : append.theirs).push(perSecond(appends, ms));
      }

      let rawRead = 0;
      let rawCount = 0;
      let oursCount = 0;
      const reads = {
        ours: async () => {
          let from: LogPosition = LOG_START;
          let count = 0;
          for (;;) {
            const page = await store.readAll({
              from,
              direction: 'forwards',
              maxCount: 1_000,
            });
            count += page.events.length;
            if (page.next === 'end') break;
            from = page.next;
            if (page.isEnd) break;
          }
          oursCount = count;
        },
        raw: async () => {
          let count = 0;
          for await (const resolved of client.readAll({ fromPosition: START })) {
            if (resolved.event && !resolved.event.type.startsWith('$')) count += 1;
          }
          rawCount = count;
        },
      };
      for (const side of sides) {
        const ms = await timeIt(() => reads[side]());
        if (side === 'ours') readAll.ours.push(perSecond(oursCount, ms));
        else {
          rawRead = perSecond(rawCount, ms);
          readAll.theirs.push(rawRead);
        }
      }
      if (oursCount !== rawCount) throw new Error(`adapter read ${oursCount} events, raw ${rawCount}`);

      let replayed = 0;
      const replayMs = await timeIt(async () => {
        const report = await replayIncident(store, {}, { onProgress: (events) => (replayed = events) });
        if (report.summary.viewsExamined === 0) throw new Error('the replay examined no views');
      });
      replay.ours.push(perSecond(replayed, replayMs));
      replay.theirs.push(rawRead);
      log(
        `round ${round + 1}: append ours ${Math.round(append.ours[round])}/s raw ${Math.round(append.theirs[round])}/s; ` +
          `read-all ours ${Math.round(readAll.ours[round])}/s raw ${Math.round(readAll.theirs[round])}/s; ` +
          `replay ${Math.round(replay.ours[round])} events/s`,
      );
    }
    return {
      results: [
        result(
          'esdb.append',
          'appends/s',
          'raw @eventstore/db-client appendToStream of the same one-event appends, same test server',
          append,
          true,
        ),
        result(
          'esdb.read-all',
          'events/s',
          'raw @eventstore/db-client readAll() of the same $all, same test server',
          readAll,
          true,
        ),
        result(
          'esdb.replay',
          'events/s',
          'raw @eventstore/db-client readAll() of the same $all (the replay reads and folds every event)',
          replay,
          true,
        ),
      ],
      notes: [
        `esdb: ${logEvents} ledger events (${shape.devices} devices, ${views} views) in an in-process test server ` +
          `(EventStoreDB wire protocol, BatchAppend path), plus its system events; ${appends} sequential ` +
          'one-event appends per side per round; client and server share the process.',
      ],
    };
  } finally {
    await client.dispose();
    await store.close();
    await server.stop();
  }
};
