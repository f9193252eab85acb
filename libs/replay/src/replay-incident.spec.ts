import { createHash } from 'node:crypto';
import { InvalidInputError, type DenialReason } from '@ledger/domain';
import { positionToToken, type EventStore, type ReadAllOptions } from '@ledger/event-store';
import { canonicalJson } from '@ledger/domain';
import type { IncidentReport, ReplayRequest } from './incident-report';
import { replayIncident } from './replay-incident';
import { HistoryBuilder } from './testing/history-builder';
import { InMemoryEventStore } from './testing/in-memory-event-store';

const T = (minute: number, ms = 0): number => Date.UTC(2024, 1, 16, 9, minute, 0, ms);
const iso = (minute: number, ms = 0): string => new Date(T(minute, ms)).toISOString();

async function replay(
  history: HistoryBuilder,
  request: ReplayRequest = {},
  order?: number[],
): Promise<IncidentReport> {
  const store = new InMemoryEventStore();
  await history.appendTo(store, order);
  return replayIncident(store, request);
}

type Expected = { reason: DenialReason; ownerId: string | null } | 'authorized';

/** One camera's history, shared by the reason table below. */
function cameraHistory(): HistoryBuilder {
  return new HistoryBuilder()
    .register('cam', 'alice', T(0))
    .grant('cam', 'bob', T(10))
    .revoke('cam', 'bob', T(20))
    .grant('cam', 'carol', T(10), T(30))
    .grant('cam', 'dave', T(15))
    .transfer('cam', 'alice', 'erin', T(40))
    .grant('cam', 'frank', T(45))
    .transfer('cam', 'erin', 'gina', T(50), true)
    .decommission('cam', T(60));
}

describe('replayIncident: §2 reasons, given one camera’s history', () => {
  const table: Array<[string, string, string, number, Expected]> = [
    // [case, viewer, device, at, then]
    ['a stranger: never granted', 'mallory', 'cam', T(5), { reason: 'never_granted', ownerId: 'alice' }],
    ['the owner', 'alice', 'cam', T(5), 'authorized'],
    ['a viewer at the grant instant', 'bob', 'cam', T(10), 'authorized'],
    [
      'a viewer just before the grant',
      'bob',
      'cam',
      T(10) - 1,
      { reason: 'never_granted', ownerId: 'alice' },
    ],
    ['a viewer one ms before the revoke', 'bob', 'cam', T(20) - 1, 'authorized'],
    ['a viewer at the revoke instant', 'bob', 'cam', T(20), { reason: 'revoked', ownerId: 'alice' }],
    ['a viewer after the revoke', 'bob', 'cam', T(25), { reason: 'revoked', ownerId: 'alice' }],
    ['a viewer one ms before expiry', 'carol', 'cam', T(30) - 1, 'authorized'],
    ['a viewer at the expiry instant', 'carol', 'cam', T(30), { reason: 'expired', ownerId: 'alice' }],
    [
      'a viewer dropped by a transfer (no keepViewers)',
      'dave',
      'cam',
      T(40),
      { reason: 'transferred', ownerId: 'erin' },
    ],
    [
      'the old owner at the transfer instant',
      'alice',
      'cam',
      T(40),
      { reason: 'transferred', ownerId: 'erin' },
    ],
    ['the old owner just before the transfer', 'alice', 'cam', T(40) - 1, 'authorized'],
    ['the new owner at the transfer instant', 'erin', 'cam', T(40), 'authorized'],
    ['a viewer kept by a keepViewers transfer', 'frank', 'cam', T(55), 'authorized'],
    [
      'the owner before a keepViewers transfer',
      'erin',
      'cam',
      T(55),
      { reason: 'transferred', ownerId: 'gina' },
    ],
    [
      'the owner at the decommission instant',
      'gina',
      'cam',
      T(60),
      { reason: 'decommissioned', ownerId: null },
    ],
    ['anyone after decommission', 'frank', 'cam', T(70), { reason: 'decommissioned', ownerId: null }],
    [
      'before the device was registered',
      'alice',
      'cam',
      T(0) - 1,
      { reason: 'unknown_device', ownerId: null },
    ],
    ['a device never registered', 'alice', 'ghost', T(5), { reason: 'unknown_device', ownerId: null }],
  ];

  it.each(table)('%s', async (_case, viewerId, deviceId, at, expected) => {
    // given
    const history = cameraHistory();
    const eventId = history.view(viewerId, deviceId, at);
    // when
    const report = await replay(history);
    // then
    expect(report.summary.viewsExamined).toBe(1);
    if (expected === 'authorized') {
      expect(report.exposures).toEqual([]);
    } else {
      expect(report.exposures).toEqual([
        {
          eventId,
          occurredAt: new Date(at).toISOString(),
          viewerId,
          deviceId,
          ownerId: expected.ownerId,
          mediaId: `m-${deviceId}-${at}`,
          mediaType: 'thumbnail',
          action: 'delivered',
          reason: expected.reason,
        },
      ]);
    }
  });
});

