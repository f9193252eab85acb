import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTime, Streams, viewShardFor } from '@ledger/domain';
import { positionToToken } from '@ledger/event-store';
import { SqliteEventStore } from '../../event-store/src/sqlite';
import { importNdjsonFile } from '@ledger/application';
import { StoreLedgerWriter } from '@ledger/application';
import { recordReplay } from './record-replay';
import { replayIncident } from './replay-incident';
import { fixtureEventId, HistoryBuilder } from './testing/history-builder';
import { incidentFleet } from './testing/incident-fleet';
import { InMemoryEventStore } from './testing/in-memory-event-store';

const T = (minute: number): number => Date.UTC(2024, 1, 16, 9, minute);

describe('replay and import on the embedded SQLite store', () => {
  let dir: string;
  const stores: SqliteEventStore[] = [];
  const open = (name: string): SqliteEventStore => {
    const store = SqliteEventStore.open({ dataDir: join(dir, name) });
    stores.push(store);
    return store;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ledger-replay-int-'));
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the report the reference store gives for the same history', async () => {
    const history = incidentFleet({ devices: 40, leakedViews: 400 });
    const sqlite = open('fleet');
    const memory = new InMemoryEventStore();
    await history.appendTo(sqlite);
    await history.appendTo(memory);
    for (const request of [
      {},
      { from: formatTime(T(40)), to: formatTime(T(60)) },
      { deviceIds: ['cam-001', 'cam-002', 'cam-010'] },
    ]) {
      const [a, b] = await Promise.all([
        replayIncident(sqlite, request, { pageSize: 97 }),
        replayIncident(memory, request),
      ]);
      expect(a.summary).toEqual(b.summary);
      expect(a.exposures).toEqual(b.exposures);
      expect(a.digest).toBe(b.digest);
    }
    const report = await replayIncident(sqlite, {});
    expect(report.summary.exposures).toBeGreaterThan(300);
    expect(report.logRange.to).toBe(positionToToken(await sqlite.headPosition()));
  });

  it('streams a large log in pages and judges views whatever order they arrived in', async () => {
    const store = open('large');
    const h = new HistoryBuilder();
    for (let d = 0; d < 50; d++)
      h.register(`cam-${d}`, `owner-${d}`, T(0)).grant(`cam-${d}`, `friend-${d}`, T(1));
    for (let d = 0; d < 50; d += 5) h.revoke(`cam-${d}`, `friend-${d}`, T(30));
    await h.appendTo(store);
    // 20,000 views, in big appends, appended after the revocations they are judged against
    let unauthorized = 0;
    let n = 1_000_000;
    for (let batch = 0; batch < 20; batch++) {
      const byShard = new Map<
        number,
        Array<{ eventId: string; type: string; data: Record<string, string> }>
      >();
      for (let i = 0; i < 1000; i++) {
        const d = (batch * 1000 + i) % 50;
        const minute = 2 + (i % 50);
        const viewerId = i % 2 === 0 ? `friend-${d}` : `owner-${d}`;
        if (viewerId.startsWith('friend') && d % 5 === 0 && minute >= 30) unauthorized++;
        const shard = viewShardFor(`cam-${d}`);
        const list = byShard.get(shard) ?? [];
        list.push({
          eventId: fixtureEventId(n++),
          type: 'MediaViewed',
          data: {
            viewerId,
            deviceId: `cam-${d}`,
            mediaId: `m-${i}`,
            mediaType: 'thumbnail',
            action: 'delivered',
            occurredAt: formatTime(T(minute)),
            recordedAt: formatTime(T(90)),
          },
        });
        byShard.set(shard, list);
      }
      await store.appendMany(
        [...byShard].map(([shard, events]) => ({
          stream: Streams.views(shard),
          expectedRevision: 'any',
          events,
        })),
      );
    }
    const progress: number[] = [];
    const report = await replayIncident(
      store,
      {},
      { pageSize: 5000, onProgress: (read) => progress.push(read) },
    );
    expect(report.summary.viewsExamined).toBe(20_000);
    expect(report.summary.exposures).toBe(unauthorized);
    expect(new Set(report.exposures.map((e) => e.reason))).toEqual(new Set(['revoked']));
    expect(progress[progress.length - 1]).toBe(20_000 + h.items.length);
    await recordReplay(store, report, 'cli:test', {});
    expect((await replayIncident(store, {})).digest).toBe(report.digest);
  });

  it('imports into the store, and a rerun of the same file adds nothing', async () => {
    const store = open('import');
    const lines: string[] = [];
    for (let d = 0; d < 30; d++) {
      lines.push(
        JSON.stringify({
          op: 'register',
          deviceId: `cam-${d}`,
          ownerId: `owner-${d}`,
          actor: 'svc:p',
          occurredAt: formatTime(T(0)),
        }),
      );
      lines.push(
        JSON.stringify({
          op: 'grant',
          deviceId: `cam-${d}`,
          userId: `friend-${d}`,
          actor: `owner-${d}`,
          occurredAt: formatTime(T(1)),
        }),
      );
    }
    for (let i = 0; i < 3000; i++) {
      const d = i % 30;
      lines.push(
        JSON.stringify({
          op: 'view',
          viewerId: i % 10 === 0 ? `stranger-${i}` : `friend-${d}`,
          deviceId: `cam-${d}`,
          mediaId: `m-${i}`,
          mediaType: 'event_video',
          action: i % 20 === 0 ? 'played' : 'delivered',
          occurredAt: formatTime(T(2) + i),
        }),
      );
    }
    lines.push(JSON.stringify({ op: 'revoke', deviceId: 'cam-0', userId: 'nobody', actor: 'owner-0' }));
    const path = join(dir, 'fleet.ndjson');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const rejected: number[] = [];
    const options = {
      writer: new StoreLedgerWriter(store),
      onRejected: (line: number) => rejected.push(line),
      viewBatchSize: 700,
    };

    const first = await importNdjsonFile(path, options);
    expect(first).toMatchObject({ lines: 3061, accepted: 3060, rejected: 1, skipped: 0 });
    expect(rejected).toEqual([3061]);
    const head = await store.headPosition();

    const second = await importNdjsonFile(path, {
      ...options,
      writer: new StoreLedgerWriter(store),
      viewBatchSize: 1000,
    });
    expect(second).toMatchObject({ accepted: 0, rejected: 1, skipped: 3060 });
    expect(await store.headPosition()).toEqual(head);

    const report = await replayIncident(store, {});
    expect(report.summary).toMatchObject({
      viewsExamined: 3000,
      exposures: 300,
      viewersExposed: 300,
      viewersPlayedVideo: 150,
    });
  });
});
