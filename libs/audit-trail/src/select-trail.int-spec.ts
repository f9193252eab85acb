import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEventStore, type EventStore, type RecordedEvent } from '@ledger/event-store';
import { selectTrail } from './select-trail';
import type { TrailFilter } from './trail-filter';
import {
  at,
  LedgerHistory,
  writeSampleHistory,
  type SampleEvent,
  type SampleHistory,
} from './testing/ledger-history';

async function collect(events: AsyncIterable<RecordedEvent>): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of events) ids.push(event.eventId);
  return ids;
}

describe('selectTrail on the embedded store', () => {
  let dataDir: string;
  let store: EventStore;
  let history: SampleHistory;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trail-select-'));
    store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    history = await writeSampleHistory(store);
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** The named events, in log order. */
  const expected = (...names: SampleEvent[]): string[] => {
    const wanted = new Set(names.map((name) => history.ids[name]));
    expect(wanted.size).toBe(names.length);
    return history.log.filter((id) => wanted.has(id));
  };
  const names = (ids: string[]): string[] => {
    const byId = new Map(Object.entries(history.ids).map(([name, id]) => [id, name]));
    return ids.map((id) => byId.get(id) ?? id);
  };
  const select = async (filter: TrailFilter, pageSize = 3): Promise<string[]> =>
    names(await collect(selectTrail(store, filter, { pageSize })));

  it('device trail: every ownership change of the device and every view of it, nothing of cam10', async () => {
    expect(await select({ deviceId: 'cam1' })).toEqual(
      names(
        expected(
          'regCam1',
          'grantBob',
          'vBob',
          'vMallory',
          'xferCam1',
          'vAtXfer',
          'vDave',
          'vLateErin',
          'grantFrank',
          'xferKeep',
          'revokeFrank',
        ),
      ),
    );
    expect(await select({ deviceId: 'cam2' })).toEqual(
      names(expected('regCam2', 'vAliceDenied', 'grantErin2', 'decomCam2', 'vAfterDecom')),
    );
    expect(await select({ deviceId: 'cam3' })).toEqual([]);
  });

  it.each<[string, SampleEvent[]]>([
    // Owner of cam1 until 40 and of cam10: her devices' views while she owned them (the late view dated 35
    // included, the view at exactly 40 not), her own denied attempt, and the transfer that ended her ownership.
    ['alice', ['regCam1', 'regCam10', 'vBob', 'vAliceDenied', 'vMallory', 'vCam10', 'xferCam1', 'vLateErin']],
    // The transfer without keepViewers ended bob's share although it does not name him.
    ['bob', ['grantBob', 'vBob', 'xferCam1']],
    // The decommission ended erin's share of cam2; her late view of cam1 is hers, the cam1 transfer is not.
    ['erin', ['vLateErin', 'grantErin2', 'decomCam2', 'vAfterDecom']],
    // Alice's denied attempt on carol's camera is a view of carol's device while she owned it.
    ['carol', ['regCam2', 'vAliceDenied', 'decomCam2']],
    // A transfer with keepViewers leaves frank's share alone.
    ['frank', ['grantFrank', 'revokeFrank']],
    ['dave', ['xferCam1', 'vAtXfer', 'vDave', 'xferKeep']],
    // The revoke of frank on gina's device is about frank's access, not hers.
    ['gina', ['xferKeep']],
    ['mallory', ['vMallory', 'vAtXfer']],
    ['nobody', []],
  ])('user trail of %s', async (userId, events) => {
    expect(await select({ userId })).toEqual(names(expected(...events)));
  });

  it('both filters: events in the device trail and in the user trail', async () => {
    expect(await select({ deviceId: 'cam1', userId: 'alice' })).toEqual(
      names(expected('regCam1', 'vBob', 'vMallory', 'xferCam1', 'vLateErin')),
    );
    expect(await select({ deviceId: 'cam10', userId: 'bob' })).toEqual([]);
  });

  it('window [from, to) on business time, not on log order', async () => {
    expect(await select({ userId: 'alice', from: at(26), to: at(35) })).toEqual(
      names(expected('vAliceDenied', 'vMallory', 'vCam10')),
    );
    expect(await select({ deviceId: 'cam1', from: at(35), to: at(41) })).toEqual(
      names(expected('xferCam1', 'vAtXfer', 'vLateErin')),
    );
  });

  it('reads a snapshot: events appended after the selection started are not in it', async () => {
    const events = selectTrail(store, { deviceId: 'cam1' }, { pageSize: 2 });
    const first = await events.next();
    expect(first.done).toBe(false);
    const later = await new LedgerHistory(store).view('late', 'cam1', 80);
    const rest = await collect({ [Symbol.asyncIterator]: () => events });
    expect(rest).not.toContain(later);
    expect(rest).toHaveLength(10);
    expect(await collect(selectTrail(store, { deviceId: 'cam1' }))).toContain(later);
  });

  it('reports progress after every page', async () => {
    const progress: number[] = [];
    await collect(
      selectTrail(store, { deviceId: 'cam2' }, { pageSize: 4, onProgress: (p) => progress.push(p.selected) }),
    );
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toBe(5);
  });
});
