import { verifyExport, loadLedgerPublicKey } from '@ledger/audit-trail';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';

const iso = (ms: number) => new Date(ms).toISOString();

describe('audit routes: incident replay and trail export', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('replays a window into the exact exposure report and records the replay', async () => {
    const id = uniqueIds('replay');
    const [cam, owner, friend, stranger] = [id('cam'), id('owner'), id('friend'), id('stranger')];
    const t = Date.now() - 3_600_000;
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p', occurredAt: iso(t) });
    await ledger.client.grant(cam, { userId: friend, actor: owner, occurredAt: iso(t + 1000) });
    await ledger.client.revoke(cam, { userId: friend, actor: owner, occurredAt: iso(t + 5000) });
    const view = (
      viewerId: string,
      at: number,
      action: 'delivered' | 'opened' | 'played',
      mediaType = 'thumbnail' as const,
    ) => ({
      viewerId,
      deviceId: cam,
      mediaId: `m-${at}`,
      mediaType,
      action,
      occurredAt: iso(at),
    });
    await ledger.client.recordViews([
      view(friend, t + 1000, 'opened'), // at the grant instant: authorized
      view(friend, t + 5000, 'opened'), // at the revoke instant: not
      view(stranger, t + 2000, 'delivered'),
      view(owner, t + 3000, 'played'),
    ]);
    const response = await ledger.http('POST', '/v1/audit/replay', {
      deviceIds: [cam],
      from: iso(t),
      to: iso(t + 10_000),
    });
    expect(response.status).toBe(200);
    const report = response.body;
    expect(report.summary).toMatchObject({
      viewsExamined: 4,
      exposures: 2,
      viewersExposed: 2,
      viewersOpened: 1,
      ownersAffected: 1,
      devicesAffected: 1,
    });
    expect(
      report.exposures.map((e: { viewerId: string; reason: string; ownerId: string }) => [
        e.viewerId,
        e.reason,
        e.ownerId,
      ]),
    ).toEqual([
      [stranger, 'never_granted', owner],
      [friend, 'revoked', owner],
    ]);
    expect(report.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const again = await ledger.http('POST', '/v1/audit/replay', {
      deviceIds: [cam],
      from: iso(t),
      to: iso(t + 10_000),
    });
    expect(again.body.digest).toBe(report.digest);
    const audit = await ledger.store.readStream('ledger-audit', { direction: 'backwards', maxCount: 5 });
    expect(audit.some((e) => e.type === 'IncidentReplayed' && e.data.digest === report.digest)).toBe(true);
  });

  it('refuses a bad replay window with a 400 naming the field', async () => {
    const response = await ledger.http('POST', '/v1/audit/replay', {
      from: '2024-02-16T10:00:00.000Z',
      to: '2024-02-16T09:00:00.000Z',
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/to/);
    expect((await ledger.http('POST', '/v1/audit/replay', { deviceIds: ['-x'] })).status).toBe(400);
  });

  it('streams a signed export that verifies with the public key, in both formats, and records it', async () => {
    const id = uniqueIds('trail');
    const [cam, owner] = [id('cam'), id('owner')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    await ledger.client.grant(cam, { userId: id('v'), actor: owner });
    const publicKey = loadLedgerPublicKey(ledger.config);
    for (const format of ['ndjson', 'csv'] as const) {
      const response = await fetch(`${ledger.baseUrl}/v1/audit/trail?deviceId=${cam}&format=${format}`, {
        headers: { authorization: `Bearer ${ledger.apiKey}` },
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      const result = await verifyExport(
        (async function* () {
          yield text;
        })(),
        publicKey,
      );
      expect(result).toMatchObject({ ok: true, count: 2 });
    }
    const audit = await ledger.store.readStream('ledger-audit', { direction: 'backwards', maxCount: 5 });
    expect(
      audit.filter(
        (e) => e.type === 'AuditTrailExported' && (e.data.filter as { deviceId?: string }).deviceId === cam,
      ),
    ).toHaveLength(2);
  });

  it('refuses an export without a subject, and a key without the audit scope', async () => {
    expect((await ledger.http('GET', '/v1/audit/trail')).status).toBe(400);
    expect((await ledger.http('GET', '/v1/audit/trail?deviceId=-bad')).status).toBe(400);
  });
});
