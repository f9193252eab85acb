import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { LedgerGrpcClient, LedgerGrpcError, type View } from '@ledger/client';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';

const ADMIN_KEY = 'grpc-e2e-admin-key-0123456789';
const READER_KEY = 'grpc-e2e-reader-key-0123456789';
const API_KEYS = JSON.stringify([
  { name: 'admin', key: ADMIN_KEY, scopes: ['ledger:write', 'ledger:read', 'audit:replay', 'audit:export'] },
  { name: 'reader', key: READER_KEY, scopes: ['ledger:read'] },
]);

/** The status a call failed with (the test fails if it succeeded). */
async function failure(call: Promise<unknown> | (() => Promise<unknown>)): Promise<LedgerGrpcError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (error) {
    if (error instanceof LedgerGrpcError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('gRPC API (ledger.v1.LedgerService) over a real socket', () => {
  let ledger: LedgerTestApp;
  let address: string;
  let admin: LedgerGrpcClient;
  let reader: LedgerGrpcClient;
  const id = uniqueIds('grpc');

  beforeAll(async () => {
    ledger = await startLedger({
      env: {
        GRPC_PORT: '0',
        HOST: '127.0.0.1',
        LEDGER_API_KEYS: API_KEYS,
        LEDGER_CONSISTENCY_WAIT_MS: '300',
      },
    });
    expect(ledger.grpcPort).toBeGreaterThan(0);
    address = `127.0.0.1:${ledger.grpcPort}`;
    admin = new LedgerGrpcClient({ address, apiKey: ADMIN_KEY });
    reader = new LedgerGrpcClient({ address, apiKey: READER_KEY });
  });
  afterAll(async () => {
    admin?.close();
    reader?.close();
    await ledger?.close();
  });

  async function sharedDevice() {
    const [cam, owner, viewer] = [id(`cam${Math.random()}`.replace('.', '')), id('owner'), id('viewer')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const granted = await ledger.client.grant(cam, { userId: viewer, actor: owner });
    return { cam, owner, viewer, granted };
  }

  function view(cam: string, viewer: string, extra: Partial<View> = {}): View {
    return {
      viewerId: viewer,
      deviceId: cam,
      mediaId: 'evt-1',
      mediaType: 'thumbnail',
      action: 'delivered',
      occurredAt: new Date().toISOString(),
      ...extra,
    };
  }

  it('Check answers like POST /v1/check, from a projection that reached the token', async () => {
    const { cam, owner, viewer, granted } = await sharedDevice();
    const answer = await reader.check({ userId: viewer, deviceId: cam, atLeast: granted.token });
    expect(answer).toEqual({ allowed: true, role: 'viewer', token: expect.stringMatching(/^lt1\./) });
    expect(await reader.check({ userId: owner, deviceId: cam })).toMatchObject({
      allowed: true,
      role: 'owner',
    });
    expect(await reader.check({ userId: id('stranger'), deviceId: cam })).toMatchObject({
      allowed: false,
      role: null,
    });
    // The historical question: before the registration nobody was allowed.
    expect(
      await reader.check({ userId: owner, deviceId: cam, at: '2000-01-01T00:00:00.000Z' }),
    ).toMatchObject({ allowed: false });
    const http = await ledger.client.check({ userId: viewer, deviceId: cam });
    expect(answer.allowed).toBe(http.allowed);
  });

  it('new enemy: a check carrying the revoke token never allows', async () => {
    for (let round = 0; round < 15; round++) {
      const { cam, owner, viewer } = await sharedDevice();
      const revoked = await ledger.client.revoke(cam, { userId: viewer, actor: owner });
      const answer = await reader.check({ userId: viewer, deviceId: cam, atLeast: revoked.token });
      expect(answer.allowed).toBe(false);
      const bulk = await reader.checkBulk({
        items: [{ userId: viewer, deviceId: cam }],
        atLeast: revoked.token,
      });
      expect(bulk.results[0].allowed).toBe(false);
    }
  });

  it('CheckBulk judges every item against one projection state', async () => {
    const { cam, owner, viewer } = await sharedDevice();
    const answer = await reader.checkBulk({
      items: [
        { userId: owner, deviceId: cam },
        { userId: viewer, deviceId: cam },
        { userId: id('nobody'), deviceId: cam },
      ],
    });
    expect(answer.results).toEqual([
      { userId: owner, deviceId: cam, allowed: true, role: 'owner' },
      { userId: viewer, deviceId: cam, allowed: true, role: 'viewer' },
      { userId: id('nobody'), deviceId: cam, allowed: false, role: null },
    ]);
    const tooMany = Array.from({ length: 1001 }, () => ({ userId: owner, deviceId: cam }));
    const refused = await failure(reader.checkBulk({ items: tooMany }));
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.details).toContain('items must hold at most 1000 checks');
  });

  it('refuses bad input with INVALID_ARGUMENT naming the field, as the HTTP DTOs do', async () => {
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => reader.check({ userId: 'bad id!', deviceId: 'cam' }), 'userId must be 1–128 characters'],
      [() => reader.check({ userId: 'u', deviceId: '' }), 'deviceId must be 1–128 characters'],
      [() => reader.check({ userId: 'u' } as never), 'deviceId must be a string'],
      [() => reader.check({ userId: 'u', deviceId: 'cam', at: 'yesterday' }), 'at must be an RFC 3339 time'],
      [
        () => reader.check({ userId: 'u', deviceId: 'cam', atLeast: 'nope' }),
        'atLeast is not a token issued by this ledger',
      ],
      [() => reader.checkBulk({ items: [{ userId: 'u', deviceId: '-x' }] }), 'items.0.deviceId must be'],
      [() => reader.deviceAccess('no spaces'), 'deviceId must be'],
    ];
    for (const [call, message] of cases) {
      const refused = await failure(call);
      expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(refused.details).toContain(message);
    }
  });

  it('Authorize decides at the head and records the outcome; a denial is an answer', async () => {
    const { cam, viewer } = await sharedDevice();
    const allowed = await admin.authorize({
      viewerId: viewer,
      deviceId: cam,
      mediaId: 'evt-9',
      mediaType: 'event_video',
      action: 'played',
      servedBy: 'media-svc-1',
    });
    expect(allowed).toEqual({
      allowed: true,
      role: 'viewer',
      token: expect.any(String),
      eventId: expect.any(String),
    });
    const denied = await admin.authorize({
      viewerId: id('stranger'),
      deviceId: cam,
      mediaId: 'evt-9',
      mediaType: 'thumbnail',
      action: 'delivered',
    });
    expect(denied).toMatchObject({ allowed: false, reason: 'never_granted' });
    const trail = await ledger.client.exportTrail({ deviceId: cam });
    expect(trail).toContain(allowed.eventId);
    expect(trail).toContain(denied.eventId);
  });

  it('a rejected write appends nothing: bad input, a missing scope, a missing key', async () => {
    const { cam, viewer } = await sharedDevice();
    const head = await ledger.head();
    const refusals: Array<[() => Promise<unknown>, grpc.status, string]> = [
      [
        () =>
          admin.authorize({
            viewerId: viewer,
            deviceId: cam,
            mediaId: 'm',
            mediaType: 'gif' as never,
            action: 'played',
          }),
        grpc.status.INVALID_ARGUMENT,
        'mediaType must be one of thumbnail, event_video, live_stream',
      ],
      [
        () =>
          admin.recordViews([
            view(cam, viewer),
            view(cam, viewer, { occurredAt: '2024-02-30T00:00:00.000Z' }),
          ]),
        grpc.status.INVALID_ARGUMENT,
        'views.1.occurredAt must be an RFC 3339 time',
      ],
      [
        () =>
          admin.recordViews([
            view(cam, viewer, { occurredAt: new Date(Date.now() + 3_600_000).toISOString() }),
          ]),
        grpc.status.INVALID_ARGUMENT,
        'views.0.occurredAt is more than 5 minutes in the future',
      ],
      [() => admin.recordViews([]), grpc.status.INVALID_ARGUMENT, 'views must hold at least 1 view'],
      [
        () => admin.recordViews(Array.from({ length: 1001 }, () => view(cam, viewer))),
        grpc.status.INVALID_ARGUMENT,
        'views must hold at most 1000 views',
      ],
      [
        () => admin.recordViews([view(cam, viewer)], { idempotencyKey: 'has space' }),
        grpc.status.INVALID_ARGUMENT,
        'idempotency-key must be 1–128 printable ASCII characters',
      ],
      [
        () => reader.recordViews([view(cam, viewer)]),
        grpc.status.PERMISSION_DENIED,
        'lacks the ledger:write scope',
      ],
      [
        () =>
          reader.authorize({
            viewerId: viewer,
            deviceId: cam,
            mediaId: 'm',
            mediaType: 'thumbnail',
            action: 'opened',
          }),
        grpc.status.PERMISSION_DENIED,
        'lacks the ledger:write scope',
      ],
    ];
    for (const [call, code, message] of refusals) {
      const refused = await failure(call);
      expect([grpc.status[refused.code], refused.details]).toEqual([
        grpc.status[code],
        expect.stringContaining(message),
      ]);
    }
    expect(await ledger.head()).toEqual(head);
  });

  it('refuses calls without a valid key on every RPC (UNAUTHENTICATED) and a key lacking the scope', async () => {
    const nobody = new LedgerGrpcClient({ address, apiKey: 'not-a-configured-key-at-all' });
    const head = await ledger.head();
    try {
      const v = view('cam-x', 'u');
      const calls: Array<() => Promise<unknown>> = [
        () => nobody.check({ userId: 'u', deviceId: 'cam-x' }),
        () => nobody.checkBulk({ items: [] }),
        () =>
          nobody.authorize({
            viewerId: 'u',
            deviceId: 'cam-x',
            mediaId: 'm',
            mediaType: 'thumbnail',
            action: 'opened',
          }),
        () => nobody.recordViews([v]),
        () => nobody.deviceAccess('cam-x'),
        () =>
          (async () => {
            for await (const message of nobody.watch()) return message;
          })(),
      ];
      for (const call of calls) {
        const refused = await failure(call);
        expect([grpc.status[refused.code], refused.details]).toEqual(['UNAUTHENTICATED', 'unknown API key']);
      }
      // No metadata at all.
      const loaded = grpc.loadPackageDefinition(
        protoLoader.loadSync(path.join(__dirname, '../../../../proto/ledger/v1/ledger.proto')),
      ) as any;
      const bare = new loaded.ledger.v1.LedgerService(address, grpc.credentials.createInsecure());
      const missing = await new Promise<grpc.ServiceError>((resolve) =>
        bare.Check({ userId: 'u', deviceId: 'cam-x' }, (error: grpc.ServiceError) => resolve(error)),
      );
      bare.close();
      expect(missing.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(missing.details).toContain('authorization: Bearer <key> metadata');
    } finally {
      nobody.close();
    }
    expect(await ledger.head()).toEqual(head);
  });

  it('RecordViews stores all views atomically, once per idempotency key', async () => {
    const { cam, viewer } = await sharedDevice();
    const views = [view(cam, viewer), view(cam, viewer, { mediaType: 'live_stream', action: 'played' })];
    const first = await admin.recordViews(views, { idempotencyKey: `${cam}-batch` });
    expect(first).toEqual({ count: 2, token: expect.any(String) });
    const head = await ledger.head();
    const again = await admin.recordViews(views, { idempotencyKey: `${cam}-batch` });
    expect(again).toEqual(first);
    expect(await ledger.head()).toEqual(head);
    const reused = await failure(admin.recordViews([views[0]], { idempotencyKey: `${cam}-batch` }));
    expect(reused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(await ledger.head()).toEqual(head);
  });

  it('GetDeviceAccess answers like GET /v1/devices/{id}/access; an unknown device is NOT_FOUND', async () => {
    const { cam, owner, viewer, granted } = await sharedDevice();
    const access = await reader.deviceAccess(cam, granted.token);
    expect(access).toEqual(await ledger.client.deviceAccess(cam, granted.token));
    expect(access.owner?.userId).toBe(owner);
    expect(access.viewers).toEqual([
      { userId: viewer, role: 'viewer', since: expect.any(String), expiresAt: null },
    ]);
    const unknown = await failure(reader.deviceAccess(id('never-registered')));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
  });

  it('UNAVAILABLE with retry info when the token is not reached in time; deadlines are honoured', async () => {
    const { cam, viewer, granted } = await sharedDevice();
    // A well-formed token far beyond the head of the log.
    const ahead = 'lt1.zzzzzz';
    const late = await failure(reader.check({ userId: viewer, deviceId: cam, atLeast: ahead }));
    expect(late.code).toBe(grpc.status.UNAVAILABLE);
    expect(late.retryDelayMs).toBe(1000);
    const started = Date.now();
    const expired = await failure(
      reader.check({ userId: viewer, deviceId: cam, atLeast: ahead }, { deadlineMs: 50 }),
    );
    expect(expired.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(300);
    expect((await reader.check({ userId: viewer, deviceId: cam, atLeast: granted.token })).allowed).toBe(
      true,
    );
  });

  it('refuses a message over the size limit (RESOURCE_EXHAUSTED), appending nothing', async () => {
    const head = await ledger.head();
    const long = 'x'.repeat(120);
    const views = Array.from({ length: 5000 }, () =>
      view(`cam-${long}`, `u-${long}`, { mediaId: `m-${long}`, servedBy: `s-${long}` }),
    );
    const refused = await failure(admin.recordViews(views));
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await ledger.head()).toEqual(head);
  });

  it('Watch streams changes in log order with their tokens and resumes after a token', async () => {
    const start = await ledger.client.projection();
    const abort = new AbortController();
    const received: Array<{ type: string; token: string; deviceId: string; userIds: string[] }> = [];
    const [cam, owner, viewer] = [id('watched-cam'), id('wo'), id('wv')];
    const live = (async () => {
      for await (const message of reader.watch({ after: start.token }, { signal: abort.signal })) {
        if (message.type !== 'change' || message.change.deviceId !== cam) continue;
        received.push(message.change);
        if (received.length === 3) abort.abort();
      }
    })();
    const registered = await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const granted = await ledger.client.grant(cam, { userId: viewer, actor: owner });
    const revoked = await ledger.client.revoke(cam, { userId: viewer, actor: owner });
    await live;
    expect(received.map((c) => [c.type, c.token])).toEqual([
      ['DeviceRegistered', registered.token],
      ['AccessGranted', granted.token],
      ['AccessRevoked', revoked.token],
    ]);
    expect(received[1].userIds).toEqual([viewer]);

    // Resuming after the grant's token yields the revoke first, read from history.
    for await (const message of reader.watch({ after: granted.token })) {
      if (message.type !== 'change' || message.change.deviceId !== cam) continue;
      expect(message.change).toMatchObject({ type: 'AccessRevoked', token: revoked.token });
      break;
    }

    const malformed = await failure(
      (async () => {
        for await (const message of reader.watch({ after: 'nope' })) return message;
      })(),
    );
    expect([malformed.code, malformed.details]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      'after is not a token issued by this ledger',
    ]);
  });

  it('serves the standard health service and server reflection', async () => {
    const health = grpc.loadPackageDefinition(
      protoLoader.loadSync(healthProtoPath, { enums: String }),
    ) as any;
    const healthClient = new health.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
    const serving = await new Promise<any>((resolve, reject) =>
      healthClient.Check({ service: 'ledger.v1.LedgerService' }, (error: Error | null, answer: any) =>
        error ? reject(error) : resolve(answer),
      ),
    );
    healthClient.close();
    expect(serving.status).toBe('SERVING');

    const reflectionProto = path.join(
      path.dirname(require.resolve('@grpc/reflection/package.json')),
      'build/proto/grpc/reflection/v1/reflection.proto',
    );
    const reflection = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto)) as any;
    const reflectionClient = new reflection.grpc.reflection.v1.ServerReflection(
      address,
      grpc.credentials.createInsecure(),
    );
    const call = reflectionClient.ServerReflectionInfo();
    const answer = await new Promise<any>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write({ listServices: '' });
    });
    call.end();
    reflectionClient.close();
    const names = answer.listServicesResponse.service.map((s: { name: string }) => s.name);
    expect(names).toEqual(expect.arrayContaining(['ledger.v1.LedgerService', 'grpc.health.v1.Health']));
  });
});