describe('replayIncident: ingest order does not matter, business time does', () => {
  it('judges a late view (ingested after the revoke) by its own occurredAt', async () => {
    const history = new HistoryBuilder().register('cam', 'alice', T(0)).grant('cam', 'bob', T(10));
    history.revoke('cam', 'bob', T(20)).grant('cam', 'bob', T(30));
    const inside = history.view('bob', 'cam', T(15)); // shipped late from a CDN log
    const gap = history.view('bob', 'cam', T(25));
    const report = await replay(history);
    expect(report.summary.viewsExamined).toBe(2);
    expect(report.exposures.map((e) => [e.eventId, e.reason])).toEqual([[gap, 'revoked']]);
    expect(report.exposures.map((e) => e.eventId)).not.toContain(inside);
  });

  it('authorizes a view ingested before the grant it depends on', async () => {
    const history = new HistoryBuilder();
    const view = history.view('bob', 'cam', T(15));
    const early = history.view('bob', 'cam', T(5));
    history.register('cam', 'alice', T(0)).grant('cam', 'bob', T(10));
    const report = await replay(history);
    expect(report.exposures.map((e) => [e.eventId, e.reason])).toEqual([[early, 'never_granted']]);
    expect(report.exposures.map((e) => e.eventId)).not.toContain(view);
  });

  it('gives the same exposures and digest whatever order the log was ingested in', async () => {
    const history = cameraHistory();
    for (const [viewer, minute] of [
      ['mallory', 5],
      ['bob', 15],
      ['bob', 25],
      ['carol', 35],
      ['dave', 42],
      ['frank', 70],
      ['gina', 55],
    ] as const) {
      history.view(viewer, 'cam', T(minute, 7));
    }
    const ownership = history.items
      .map((item, i) => (item.stream.startsWith('device-') ? i : -1))
      .filter((i) => i >= 0);
    const views = history.items
      .map((item, i) => (item.stream.startsWith('device-') ? -1 : i))
      .filter((i) => i >= 0);
    // views first (late ownership), interleaved, and reversed views: ownership keeps its own order per device
    const orders = [
      undefined,
      [...views, ...ownership],
      [
        ...views.slice(0, 3).reverse(),
        ...ownership.slice(0, 4),
        ...views.slice(3).reverse(),
        ...ownership.slice(4),
      ],
    ];
    const reports = await Promise.all(orders.map((order) => replay(history, {}, order)));
    expect(reports[0].exposures.length).toBeGreaterThan(3);
    for (const report of reports.slice(1)) {
      expect(report.exposures).toEqual(reports[0].exposures);
      expect(report.summary).toEqual(reports[0].summary);
      expect(report.digest).toBe(reports[0].digest);
    }
  });
});

