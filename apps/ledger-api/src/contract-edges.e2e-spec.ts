import { comparePositions } from '@ledger/event-store';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../test/support/ledger-test-app';

/**
 * The edges of the contract a hostile or merely unusual client reaches: `null` where a string goes, times at the
 * ends of 0000–9999 and leap seconds, duplicate and reserved JSON keys, percent-encoded paths under an
 * Idempotency-Key. Every refusal is a 400 naming the field and appends nothing.
 */
describe('contract edges (end to end)', () => {
  let ledger: LedgerTestApp;
  let id: (name: string) => string;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });
  beforeEach(() => {
    id = uniqueIds('edges');
  });

  async function refused(path: string, body: unknown, message: RegExp): Promise<void> {
    const before = await ledger.head();
    const response = await ledger.http('POST', path, body);
    expect({ path, status: response.status, message: response.body.message }).toEqual({
      path,
      status: 400,
      message: expect.stringMatching(message),
    });
    expect(comparePositions(await ledger.head(), before)).toBe(0);
  }

  let devices = 0;
  async function registered(at = '2024-02-16T09:00:00.000Z'): Promise<string> {
    const cam = id(`cam${++devices}`);
    const response = await ledger.http('POST', '/v1/devices', {
      deviceId: cam,
      ownerId: id('owner'),
      actor: 'svc:p',
      occurredAt: at,
    });
    expect(response.status).toBe(201);
    return cam;
  }

  const view = (cam: string, extra: object = {}) => ({
    viewerId: 'bob',
    deviceId: cam,
    mediaId: 'm-1',
    mediaType: 'thumbnail',
    action: 'delivered',
    occurredAt: '2024-02-16T10:00:00.000Z',
    ...extra,
  });

  it('refuses null where a string is expected, naming the field (as the import does)', async () => {
    const cam = await registered();
    await refused(
      '/v1/devices',
      { deviceId: id('c'), ownerId: 'o', actor: 'a', model: null },
      /^model must be a string/,
    );
    await refused(
      `/v1/devices/${cam}/grants`,
      { userId: 'bob', actor: 'a', reason: null },
      /^reason must be a string/,
    );
    await refused(
      `/v1/devices/${cam}/grants`,
      { userId: 'bob', actor: 'a', expiresAt: null },
      /^expiresAt must be an RFC 3339/,
    );
    await refused(
      `/v1/devices/${cam}/grants`,
      { userId: 'bob', actor: 'a', occurredAt: null },
      /^occurredAt must be an RFC 3339/,
    );
    await refused(
      `/v1/devices/${cam}/revocations`,
      { userId: 'bob', actor: 'a', reason: null },
      /^reason must be a string/,
    );
    await refused(
      `/v1/devices/${cam}/transfers`,
      { newOwnerId: 'n', actor: 'a', keepViewers: null },
      /^keepViewers must be true or false/,
    );
    await refused(
      `/v1/devices/${cam}/decommission`,
      { actor: 'a', reason: null },
      /^reason must be a string/,
    );
    await refused('/v1/views', view(cam, { servedBy: null }), /^servedBy must be a string/);
    await refused('/v1/views', view(cam, { decisionToken: null }), /^decisionToken is not a token/);
    await refused(
      '/v1/views/batch',
      { views: [view(cam), view(cam, { servedBy: null })] },
      /^views\.1\.servedBy must be a string/,
    );
    await refused(
      '/v1/media/authorize',
      {
        viewerId: 'bob',
        deviceId: cam,
        mediaId: 'm',
        mediaType: 'thumbnail',
        action: 'delivered',
        servedBy: null,
      },
      /^servedBy must be a string/,
    );
    await refused('/v1/check', { userId: 'bob', deviceId: cam, at: null }, /^at must be an RFC 3339/);
    // Free text follows one rule everywhere: 1–N characters, no control characters but tab, CR, LF.
    await refused(
      `/v1/devices/${cam}/grants`,
      { userId: 'bob', actor: 'a', reason: '' },
      /^reason must be 1-1024 characters/,
    );
    await refused(
      `/v1/devices/${cam}/grants`,
      { userId: 'bob', actor: 'a', reason: 'a\u0007b' },
      /^reason must not contain control characters/,
    );
  });

  it('accepts every RFC 3339 time whose instant is inside 0000–9999, leap seconds and 0000-02-29 included, and serves back only what it accepts', async () => {
    const cam = await registered('0000-02-29T12:00:00.000Z');
    const access = await ledger.http('GET', `/v1/devices/${cam}/access`);
    expect(access.body.owner.since).toBe('0000-02-29T12:00:00.000Z');
    // What it serves, it accepts back.
    const check = await ledger.http('POST', '/v1/check', {
      userId: access.body.owner.userId,
      deviceId: cam,
      at: access.body.owner.since,
    });
    expect(check.body).toMatchObject({ allowed: true, role: 'owner' });

    // A leap second is the last millisecond before it: a view in it is judged before the next second's revoke.
    const leap = await registered('2016-12-31T00:00:00.000Z');
    expect(
      (
        await ledger.http('POST', `/v1/devices/${leap}/grants`, {
          userId: 'bob',
          actor: 'a',
          occurredAt: '2016-12-31T12:00:00Z',
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await ledger.http('POST', `/v1/devices/${leap}/revocations`, {
          userId: 'bob',
          actor: 'a',
          occurredAt: '2017-01-01T00:00:00.000Z',
        })
      ).status,
    ).toBe(201);
    const recorded = await ledger.http(
      'POST',
      '/v1/views',
      view(leap, { occurredAt: '2016-12-31T23:59:60.500Z' }),
    );
    expect(recorded.status).toBe(201);
    const report = await ledger.http('POST', '/v1/audit/replay', { deviceIds: [leap] });
    expect(report.body.summary).toMatchObject({ viewsExamined: 1, exposures: 0 });
    const atLeap = await ledger.http('POST', '/v1/check', {
      userId: 'bob',
      deviceId: leap,
      at: '2016-12-31T23:59:60Z',
    });
    expect(atLeap.body).toMatchObject({ allowed: true });

    await refused(
      '/v1/views',
      view(cam, { occurredAt: '0000-01-01T00:30:00.000+01:00' }),
      /^occurredAt must be an RFC 3339/,
    );
    await refused(
      `/v1/devices/${leap}/grants`,
      { userId: 'carol', actor: 'a', expiresAt: '9999-12-31T23:30:00.000-01:00' },
      /^expiresAt must be an RFC 3339/,
    );
    await refused(
      '/v1/views',
      view(cam, { occurredAt: '2016-12-31T12:00:60.000Z' }),
      /^occurredAt must be an RFC 3339/,
    );
    await refused(
      '/v1/check',
      { userId: 'bob', deviceId: cam, at: '+010000-01-01T00:00:00.000Z' },
      /^at must be an RFC 3339/,
    );
  });

  it('judges a coarse stamp as the instant it names at millisecond precision: 12:00:00Z is before a change at 12:00:00.004Z', async () => {
    const cam = id('coarse');
    const owner = id('owner');
    const viewer = id('viewer');
    const ok = (response: { status: number }) => expect(response.status).toBe(201);
    ok(
      await ledger.http('POST', '/v1/devices', {
        deviceId: cam,
        ownerId: owner,
        actor: 'a',
        occurredAt: '2024-02-16T12:00:00.004Z',
      }),
    );
    ok(
      await ledger.http('POST', `/v1/devices/${cam}/grants`, {
        userId: viewer,
        actor: owner,
        occurredAt: '2024-02-16T12:00:01.250Z',
      }),
    );
    ok(
      await ledger.http('POST', `/v1/devices/${cam}/revocations`, {
        userId: viewer,
        actor: owner,
        occurredAt: '2024-02-16T12:00:02.000Z',
      }),
    );
    const seen = (viewerId: string, occurredAt: string, mediaId: string) =>
      ledger.http('POST', '/v1/views', { ...view(cam, { occurredAt, mediaId }), viewerId });
    ok(await seen(owner, '2024-02-16T12:00:00Z', 'owner-whole-second')); // = .000, before the registration
    ok(await seen(owner, '2024-02-16T12:00:00.004Z', 'owner-at-registration'));
    ok(await seen(viewer, '2024-02-16T12:00:01Z', 'viewer-whole-second')); // = .000, before the grant
    ok(await seen(viewer, '2024-02-16T12:00:01.2509Z', 'viewer-sub-ms')); // truncated to .250: at the grant
    ok(await seen(viewer, '2024-02-16T12:00:02Z', 'viewer-at-revoke')); // = .000: at the revoke instant
    const report = await ledger.http('POST', '/v1/audit/replay', { deviceIds: [cam] });
    expect(report.body.summary).toMatchObject({ viewsExamined: 5, exposures: 3 });
    expect(
      report.body.exposures.map(
        (e: { mediaId: string; reason: string; ownerId: string | null; occurredAt: string }) => [
          e.mediaId,
          e.occurredAt,
          e.reason,
          e.ownerId,
        ],
      ),
    ).toEqual([
      ['owner-whole-second', '2024-02-16T12:00:00.000Z', 'unknown_device', null],
      ['viewer-whole-second', '2024-02-16T12:00:01.000Z', 'never_granted', owner],
      ['viewer-at-revoke', '2024-02-16T12:00:02.000Z', 'revoked', owner],
    ]);
    const check = (userId: string, at: string) =>
      ledger.http('POST', '/v1/check', { userId, deviceId: cam, at });
    expect((await check(owner, '2024-02-16T12:00:00Z')).body.allowed).toBe(false);
    expect((await check(owner, '2024-02-16T12:00:00.004Z')).body.allowed).toBe(true);
  });

  it('refuses a body with a duplicate key, naming it, and one with __proto__, naming it', async () => {
    const cam = await registered();
    const owner = id('o');
    for (const [text, message] of [
      [
        `{"deviceId":"${id('d')}","ownerId":"${owner}","ownerId":"mallory","actor":"a"}`,
        /^property ownerId appears more than once/,
      ],
      [
        `{"deviceId":"${id('d')}","ownerId":"${owner}","\\u006fwnerId":"mallory","actor":"a"}`,
        /^property ownerId appears more than once/,
      ],
      [
        JSON.stringify({ views: [view(cam)] }).replace(
          '"action":',
          '"occurredAt":"2024-02-16T11:00:00.000Z","action":',
        ),
        /^property views\.0\.occurredAt appears more than once/,
      ],
      [
        `{"__proto__":{"admin":true},"deviceId":"${id('d')}","ownerId":"o","actor":"a"}`,
        /^property __proto__ should not exist/,
      ],
      [
        `{"constructor":{"prototype":{"admin":true}},"deviceId":"${id('d')}","ownerId":"o","actor":"a"}`,
        /^property constructor should not exist/,
      ],
    ] as const) {
      const path = text.includes('"views"') ? '/v1/views/batch' : '/v1/devices';
      await refused(path, text, message);
    }
  });

  it('compares an Idempotency-Key retry by the decoded path: cam%2D1 is cam-1', async () => {
    const cam = await registered();
    const encoded = cam.replace(/-/g, '%2D');
    const body = { userId: 'bob', actor: 'svc:p' };
    const key = { 'idempotency-key': id('k') };
    const first = await ledger.http('POST', `/v1/devices/${encoded}/grants`, body, key);
    expect(first.status).toBe(201);
    const retry = await ledger.http('POST', `/v1/devices/${cam}/grants`, body, key);
    expect(retry).toMatchObject({ status: 201, body: first.body });
    // Another device under the same key is still another request.
    const other = await registered();
    expect((await ledger.http('POST', `/v1/devices/${other}/grants`, body, key)).status).toBe(409);
  });
});
