import * as http from 'node:http';
import { verifyExport, loadLedgerPublicKey } from '@ledger/audit-trail';
import { StoreUnavailableError, positionToToken, type AppendRequest } from '@ledger/event-store';
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
  it('answers a replay with its own record, as NDJSON or in pages, with the digest of the whole report', async () => {
    const id = uniqueIds('shapes');
    const [cam, owner] = [id('cam'), id('owner')];
    const t = Date.now() - 3_600_000;
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p', occurredAt: iso(t) });
    await ledger.client.recordViews(
      [1, 2, 3].map((n) => ({
        viewerId: id(`stranger${n}`),
        deviceId: cam,
        mediaId: `m-${n}`,
        mediaType: 'thumbnail' as const,
        action: 'delivered' as const,
        occurredAt: iso(t + n * 1000),
      })),
    );
    const request = { deviceIds: [cam] };
    const whole = await ledger.http('POST', '/v1/audit/replay', request);
    expect(whole.status).toBe(200);
    const [record] = await ledger.store.readStream('ledger-audit', { direction: 'backwards', maxCount: 1 });
    expect(whole.body.recorded).toEqual({ eventId: record.eventId, token: positionToToken(record.position) });
    expect(record).toMatchObject({ type: 'IncidentReplayed', data: { digest: whole.body.digest } });

    const streamed = await ledger.http('POST', '/v1/audit/replay', request, {
      accept: 'application/x-ndjson',
    });
    expect(streamed.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (streamed.body as string)
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0].report.digest).toBe(whole.body.digest);
    expect(lines.slice(1, -1).map((line) => line.exposure)).toEqual(whole.body.exposures);
    expect(lines[lines.length - 1].recorded.token).toMatch(/^lt1\./);

    const page = await ledger.http('POST', '/v1/audit/replay?offset=1&limit=1', request);
    expect(page.status).toBe(200);
    expect(page.body.digest).toBe(whole.body.digest);
    expect(page.body.page).toEqual({ offset: 1, limit: 1, returned: 1, total: 3, nextOffset: 2 });
    expect(page.body.exposures).toEqual([whole.body.exposures[1]]);
    expect((await ledger.http('POST', '/v1/audit/replay?limit=0', request)).status).toBe(400);
    expect((await ledger.http('POST', '/v1/audit/replay?format=ndjson&offset=0', request)).status).toBe(400);
  });

  it('rebuilds the projection on a worker and reports the digest the live projection has at that token', async () => {
    const id = uniqueIds('rebuild');
    await ledger.client.registerDevice({ deviceId: id('cam'), ownerId: id('owner'), actor: 'svc:p' });
    const rebuilt = await ledger.http('POST', '/v1/audit/rebuild');
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.body.events).toBeGreaterThan(0);
    const live = await ledger.http('GET', `/v1/projection?atLeast=${rebuilt.body.token}`);
    expect(live.status).toBe(200);
    // Nothing was written since: the live projection stands at the same token, with the same digest.
    expect(live.body).toEqual({ token: rebuilt.body.token, digest: rebuilt.body.digest });
  });

  it('answers HEAD on the trail without running or recording an export', async () => {
    const id = uniqueIds('head');
    const cam = id('cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('owner'), actor: 'svc:p' });
    const before = await ledger.store.readStream('ledger-audit');
    const response = await fetch(`${ledger.baseUrl}/v1/audit/trail?deviceId=${cam}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${ledger.apiKey}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(await ledger.store.readStream('ledger-audit')).toHaveLength(before.length);
    const bad = await fetch(`${ledger.baseUrl}/v1/audit/trail`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${ledger.apiKey}` },
    });
    expect(bad.status).toBe(400);
  });

  it('withholds the signed manifest when the export cannot be recorded: the client cannot verify it', async () => {
    const id = uniqueIds('unrecorded');
    const [cam, owner] = [id('cam'), id('owner')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    await ledger.client.grant(cam, { userId: id('v'), actor: owner });
    const store = ledger.store;
    const append = store.append.bind(store);
    // The audit stream refuses appends (a full disk); everything else is written as usual.
    const failing = jest
      .spyOn(store, 'append')
      .mockImplementation((request: AppendRequest) =>
        request.stream === 'ledger-audit'
          ? Promise.reject(new StoreUnavailableError('disk full (simulated)'))
          : append(request),
      );
    let received = '';
    let aborted = false;
    try {
      const response = await fetch(`${ledger.baseUrl}/v1/audit/trail?deviceId=${cam}`, {
        headers: { authorization: `Bearer ${ledger.apiKey}` },
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          received += decoder.decode(value, { stream: true });
        }
      } catch {
        aborted = true;
      }
    } finally {
      failing.mockRestore();
    }
    expect(aborted).toBe(true);
    expect(received).toContain('"seq":1');
    expect(received).not.toContain('"manifest"');
    expect(received.trimEnd().split('\n').pop()).toMatch(/"error".*could not be recorded/);
    const verified = await verifyExport(
      (async function* () {
        yield received;
      })(),
      loadLedgerPublicKey(ledger.config),
    );
    expect(verified.ok).toBe(false);
    const audit = await ledger.store.readStream('ledger-audit');
    expect(audit.some((e) => (e.data.filter as { deviceId?: string } | undefined)?.deviceId === cam)).toBe(
      false,
    );
  });
});

