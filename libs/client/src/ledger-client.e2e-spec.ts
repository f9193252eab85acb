import { startLedger, uniqueIds, type LedgerTestApp } from '../../../test/support/ledger-test-app';
import { LedgerClient } from './ledger-client';
import {
  LedgerConflictError,
  LedgerNotFoundError,
  LedgerUnauthorizedError,
  LedgerValidationError,
} from './ledger-client.errors';

describe('LedgerClient against the real service', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('retries a write whose answer was lost under one Idempotency-Key, so it is applied once', async () => {
    const id = uniqueIds('client');
    let calls = 0;
    // The first request reaches the server and is applied, but its answer is "lost" on the way back.
    const lossy: typeof fetch = async (input, init) => {
      calls++;
      const response = await fetch(input, init);
      if (calls === 1) throw new TypeError('socket hang up');
      return response;
    };
    const client = new LedgerClient({
      baseUrl: ledger.baseUrl,
      apiKey: ledger.apiKey,
      retries: 2,
      retryDelayMs: 10,
      fetch: lossy,
    });
    const cam = id('cam');
    const registered = await client.registerDevice({ deviceId: cam, ownerId: id('o'), actor: 'svc:p' });
    expect(calls).toBe(2);
    const stream = await ledger.store.readStream(`device-${cam}`);
    expect(stream).toHaveLength(1);
    expect(registered).toEqual({ deviceId: cam, token: expect.any(String) });
    expect(client.lastToken).toBe(registered.token);
  });

  it('raises typed errors by status', async () => {
    const id = uniqueIds('client');
    await expect(ledger.client.grant(id('ghost'), { userId: id('u'), actor: 'a' })).rejects.toBeInstanceOf(
      LedgerNotFoundError,
    );
    await expect(
      ledger.client.registerDevice({ deviceId: '-bad', ownerId: 'u', actor: 'a' }),
    ).rejects.toBeInstanceOf(LedgerValidationError);
    const cam = id('cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('o'), actor: 'svc:p' });
    const conflict = await ledger.client
      .registerDevice({ deviceId: cam, ownerId: id('o'), actor: 'svc:p' })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(LedgerConflictError);
    expect((conflict as LedgerConflictError).status).toBe(409);
    const stranger = new LedgerClient({ baseUrl: ledger.baseUrl, apiKey: 'not-a-real-key-0000000000' });
    await expect(stranger.projection()).rejects.toBeInstanceOf(LedgerUnauthorizedError);
  });

  it('covers the read, replay and export routes with their tokens', async () => {
    const id = uniqueIds('client');
    const [cam, owner, viewer] = [id('cam'), id('o'), id('v')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const grant = await ledger.client.grant(cam, {
      userId: viewer,
      actor: owner,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const access = await ledger.client.deviceAccess(cam, grant.token);
    expect(access.viewers).toEqual([
      expect.objectContaining({ userId: viewer, role: 'viewer', expiresAt: expect.any(String) }),
    ]);
    const devices = await ledger.client.userDevices(viewer, grant.token);
    expect(devices.devices.map((d) => d.deviceId)).toEqual([cam]);
    const authorized = await ledger.client.authorize({
      viewerId: viewer,
      deviceId: cam,
      mediaId: 'm1',
      mediaType: 'live_stream',
      action: 'played',
    });
    expect(authorized).toMatchObject({ allowed: true, role: 'viewer' });
    const report = await ledger.client.replay({ deviceIds: [cam] });
    expect(report.summary.exposures).toBe(0);
    const trail = await ledger.client.exportTrail({ deviceId: cam });
    expect(trail.trim().split('\n').pop()).toMatch(/^\{"manifest":/);
    expect((await ledger.client.health()).status).toBe('ok');
  });
});
