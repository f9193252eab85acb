import { comparePositions } from '@ledger/event-store';
import { rebuildFromLog } from '@ledger/projections';
import {
  startLedger,
  tempDataDir,
  uniqueIds,
  type LedgerTestApp,
} from '../../../test/support/ledger-test-app';

const iso = (ms: number) => new Date(ms).toISOString();

describe('ledger HTTP API (end to end)', () => {
  let ledger: LedgerTestApp;
  let id: (name: string) => string;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });
  beforeEach(() => {
    id = uniqueIds(
      expect
        .getState()
        .currentTestName?.replace(/[^A-Za-z0-9]/g, '')
        .slice(0, 20) || 't',
    );
  });

  /** Asserts the request was refused with `status` and appended nothing. */
  async function refused(
    method: string,
    path: string,
    body: unknown,
    status: number,
    message?: RegExp,
    headers?: Record<string, string>,
  ) {
    const before = await ledger.head();
    const response = await ledger.http(method, path, body, headers);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({
      statusCode: status,
      error: expect.any(String),
      message: expect.any(String),
    });
    if (message) expect(response.body.message).toMatch(message);
    expect(comparePositions(await ledger.head(), before)).toBe(0);
    return response;
  }

  it('walks a device through register, grant, revoke, transfer and decommission', async () => {
    const cam = id('cam');
    const [alice, bob, carol] = [id('alice'), id('bob'), id('carol')];
    const registered = await ledger.http('POST', '/v1/devices', {
      deviceId: cam,
      ownerId: alice,
      actor: 'svc:provisioning',
      model: 'v3',
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toEqual({ deviceId: cam, token: expect.stringMatching(/^lt1\./) });

    const granted = await ledger.http('POST', `/v1/devices/${cam}/grants`, { userId: bob, actor: alice });
    expect(granted.status).toBe(201);
    const access = await ledger.http('GET', `/v1/devices/${cam}/access?atLeast=${granted.body.token}`);
    expect(access.status).toBe(200);
    expect(access.body).toMatchObject({
      deviceId: cam,
      owner: { userId: alice, since: expect.stringMatching(/Z$/) },
      viewers: [{ userId: bob, role: 'viewer', expiresAt: null }],
    });

    const revoked = await ledger.http('POST', `/v1/devices/${cam}/revocations`, {
      userId: bob,
      actor: alice,
      reason: 'moved out',
    });
    expect(revoked.status).toBe(201);
    const check = await ledger.client.check({ userId: bob, deviceId: cam, atLeast: revoked.body.token });
    expect(check).toMatchObject({ allowed: false, role: null });

    const transferred = await ledger.http('POST', `/v1/devices/${cam}/transfers`, {
      newOwnerId: carol,
      actor: 'support:alice',
    });
    expect(transferred.status).toBe(201);
    const carolDevices = await ledger.client.userDevices(carol, transferred.body.token);
    expect(carolDevices.devices).toEqual([
      { deviceId: cam, role: 'owner', since: expect.any(String), expiresAt: null },
    ]);
    expect(
      (await ledger.client.check({ userId: alice, deviceId: cam, atLeast: transferred.body.token })).allowed,
    ).toBe(false);

    const decommissioned = await ledger.http('POST', `/v1/devices/${cam}/decommission`, { actor: carol });
    expect(decommissioned.status).toBe(201);
    const after = await ledger.client.deviceAccess(cam, decommissioned.body.token);
    expect(after).toMatchObject({ owner: null, viewers: [] });
    await refused('POST', `/v1/devices/${cam}/grants`, { userId: bob, actor: carol }, 409, /decommissioned/);
  });

  it('refuses rule violations with 409 and appends nothing', async () => {
    const cam = id('cam');
    const alice = id('alice');
    const t0 = Date.now() - 60_000;
    await ledger.client.registerDevice({
      deviceId: cam,
      ownerId: alice,
      actor: 'svc:p',
      occurredAt: iso(t0),
    });
    await refused(
      'POST',
      '/v1/devices',
      { deviceId: cam, ownerId: id('x'), actor: 'svc:p' },
      409,
      /already registered/,
    );
    await refused('POST', `/v1/devices/${cam}/grants`, { userId: alice, actor: alice }, 409, /owner/);
    await refused('POST', `/v1/devices/${cam}/revocations`, { userId: alice, actor: alice }, 409, /owner/);
    await refused(
      'POST',
      `/v1/devices/${cam}/revocations`,
      { userId: id('nobody'), actor: alice },
      409,
      /no active access/,
    );
    await refused(
      'POST',
      `/v1/devices/${cam}/grants`,
      { userId: id('bob'), actor: alice, occurredAt: iso(t0 - 1) },
      409,
      /before/,
    );
    await refused(
      'POST',
      `/v1/devices/${cam}/transfers`,
      { newOwnerId: alice, actor: alice },
      409,
      /already owns/,
    );
  });

  it('answers 404 for an unknown device', async () => {
    await refused(
      'POST',
      `/v1/devices/${id('ghost')}/grants`,
      { userId: id('bob'), actor: 'a' },
      404,
      /not registered/,
    );
    const response = await ledger.http('GET', `/v1/devices/${id('ghost')}/access`);
    expect(response.status).toBe(404);
  });

  it.each([
    ['an unknown field', { deviceId: 'c1', ownerId: 'u', actor: 'a', colour: 'red' }, /colour/],
    ['a bad id', { deviceId: '-c1', ownerId: 'u', actor: 'a' }, /deviceId/],
    ['an id over 128 characters', { deviceId: 'c'.repeat(129), ownerId: 'u', actor: 'a' }, /deviceId/],
    ['a missing owner', { deviceId: 'c1', actor: 'a' }, /ownerId/],
    ['a number for an id', { deviceId: 7, ownerId: 'u', actor: 'a' }, /deviceId/],
    [
      'a time that is not RFC 3339',
      { deviceId: 'c1', ownerId: 'u', actor: 'a', occurredAt: '16/02/2024' },
      /occurredAt/,
    ],
    [
      'a time more than 5 minutes ahead',
      { deviceId: 'c1', ownerId: 'u', actor: 'a', occurredAt: iso(Date.now() + 6 * 60_000) },
      /occurredAt/,
    ],
    ['an array body', [1, 2], /./],
    ['a nested object as id', { deviceId: { $gt: '' }, ownerId: 'u', actor: 'a' }, /deviceId/],
  ])('refuses %s with a 400 naming the field', async (_name, body, message) => {
    await refused('POST', '/v1/devices', body, 400, message);
  });

  it('refuses a grant whose expiry is not after its start', async () => {
    const cam = id('cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('o'), actor: 'svc:p' });
    const now = Date.now();
    await refused(
      'POST',
      `/v1/devices/${cam}/grants`,
      { userId: id('v'), actor: 'a', occurredAt: iso(now), expiresAt: iso(now) },
      400,
      /expiresAt/,
    );
  });

  it('refuses hostile JSON, bad content types and oversize bodies', async () => {
    await refused(
      'POST',
      '/v1/devices',
      '{"__proto__":{"admin":true},"deviceId":"c","ownerId":"u","actor":"a"}',
      400,
    );
    await refused('POST', '/v1/devices', '{"deviceId":', 400);
    await refused('POST', '/v1/views', 'x'.repeat(2 * 1024 * 1024 + 10), 413);
    const big = {
      views: Array.from({ length: 1001 }, () => ({
        viewerId: 'v',
        deviceId: 'd',
        mediaId: 'm',
        mediaType: 'thumbnail',
        action: 'delivered',
        occurredAt: iso(Date.now()),
      })),
    };
    await refused('POST', '/v1/views/batch', big, 400, /views/);
  });

  it('enforces API keys and scopes', async () => {
    await refused('GET', '/v1/projection', undefined, 401, /Authorization/, { authorization: '' });
    await refused('POST', '/v1/devices', { deviceId: id('c'), ownerId: 'u', actor: 'a' }, 401, /unknown/, {
      authorization: 'Bearer not-a-key-at-all',
    });
    const dataDir = tempDataDir();
    const keys = [
      { name: 'reader', key: 'reader-key-0123456789', scopes: ['ledger:read'] },
      { name: 'writer', key: 'writer-key-0123456789', scopes: ['ledger:write'] },
    ];
    const scoped = await startLedger({ dataDir, env: { LEDGER_API_KEYS: JSON.stringify(keys) } });
    try {
      const asReader = { authorization: 'Bearer reader-key-0123456789' };
      const denied = await scoped.http(
        'POST',
        '/v1/devices',
        { deviceId: id('c'), ownerId: 'u', actor: 'a' },
        asReader,
      );
      expect(denied.status).toBe(403);
      expect(denied.body.message).toMatch(/ledger:write/);
      expect((await scoped.http('GET', '/v1/projection', undefined, asReader)).status).toBe(200);
      expect((await scoped.http('GET', '/health', undefined, { authorization: '' })).status).toBe(200);
    } finally {
      await scoped.close();
    }
  });

  it('stores a batch of views all or nothing', async () => {
    const cam = id('cam');
    const view = (n: number) => ({
      viewerId: id(`v${n}`),
      deviceId: cam,
      mediaId: `m${n}`,
      mediaType: 'thumbnail',
      action: 'delivered',
      occurredAt: iso(Date.now() - n),
    });
    const bad = [view(1), view(2), { ...view(3), action: 'stared' }, view(4)];
    const response = await refused('POST', '/v1/views/batch', { views: bad }, 400, /views\.2\.action/);
    expect(response.body.message).not.toMatch(/views\.0/);
    const ok = await ledger.http('POST', '/v1/views/batch', { views: [view(1), view(2), view(3)] });
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ count: 3, token: expect.any(String) });
    const single = await ledger.http('POST', '/v1/views', view(9));
    expect(single.status).toBe(201);
    expect(single.body).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      token: expect.any(String),
    });
  });

  it('records views of unknown devices and views without permission: they are evidence', async () => {
    const response = await ledger.http('POST', '/v1/views', {
      viewerId: id('stranger'),
      deviceId: id('ghost'),
      mediaId: 'm1',
      mediaType: 'event_video',
      action: 'played',
      occurredAt: iso(Date.now()),
    });
    expect(response.status).toBe(201);
  });

  it('replays an Idempotency-Key: same body → same answer once; other body → 409', async () => {
    const cam = id('cam');
    const body = { deviceId: cam, ownerId: id('o'), actor: 'svc:p' };
    const key = { 'idempotency-key': id('key') };
    const first = await ledger.http('POST', '/v1/devices', body, key);
    const before = await ledger.head();
    const again = await ledger.http('POST', '/v1/devices', body, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(comparePositions(await ledger.head(), before)).toBe(0);
    await refused('POST', '/v1/devices', { ...body, deviceId: id('other') }, 409, /Idempotency-Key/, key);
    await refused('POST', '/v1/devices', body, 400, /Idempotency-Key/, {
      'idempotency-key': 'k'.repeat(129),
    });
    // 1e999 parses to Infinity: no canonical form to compare repeats by, so a clean 400 rather than a 500.
    await refused('POST', '/v1/devices', '{"deviceId":1e999,"ownerId":"u","actor":"a"}', 400, /body/, key);
  });

  it('judges historical checks at interval edges, to the millisecond', async () => {
    const cam = id('cam');
    const [owner, viewer] = [id('o'), id('v')];
    const t = Date.now() - 3_600_000;
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p', occurredAt: iso(t) });
    await ledger.client.grant(cam, {
      userId: viewer,
      actor: owner,
      occurredAt: iso(t + 1000),
      expiresAt: iso(t + 5000),
    });
    const last = await ledger.client.grant(cam, { userId: id('w'), actor: owner, occurredAt: iso(t + 2000) });
    const at = async (ms: number) =>
      (await ledger.client.check({ userId: viewer, deviceId: cam, at: iso(ms), atLeast: last.token }))
        .allowed;
    expect(await at(t + 999)).toBe(false);
    expect(await at(t + 1000)).toBe(true);
    expect(await at(t + 4999)).toBe(true);
    expect(await at(t + 5000)).toBe(false);
    const bulk = await ledger.client.checkBulk({
      items: [
        { userId: viewer, deviceId: cam },
        { userId: owner, deviceId: cam },
        { userId: id('z'), deviceId: cam },
      ],
      at: iso(t + 3000),
      atLeast: last.token,
    });
    expect(bulk.results.map((r) => [r.allowed, r.role])).toEqual([
      [true, 'viewer'],
      [true, 'owner'],
      [false, null],
    ]);
  });

  it('answers 400 for malformed tokens and 503 with Retry-After for a token the projection never reaches', async () => {
    await refused('POST', '/v1/check', { userId: 'u', deviceId: 'd', atLeast: 'lt1.' }, 400, /atLeast/);
    const far = await ledger.http('POST', '/v1/check', {
      userId: 'u',
      deviceId: 'd',
      atLeast: 'lt1.zzzzzzzz',
    });
    expect(far.status).toBe(503);
    expect(far.headers.get('retry-after')).toBe('1');
  });

  it('authorizes at the head of the log and records the decision', async () => {
    const cam = id('cam');
    const [owner, viewer] = [id('o'), id('v')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const media = {
      deviceId: cam,
      mediaId: 'clip-1',
      mediaType: 'event_video' as const,
      action: 'played' as const,
    };
    const denied = await ledger.http('POST', '/v1/media/authorize', { ...media, viewerId: viewer });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      allowed: false,
      reason: 'never_granted',
      token: expect.any(String),
      eventId: expect.any(String),
    });
    await ledger.client.grant(cam, { userId: viewer, actor: owner });
    const allowed = await ledger.http('POST', '/v1/media/authorize', {
      ...media,
      viewerId: viewer,
      servedBy: 'media-svc',
    });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toEqual({
      allowed: true,
      role: 'viewer',
      token: expect.any(String),
      eventId: expect.any(String),
    });
    const recorded = await ledger.store.readAll({
      from: 'end',
      direction: 'backwards',
      maxCount: 50,
      filter: { eventTypes: ['MediaViewed', 'MediaAccessDenied'] },
    });
    const mine = recorded.events.filter((e) => e.data.deviceId === cam);
    expect(mine.map((e) => e.type).sort()).toEqual(['MediaAccessDenied', 'MediaViewed']);
    expect(mine.find((e) => e.type === 'MediaViewed')?.eventId).toBe(allowed.body.eventId);
  });

  it('never lets a check or authorize carrying a revoke token allow (new-enemy problem)', async () => {
    const rounds = 60;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: rounds }, async (_unused, n) => {
        const cam = id(`cam${n}`);
        const [owner, viewer] = [id(`o${n}`), id(`v${n}`)];
        await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
        const grant = await ledger.client.grant(cam, { userId: viewer, actor: owner });
        const seen = await ledger.client.check({ userId: viewer, deviceId: cam, atLeast: grant.token });
        if (!seen.allowed) failures.push(`round ${n}: grant not visible at its token`);
        const revoke = await ledger.client.revoke(cam, { userId: viewer, actor: owner });
        const [check, authorize] = await Promise.all([
          ledger.client.check({ userId: viewer, deviceId: cam, atLeast: revoke.token }),
          ledger.client.authorize({
            viewerId: viewer,
            deviceId: cam,
            mediaId: 'm',
            mediaType: 'thumbnail',
            action: 'delivered',
          }),
        ]);
        if (check.allowed) failures.push(`round ${n}: check allowed after revoke`);
        if (authorize.allowed) failures.push(`round ${n}: authorize allowed after revoke`);
      }),
    );
    expect(failures).toEqual([]);
  });

  it('keeps the live projection digest equal to a rebuild from position zero', async () => {
    const cam = id('cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('o'), actor: 'svc:p' });
    const last = await ledger.client.grant(cam, {
      userId: id('v'),
      actor: 'a',
      expiresAt: iso(Date.now() + 60_000),
    });
    const live = await ledger.client.projection();
    await ledger.client.check({ userId: 'x', deviceId: cam, atLeast: last.token });
    const liveNow = await ledger.client.projection();
    const rebuilt = await rebuildFromLog(ledger.store, { upTo: ledger.projection.position });
    expect(rebuilt.digest).toBe(liveNow.digest);
    expect(live.token).toMatch(/^lt1\./);
  });
});

describe('ledger restarts', () => {
  it('remembers idempotency keys and serves the projection from its snapshot after a restart', async () => {
    const dataDir = tempDataDir();
    const id = uniqueIds('restart');
    const first = await startLedger({ dataDir });
    const body = { deviceId: id('cam'), ownerId: id('o'), actor: 'svc:p' };
    const key = { 'idempotency-key': id('key') };
    const created = await first.http('POST', '/v1/devices', body, key);
    await first.client.grant(body.deviceId, { userId: id('v'), actor: 'a' });
    const beforeRestart = await first.client.projection();
    await first.close();

    const second = await startLedger({ dataDir });
    try {
      const head = await second.head();
      const repeated = await second.http('POST', '/v1/devices', body, key);
      expect(repeated.status).toBe(201);
      expect(repeated.body).toEqual(created.body);
      expect(comparePositions(await second.head(), head)).toBe(0);
      expect(await second.client.projection()).toEqual(beforeRestart);
    } finally {
      await second.close();
    }
  });
});
