import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';

describe('POST /v1/views/batch takes turns (end to end)', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  const views = (cam: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      viewerId: `u-${i}`,
      deviceId: cam,
      mediaId: `m-${i}`,
      mediaType: 'thumbnail',
      action: 'delivered',
      occurredAt: new Date().toISOString(),
    }));

  it('answers every concurrent batch, and a client gone while queued does not hold the turn', async () => {
    const cam = uniqueIds('gate')('cam');
    const abandoned = new AbortController();
    const requests = Array.from({ length: 6 }, (_, i) =>
      fetch(`${ledger.baseUrl}/v1/views/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ledger.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ views: views(cam, 200) }),
        ...(i === 3 ? { signal: abandoned.signal } : {}),
      }).then(
        (response) => response.status,
        () => 'aborted',
      ),
    );
    abandoned.abort();
    const statuses = await Promise.all(requests);
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    // The turn came back: one more batch goes through at once.
    const after = await ledger.http('POST', '/v1/views/batch', { views: views(cam, 3) });
    expect(after.status).toBe(201);
    // A check is answered while batches queue.
    const queued = Array.from({ length: 4 }, () =>
      ledger.http('POST', '/v1/views/batch', { views: views(cam, 500) }),
    );
    const check = await ledger.http('POST', '/v1/check', { userId: 'u-1', deviceId: cam });
    expect(check.status).toBe(200);
    expect((await Promise.all(queued)).map((r) => r.status)).toEqual([201, 201, 201, 201]);
  });
});