describe('replayIncident: window and filters', () => {
  function history(): { history: HistoryBuilder; ids: Record<string, string> } {
    const h = new HistoryBuilder().register('cam-1', 'alice', T(0)).register('cam-2', 'bob', T(0));
    const ids = {
      beforeWindow: h.view('mallory', 'cam-1', T(9, 999)),
      atFrom: h.view('mallory', 'cam-1', T(10)),
      inside: h.view('trudy', 'cam-2', T(15)),
      ownView: h.view('alice', 'cam-1', T(16)),
      beforeTo: h.view('trudy', 'cam-1', T(20) - 1),
      atTo: h.view('mallory', 'cam-2', T(20)),
    };
    return { history: h, ids };
  }

  it('examines views in [from, to): from inclusive, to exclusive', async () => {
    const { history: h, ids } = history();
    const report = await replay(h, { from: iso(10), to: iso(20) });
    expect(report.window).toEqual({ from: iso(10), to: iso(20) });
    expect(report.summary.viewsExamined).toBe(4);
    expect(report.exposures.map((e) => e.eventId)).toEqual([ids.atFrom, ids.inside, ids.beforeTo]);
  });

  it('treats an omitted bound as open', async () => {
    const { history: h, ids } = history();
    expect((await replay(h, { to: iso(10) })).exposures.map((e) => e.eventId)).toEqual([ids.beforeWindow]);
    const open = await replay(h, { from: iso(20) });
    expect(open.window).toEqual({ from: iso(20), to: null });
    expect(open.exposures.map((e) => e.eventId)).toEqual([ids.atTo]);
  });

  it('normalizes the window to canonical UTC with milliseconds', async () => {
    const { history: h } = history();
    const report = await replay(h, { from: '2024-02-16T10:10:00+01:00', to: '2024-02-16T09:20:00Z' });
    expect(report.window).toEqual({ from: iso(10), to: iso(20) });
  });

  it('narrows to devices and viewers', async () => {
    const { history: h, ids } = history();
    expect((await replay(h, { deviceIds: ['cam-2'] })).exposures.map((e) => e.eventId)).toEqual([
      ids.inside,
      ids.atTo,
    ]);
    const byViewer = await replay(h, { viewerIds: ['trudy'] });
    expect(byViewer.summary.viewsExamined).toBe(2);
    expect(byViewer.exposures.map((e) => e.eventId)).toEqual([ids.inside, ids.beforeTo]);
    const both = await replay(h, { deviceIds: ['cam-1'], viewerIds: ['trudy', 'alice'] });
    expect(both.summary.viewsExamined).toBe(2);
    expect(both.exposures.map((e) => e.eventId)).toEqual([ids.beforeTo]);
  });

  it('does not count refusals (MediaAccessDenied) as views or exposures', async () => {
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    h.denied('mallory', 'cam', T(5));
    const report = await replay(h);
    expect(report.summary.viewsExamined).toBe(0);
    expect(report.exposures).toEqual([]);
  });
});

describe('replayIncident: the summary figures', () => {
  it('counts viewers, openers, video players, owners and devices', async () => {
    const h = new HistoryBuilder()
      .register('cam-1', 'alice', T(0))
      .register('cam-2', 'alice', T(0))
      .register('cam-3', 'bob', T(0))
      .register('cam-4', 'carol', T(0))
      .decommission('cam-4', T(1));
    h.view('v1', 'cam-1', T(10), { action: 'delivered' });
    h.view('v1', 'cam-2', T(11), { action: 'opened' });
    h.view('v2', 'cam-3', T(12), { mediaType: 'thumbnail', action: 'played' });
    h.view('v3', 'cam-3', T(13), { mediaType: 'event_video', action: 'played' });
    h.view('v4', 'cam-1', T(14), { mediaType: 'live_stream', action: 'played' });
    h.view('v5', 'cam-4', T(15), { mediaType: 'event_video', action: 'opened' });
    h.view('v6', 'ghost', T(16), { action: 'delivered' });
    h.view('alice', 'cam-1', T(17), { mediaType: 'event_video', action: 'played' });
    const report = await replay(h);
    expect(report.summary).toEqual({
      viewsExamined: 8,
      exposures: 7,
      viewersExposed: 6,
      viewersOpened: 5, // v1 (opened), v2, v3, v4 (played), v5 (opened)
      viewersPlayedVideo: 2, // v3 (event_video), v4 (live_stream); v2 played a thumbnail
      ownersAffected: 2, // alice, bob; cam-4 was decommissioned and ghost unregistered: no owner
      devicesAffected: 5,
      firstExposureAt: iso(10),
      lastExposureAt: iso(16),
    });
  });

  it('reports nulls and zeros when nothing was exposed', async () => {
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    h.view('alice', 'cam', T(1));
    const report = await replay(h);
    expect(report.summary).toEqual({
      viewsExamined: 1,
      exposures: 0,
      viewersExposed: 0,
      viewersOpened: 0,
      viewersPlayedVideo: 0,
      ownersAffected: 0,
      devicesAffected: 0,
      firstExposureAt: null,
      lastExposureAt: null,
    });
  });

  it('sorts exposures by occurredAt, then log position', async () => {
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    const late = h.view('x', 'cam', T(30));
    const tieFirst = h.view('y', 'cam', T(20));
    const early = h.view('z', 'cam', T(10));
    const tieSecond = h.view('w', 'cam', T(20));
    const report = await replay(h);
    expect(report.exposures.map((e) => e.eventId)).toEqual([early, tieFirst, tieSecond, late]);
  });
});