describe('audit work past its limit', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger({ env: { LEDGER_REPLAY_WORKERS: '1' } });
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('is refused with 429 and Retry-After while the slot is taken, and served once it is free', async () => {
    // The first replay holds the only slot while its worker starts and reads; the others arrive meanwhile.
    const answers = await Promise.all([1, 2, 3].map(() => ledger.http('POST', '/v1/audit/replay', {})));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 429, 429]);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body.message).toMatch(/1 replay is already running/);
    expect((await ledger.http('POST', '/v1/audit/replay', {})).status).toBe(200);
  });

  it('keeps the slot while a large answer is being sent, and frees it when the client goes away', async () => {
    const id = uniqueIds('gone');
    const [cam, owner] = [id('cam'), id('owner')];
    const t = Date.now() - 3_600_000;
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p', occurredAt: iso(t) });
    // 20,000 strangers' views: an answer of several megabytes, more than the sockets hold at once.
    for (let batch = 0; batch < 20; batch++) {
      await ledger.client.recordViews(
        Array.from({ length: 1000 }, (_, i) => ({
          viewerId: id(`stranger-${batch}-${i}`),
          deviceId: cam,
          mediaId: `m-${batch}-${i}`,
          mediaType: 'thumbnail' as const,
          action: 'delivered' as const,
          occurredAt: iso(t + 1000 + batch * 1000 + i),
        })),
      );
    }
    // A client that reads the first bytes and stops reading (node's own client: no connection left behind).
    const { status: answered, leave } = await new Promise<{ status: number; leave: () => void }>(
      (resolve, reject) => {
        const request = http.request(
          `${ledger.baseUrl}/v1/audit/replay`,
          {
            method: 'POST',
            agent: false,
            headers: { authorization: `Bearer ${ledger.apiKey}`, 'content-type': 'application/json' },
          },
          (response) => {
            response.once('data', () => {
              response.pause();
              resolve({ status: response.statusCode ?? 0, leave: () => request.destroy() });
            });
          },
        );
        request.once('error', reject);
        request.end(JSON.stringify({ deviceIds: [cam] }));
      },
    );
    expect(answered).toBe(200);
    // The answer is not all sent: the replay still holds the only slot.
    expect((await ledger.http('POST', '/v1/audit/replay', { deviceIds: [cam] })).status).toBe(429);
    leave();
    // Freed once the service sees the connection closed: asked again until then, a bounded number of times.
    let status = 429;
    for (let attempt = 0; attempt < 200 && status === 429; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await ledger.http('POST', '/v1/audit/replay', { deviceIds: [id('nothing')] })).status;
    }
    expect(status).toBe(200);
  });
});
