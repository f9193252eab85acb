import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { replayIncident } from '../replay-incident';
import { HistoryBuilder } from '../testing/history-builder';
import { incidentFleet } from '../testing/incident-fleet';
import { InMemoryEventStore } from '../testing/in-memory-event-store';
import { COLUMN_FILES, ViewColumns, VIEW_COLUMNS_DIR, type CatchUpResult } from './view-columns';

const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);

function usable(result: CatchUpResult): Extract<CatchUpResult, { usable: true }> {
  if (!result.usable) throw new Error(`columns not usable: ${result.why}`);
  return result;
}

async function storeOf(history: HistoryBuilder): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  await history.appendTo(store);
  return store;
}

describe('the replay views projection (ViewColumns)', () => {
  let root: string;
  let n = 0;
  const freshDir = (): string => path.join(root, `dir-${n++}`);

  beforeAll(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'view-columns-'))));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('kept up to date piece by piece has the digest of a rebuild from position zero, and the same report', async () => {
    // given: a fleet, and a second stretch of its log appended after a first catch-up
    const history = incidentFleet({ devices: 40, leakedViews: 300 });
    const store = new InMemoryEventStore();
    const items = history.items.length;
    const half = Math.floor(items / 2);
    await history.appendTo(
      store,
      Array.from({ length: half }, (_, i) => i),
    );
    const live = new ViewColumns(freshDir());
    const first = usable(await live.catchUp(store));
    expect(first.appended).toBe(half);
    await history.appendTo(
      store,
      Array.from({ length: items - half }, (_, i) => half + i),
    );

    // when: the live one catches up from its checkpoint, and another is rebuilt from nothing
    const second = usable(await live.catchUp(store, undefined, { pageSize: 3 }));
    const rebuilt = new ViewColumns(freshDir());
    usable(await rebuilt.catchUp(store));

    // then: only the new events were read, and both are the same bytes
    expect(second.appended).toBe(items - half);
    expect(second.discarded).toBe(false);
    expect(live.digest()).toBe(rebuilt.digest());
    expect(usable(await live.catchUp(store)).appended).toBe(0);
    const fromLog = await replayIncident(store, {});
    expect(fromLog.summary.exposures).toBeGreaterThan(0);
    expect(await replayIncident(store, {}, { columns: live })).toEqual(fromLog);
    const narrowed = { deviceIds: ['cam-001', 'cam-002'], viewerIds: ['user-guest', 'user-1'] };
    expect(await replayIncident(store, narrowed, { columns: live })).toEqual(
      await replayIncident(store, narrowed),
    );
  });

  it('has the same digest however the log was cut into catch-ups (ids interned in another order)', async () => {
    // given: a view names a user before any ownership change does, and the user is granted only later
    const first = new HistoryBuilder(1).register('cam-a', 'u1', T0);
    first.view('u9', 'cam-a', T0 + 5);
    const store = await storeOf(first);
    const live = new ViewColumns(freshDir());
    usable(await live.catchUp(store));
    const second = new HistoryBuilder(100).grant('cam-a', 'u9', T0 + 10).grant('cam-a', 'u5', T0 + 11);
    second.view('u5', 'cam-a', T0 + 3);
    await second.appendTo(store);

    // when
    usable(await live.catchUp(store));
    const rebuilt = new ViewColumns(freshDir());
    usable(await rebuilt.catchUp(store));

    // then
    expect(live.digest()).toBe(rebuilt.digest());
    expect(await replayIncident(store, {}, { columns: live })).toEqual(await replayIncident(store, {}));
  });

  it('answers over an empty log, and over a log with no views, as the log path does', async () => {
    const store = new InMemoryEventStore();
    const columns = new ViewColumns(freshDir());
    expect(await replayIncident(store, {}, { columns })).toEqual(await replayIncident(store, {}));
    await new HistoryBuilder().register('cam-a', 'u1', T0).appendTo(store);
    expect(await replayIncident(store, {}, { columns })).toEqual(await replayIncident(store, {}));
    expect(usable(await columns.catchUp(store)).view.ownershipChanges).toBe(1);
  });

  it('lives in the data dir beside the store files', () => {
    expect(new ViewColumns('/data').dir).toBe(path.join('/data', VIEW_COLUMNS_DIR));
  });

  it('is discarded and rebuilt when the event at its checkpoint is not in the log it is opened against', async () => {
    // given: columns of one log
    const dir = freshDir();
    const a = await storeOf(new HistoryBuilder(1).register('cam-a', 'u1', T0).grant('cam-a', 'u2', T0 + 1));
    const columns = new ViewColumns(dir);
    usable(await columns.catchUp(a));
    // and another log in the same place (a restored backup, another data dir copied over)
    const otherHistory = new HistoryBuilder(500).register('cam-b', 'u9', T0).grant('cam-b', 'u8', T0 + 1);
    otherHistory.view('u7', 'cam-b', T0 + 5);
    const b = await storeOf(otherHistory);

    // when
    const result = usable(await new ViewColumns(dir).catchUp(b));

    // then: nothing of the first log is left
    expect(result.discarded).toBe(true);
    const reference = new ViewColumns(freshDir());
    usable(await reference.catchUp(b));
    expect(new ViewColumns(dir).digest()).toBe(reference.digest());
    const report = await replayIncident(b, {}, { columns: new ViewColumns(dir) });
    expect(report).toEqual(await replayIncident(b, {}));
    expect(report.exposures.map((e) => e.deviceId)).toEqual(['cam-b']);
  });

  it('after a crash mid-append, cuts what its checkpoint does not cover and catches up to the same bytes', async () => {
    // given: caught-up columns, then a crash after the data of the next stretch was written but before its
    // checkpoint (bytes past the checkpoint in every file, a half-written checkpoint beside it)
    const history = incidentFleet({ devices: 20, leakedViews: 100 });
    const store = await storeOf(history);
    const dir = freshDir();
    const columns = new ViewColumns(dir);
    usable(await columns.catchUp(store));
    const before = columns.digest();
    const sizes = COLUMN_FILES.map((file) => fs.statSync(path.join(columns.dir, file)).size);
    for (const file of COLUMN_FILES) fs.appendFileSync(path.join(columns.dir, file), Buffer.alloc(13, 0xab));
    fs.writeFileSync(path.join(columns.dir, 'checkpoint.json.tmp'), '{"format":1,"posi');

    // when
    const reopened = new ViewColumns(dir);
    const result = usable(await reopened.catchUp(store));

    // then
    expect(result.discarded).toBe(false);
    expect(result.appended).toBe(0);
    expect(reopened.digest()).toBe(before);
    expect(COLUMN_FILES.map((file) => fs.statSync(path.join(columns.dir, file)).size)).toEqual(sizes);
    expect(await replayIncident(store, {}, { columns: reopened })).toEqual(await replayIncident(store, {}));
  });

  it('is rebuilt, not trusted, when a file lost bytes its checkpoint covered', async () => {
    const store = await storeOf(incidentFleet({ devices: 10, leakedViews: 50 }));
    const dir = freshDir();
    const columns = new ViewColumns(dir);
    usable(await columns.catchUp(store));
    const whole = columns.digest();
    fs.truncateSync(path.join(columns.dir, 'views.bin'), 24);

    const result = usable(await new ViewColumns(dir).catchUp(store));

    expect(result.discarded).toBe(true);
    expect(new ViewColumns(dir).digest()).toBe(whole);
  });

  it('declines (the replay reads the log) when a view holds what a record cannot, and says why', async () => {
    const history = new HistoryBuilder().register('cam-a', 'u1', T0);
    history.view('u2', 'cam-a', T0 + 10);
    const store = await storeOf(history);
    await store.append({
      stream: 'view-0',
      expectedRevision: 'any',
      events: [
        {
          eventId: '00000000-0000-4000-8000-00000000ffff',
          type: 'MediaViewed',
          data: {
            viewerId: 'u3',
            deviceId: 'cam-a',
            mediaId: 'm',
            mediaType: 'hologram',
            action: 'opened',
            occurredAt: '2024-02-16T09:00:01.000Z',
          },
        },
      ],
    });
    const columns = new ViewColumns(freshDir());

    const result = await columns.catchUp(store);

    expect(result.usable).toBe(false);
    expect(result.usable ? '' : result.why).toMatch(/mediaType or action/);
    expect(await replayIncident(store, {}, { columns })).toEqual(await replayIncident(store, {}));
  });

  it('leaves the replay to the log while another live process holds its catch-up', async () => {
    const store = await storeOf(incidentFleet({ devices: 10, leakedViews: 30 }));
    const columns = new ViewColumns(freshDir());
    fs.mkdirSync(columns.dir, { recursive: true });
    fs.writeFileSync(path.join(columns.dir, 'catch-up.lock'), `${process.ppid}\n`);

    expect(await columns.withCaughtUp(store, undefined, () => 'used')).toBeNull();
    expect(await replayIncident(store, {}, { columns })).toEqual(await replayIncident(store, {}));

    // A lock whose holder is gone (kill -9) is taken over.
    fs.writeFileSync(path.join(columns.dir, 'catch-up.lock'), '999999999\n');
    expect(await columns.withCaughtUp(store, undefined, (r) => r.usable)).toBe(true);
    expect(fs.existsSync(path.join(columns.dir, 'catch-up.lock'))).toBe(false);

    // So is one this process left behind a minute ago (a worker thread stopped mid-catch-up).
    const lock = path.join(columns.dir, 'catch-up.lock');
    fs.writeFileSync(lock, `${process.pid}\n`);
    expect(await columns.withCaughtUp(store, undefined, () => 'used')).toBeNull();
    const aMinuteAgo = new Date(Date.now() - 61_000);
    fs.utimesSync(lock, aMinuteAgo, aMinuteAgo);
    expect(await columns.withCaughtUp(store, undefined, (r) => r.usable)).toBe(true);
  });
});