describe('replayIncident: log range, head and paging', () => {
  it('reads the whole log up to the head captured first', async () => {
    const store = new InMemoryEventStore();
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    h.view('mallory', 'cam', T(5));
    await h.appendTo(store);
    const head = await store.headPosition();
    const report = await replayIncident(store, {});
    expect(report.logRange).toEqual({ from: 'lt1.s', to: positionToToken(head) });
  });

  it('ignores events appended after the head was captured', async () => {
    const store = new InMemoryEventStore();
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    h.view('mallory', 'cam', T(5));
    await h.appendTo(store);
    const later = new HistoryBuilder(100);
    later.revoke('cam', 'nobody', T(1));
    later.view('trudy', 'cam', T(6));
    // A writer sneaks in while the replay reads its first page.
    const racing: EventStore = Object.create(store) as EventStore;
    let appended = false;
    racing.readAll = async (options: ReadAllOptions) => {
      if (!appended) {
        appended = true;
        await later.appendTo(store);
      }
      return store.readAll(options);
    };
    const report = await replayIncident(racing, {}, { pageSize: 1 });
    expect(report.summary.viewsExamined).toBe(1);
    expect(report.exposures.map((e) => e.viewerId)).toEqual(['mallory']);
  });

  it('gives the same report whatever the page size, and reports progress', async () => {
    const h = cameraHistory();
    for (let i = 0; i < 50; i++) h.view(`u${i % 7}`, 'cam', T(i + 1, i));
    const store = new InMemoryEventStore();
    await h.appendTo(store);
    const progress: number[] = [];
    const small = await replayIncident(store, {}, { pageSize: 3, onProgress: (n) => progress.push(n) });
    const large = await replayIncident(store, {});
    expect(small).toEqual(large);
    expect(progress[progress.length - 1]).toBe(h.items.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('reads nothing from an empty log', async () => {
    const store = new InMemoryEventStore();
    const report = await replayIncident(store, {});
    expect(report.logRange).toEqual({ from: 'lt1.s', to: 'lt1.s' });
    expect(report.summary.viewsExamined).toBe(0);
    expect(store.readAllCalls).toBe(0);
  });
});

describe('replayIncident: the digest', () => {
  function incident(): HistoryBuilder {
    const h = cameraHistory();
    h.view('mallory', 'cam', T(5), { action: 'opened' });
    h.view('bob', 'cam', T(25), { mediaType: 'event_video', action: 'played' });
    return h;
  }

  it('is sha256 over the canonical JSON of window, summary and exposures', async () => {
    const report = await replay(incident(), { from: iso(0) });
    const expected = createHash('sha256')
      .update(canonicalJson({ window: report.window, summary: report.summary, exposures: report.exposures }))
      .digest('hex');
    expect(report.digest).toBe(`sha256:${expected}`);
  });

  it('is the same on every run over the same log', async () => {
    const store = new InMemoryEventStore();
    await incident().appendTo(store);
    const first = await replayIncident(store, {});
    const second = await replayIncident(store, {});
    expect(second.digest).toBe(first.digest);
  });

  it('changes with the window', async () => {
    const whole = await replay(incident());
    const bounded = await replay(incident(), { from: iso(0), to: iso(90) });
    expect(bounded.exposures).toEqual(whole.exposures);
    expect(bounded.digest).not.toBe(whole.digest);
  });
});

describe('replayIncident: request validation', () => {
  const store = new InMemoryEventStore();
  const cases: Array<[string, unknown, string]> = [
    ['from is not RFC 3339', { from: '2024-02-16 09:00' }, 'from'],
    ['to is not a date at all', { to: 'yesterday' }, 'to'],
    ['from equals to', { from: iso(1), to: iso(1) }, 'to'],
    ['from after to', { from: iso(2), to: iso(1) }, 'to'],
    ['deviceIds is not an array', { deviceIds: 'cam' }, 'deviceIds'],
    ['deviceIds is empty', { deviceIds: [] }, 'deviceIds'],
    ['a device id has a slash', { deviceIds: ['cam', 'a/b'] }, 'deviceIds[1]'],
    ['a viewer id starts with a dot', { viewerIds: ['.x'] }, 'viewerIds[0]'],
    ['too many viewer ids', { viewerIds: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, 'viewerIds'],
    ['an unknown field', { from: iso(1), since: iso(0) }, 'since'],
  ];

  it.each(cases)('rejects a request where %s', async (_case, request, field) => {
    const failure = replayIncident(store, request as ReplayRequest);
    await expect(failure).rejects.toBeInstanceOf(InvalidInputError);
    await expect(failure).rejects.toMatchObject({ field });
  });

  it('accepts 10,000 ids', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    await expect(replayIncident(store, { viewerIds: ids })).resolves.toMatchObject({ exposures: [] });
  });
});
