import { startLedger, type LedgerTestApp } from '../../../../test/support/ledger-test-app';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { MAX_BODY_BYTES } from './body-limits';

const KEYS = [
  {
    name: 'admin',
    key: 'direct-admin-key-0123456789',
    scopes: ['ledger:read', 'ledger:write', 'audit:replay', 'audit:export'],
  },
  { name: 'reader', key: 'direct-reader-key-0123456789', scopes: ['ledger:read'] },
  { name: 'writer', key: 'direct-writer-key-0123456789', scopes: ['ledger:write'] },
];
const ADMIN = `Bearer ${KEYS[0].key}`;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface Sent {
  readonly path: string;
  /** A string is sent as it is (raw JSON, broken JSON); undefined sends no body. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** What a client can see of an answer; event ids are random per service, everything else must match. */
async function answer(app: LedgerTestApp, sent: Sent) {
  const response = await fetch(`${app.baseUrl}${sent.path}`, {
    method: 'POST',
    headers: {
      authorization: ADMIN,
      'x-request-id': 'same-on-both',
      ...(sent.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...sent.headers,
    },
    body:
      sent.body === undefined
        ? undefined
        : typeof sent.body === 'string'
          ? sent.body
          : JSON.stringify(sent.body),
  });
  const headers = [...response.headers].filter(([name]) => name !== 'date');
  return { status: response.status, headers, body: (await response.text()).replace(UUID, '<uuid>') };
}

describe('hot routes served outside Nest answer exactly as through Nest', () => {
  let direct: LedgerTestApp;
  let throughNest: LedgerTestApp;
  let guard: jest.SpyInstance;
  // Both services write the same story and must answer with the same tokens, so each needs a log of its own:
  // the embedded store in its own data dir, also under `npm run test:esdb` (whose shared server both would
  // write to). What is compared is the HTTP layer, which is the same whatever the store.
  const env = {
    LEDGER_API_KEYS: JSON.stringify(KEYS),
    LEDGER_CONSISTENCY_WAIT_MS: '50',
    EVENTSTORE_CONNECTION_STRING: undefined,
  };

  beforeAll(async () => {
    guard = jest.spyOn(ApiKeyGuard.prototype, 'canActivate');
    direct = await startLedger({ env });
    throughNest = await startLedger({ env, app: { hotRoutesOutsideNest: false } });
    for (const app of [direct, throughNest]) {
      for (const deviceId of ['cam-1', 'cam-2']) {
        const created = await app.http('POST', '/v1/devices', { deviceId, ownerId: 'alice', actor: 'svc:p' });
        expect(created.status).toBe(201);
      }
      const granted = await app.http('POST', '/v1/devices/cam-2/grants', {
        userId: 'bob',
        actor: 'alice',
      });
      expect(granted.status).toBe(201);
    }
  });
  afterAll(async () => {
    guard.mockRestore();
    await direct?.close();
    await throughNest?.close();
  });

  async function same(sent: Sent) {
    const a = await answer(direct, sent);
    const b = await answer(throughNest, sent);
    expect({ sent, ...a }).toEqual({ sent, ...b });
    return a;
  }

  const authorizeBody = {
    viewerId: 'alice',
    deviceId: 'cam-1',
    mediaId: 'evt-1',
    mediaType: 'thumbnail',
    action: 'delivered',
    servedBy: 'media-svc-1',
  };

  const cases: Sent[] = [];
  for (const path of ['/v1/check', '/v1/check/bulk', '/v1/media/authorize']) {
    cases.push(
      { path, body: {}, headers: { authorization: '' } },
      { path, body: {}, headers: { authorization: 'Bearer not-a-known-key-at-all' } },
      { path, body: {}, headers: { authorization: 'Basic abc' } },
      {
        path,
        body: {},
        headers: { authorization: `Bearer ${path.includes('check') ? KEYS[2].key : KEYS[1].key}` },
      },
      { path },
      { path, body: 'null' },
      { path, body: '[]' },
      { path, body: '{"userId": "a",' },
      { path, body: '{"__proto__": {"x": 1}}' },
      { path, body: '{"userId": "a", "userId": "b"}' },
      { path, body: { unknown: 1 } },
      { path, body: { userId: 5, deviceId: null, viewerId: [], items: 'x' } },
      { path, body: 'plain text', headers: { 'content-type': 'text/plain' } },
      { path, body: `{"pad": "${'x'.repeat(MAX_BODY_BYTES)}"}` },
    );
  }
  cases.push(
    { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1' } },
    { path: '/v1/check', body: { userId: 'bob', deviceId: 'cam-2' } },
    { path: '/v1/check', body: { userId: 'carol', deviceId: 'cam-1' } },
    { path: '/v1/check', body: { userId: 'alice', deviceId: 'nope' } },
    { path: '/v1/check', body: { userId: 'alice' } },
    { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1', at: 'yesterday' } },
    { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1', at: '2020-01-01T00:00:00Z' } },
    { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1', atLeast: 'garbage' } },
    { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1', atLeast: 'lt1.zzzz' } },
    { path: '/v1/check', body: { userId: 'a'.repeat(300), deviceId: 'cam 1', extra: true } },
    {
      path: '/v1/check/bulk',
      body: {
        items: [
          { userId: 'alice', deviceId: 'cam-1' },
          { userId: 'bob', deviceId: 'cam-2' },
          { userId: 'carol', deviceId: 'cam-2' },
        ],
      },
    },
    { path: '/v1/check/bulk', body: { items: [] } },
    {
      path: '/v1/check/bulk',
      body: { items: [{ userId: 'alice' }, { userId: 'a', deviceId: 'b', more: 1 }] },
    },
    { path: '/v1/check/bulk', body: { items: Array(1001).fill({ userId: 'alice', deviceId: 'cam-1' }) } },
    {
      path: '/v1/check/bulk',
      body: { items: [{ userId: 'alice', deviceId: 'cam-1' }], atLeast: 'lt1.zzzz' },
    },
    { path: '/v1/media/authorize', body: authorizeBody },
    { path: '/v1/media/authorize', body: { ...authorizeBody, viewerId: 'carol' } },
    { path: '/v1/media/authorize', body: { ...authorizeBody, deviceId: 'nope' } },
    { path: '/v1/media/authorize', body: { ...authorizeBody, mediaType: 'hologram' } },
    { path: '/v1/media/authorize', body: authorizeBody, headers: { 'idempotency-key': 'k-1' } },
    { path: '/v1/media/authorize', body: authorizeBody, headers: { 'idempotency-key': 'k-1' } },
    {
      path: '/v1/media/authorize',
      body: { ...authorizeBody, mediaId: 'evt-2' },
      headers: { 'idempotency-key': 'k-1' },
    },
    { path: '/v1/media/authorize', body: authorizeBody, headers: { 'idempotency-key': 'x'.repeat(129) } },
    { path: '/v1/media/authorize', body: { viewerId: 1 }, headers: { 'idempotency-key': 'bad key' } },
    {
      path: '/v1/media/authorize',
      body: authorizeBody,
      headers: { 'idempotency-key': 'k-2', authorization: `Bearer ${KEYS[2].key}` },
    },
    {
      path: '/v1/media/authorize',
      body: authorizeBody,
      headers: { 'idempotency-key': 'k-2', authorization: `Bearer ${KEYS[2].key}` },
    },
  );

  it('gives the same status, headers and body for every case, in the same order of writes', async () => {
    const statuses = new Set<number>();
    for (const sent of cases) statuses.add((await same(sent)).status);
    // The cases reach every branch that matters: answers, denials, auth, validation, limits, timeouts.
    expect([...statuses]).toEqual(expect.arrayContaining([200, 400, 401, 403, 413, 503]));
  });

  it('runs no Nest guard for the hot routes, and still does for the others', async () => {
    guard.mockClear();
    await answer(direct, { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1' } });
    await answer(direct, { path: '/v1/media/authorize', body: authorizeBody });
    expect(guard).not.toHaveBeenCalled();
    await answer(throughNest, { path: '/v1/check', body: { userId: 'alice', deviceId: 'cam-1' } });
    expect(guard).toHaveBeenCalledTimes(1);
  });

  it('lists the hot routes in the OpenAPI document', async () => {
    const document = (await (await fetch(`${direct.baseUrl}/docs-json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/check', '/v1/check/bulk', '/v1/media/authorize']),
    );
  });
});
