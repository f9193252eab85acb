import { startLedger, uniqueIds, type LedgerTestApp } from '../../../test/support/ledger-test-app';
import { DecisionCache } from './decision-cache';

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  let last = await probe();
  for (let i = 0; i < 100 && !accept(last); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  return last;
}

describe('DecisionCache: the safe cache pattern on the watch feed', () => {
  let ledger: LedgerTestApp;
  let cache: DecisionCache;
  beforeAll(async () => {
    ledger = await startLedger();
    cache = new DecisionCache(ledger.client, { baseUrl: ledger.baseUrl, apiKey: ledger.apiKey }).start();
    await cache.ready;
  });
  afterAll(async () => {
    cache.stop();
    await ledger.close();
  });

  it('serves repeats from the cache and drops a device’s pairs when the feed reports a change', async () => {
    const id = uniqueIds('cache');
    const [cam, owner, viewer] = [id('cam'), id('o'), id('v')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const grant = await ledger.client.grant(cam, { userId: viewer, actor: owner });
    expect(await cache.check(viewer, cam, { atLeast: grant.token })).toMatchObject({
      allowed: true,
      cached: false,
    });
    // The feed may deliver the grant after the ledger acknowledged it (the write is committed off the event
    // loop): that change drops the pair once, conservatively; from then on repeats are served from the cache.
    const repeat = await eventually(
      () => cache.check(viewer, cam),
      (answer) => answer.cached,
    );
    expect(repeat).toMatchObject({ allowed: true, role: 'viewer', cached: true });

    await ledger.client.revoke(cam, { userId: viewer, actor: owner });
    // The feed drops the cached pair; the next answer comes from the ledger and says no.
    const after = await eventually(
      () => cache.check(viewer, cam),
      (answer) => !answer.allowed,
    );
    expect(after.allowed).toBe(false);
  });

  it('never answers a request that demands a token from the cache', async () => {
    const id = uniqueIds('cache');
    const [cam, owner, viewer] = [id('cam'), id('o'), id('v')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const grant = await ledger.client.grant(cam, { userId: viewer, actor: owner });
    await cache.check(viewer, cam, { atLeast: grant.token });
    const revoke = await ledger.client.revoke(cam, { userId: viewer, actor: owner });
    // Even if the feed has not delivered the revoke yet, the token forces a fresh, correct answer.
    expect(await cache.check(viewer, cam, { atLeast: revoke.token })).toMatchObject({
      allowed: false,
      cached: false,
    });
  });

  it('keys entries by the full (user, device) pair', async () => {
    const id = uniqueIds('cache');
    const [camA, camB, alice, bob] = [id('camA'), id('camB'), id('alice'), id('bob')];
    await ledger.client.registerDevice({ deviceId: camA, ownerId: alice, actor: 'svc:p' });
    const last = await ledger.client.registerDevice({ deviceId: camB, ownerId: bob, actor: 'svc:p' });
    await ledger.client.check({ userId: alice, deviceId: camA, atLeast: last.token });
    const answers = await Promise.all([
      cache.check(alice, camA),
      cache.check(alice, camB),
      cache.check(bob, camA),
      cache.check(bob, camB),
    ]);
    expect(answers.map((a) => a.allowed)).toEqual([true, false, false, true]);
    const again = await Promise.all([cache.check(alice, camB), cache.check(bob, camA)]);
    expect(again.map((a) => [a.allowed, a.cached])).toEqual([
      [false, true],
      [false, true],
    ]);
  });
});

describe('DecisionCache after a long disconnect', () => {
  it('starts a fresh feed when its token is too old to resume from (410), and caches again', async () => {
    const ledger = await startLedger({ env: { LEDGER_WATCH_MAX_RESUME_CHANGES: '2' } });
    const statuses: number[] = [];
    let networkDown = false;
    let current: AbortController | null = null;
    // A network between the cache and the ledger that the test can cut.
    const network: typeof fetch = async (url, init) => {
      if (networkDown) throw new Error('network down');
      current = new AbortController();
      init?.signal?.addEventListener('abort', () => current?.abort());
      const response = await fetch(url, { ...init, signal: current.signal });
      statuses.push(response.status);
      return response;
    };
    const cache = new DecisionCache(ledger.client, {
      baseUrl: ledger.baseUrl,
      apiKey: ledger.apiKey,
      reconnectDelayMs: 20,
      fetch: network,
    }).start();
    try {
      await cache.ready;
      const id = uniqueIds('cache-410');
      const [cam, owner, viewer] = [id('cam'), id('o'), id('v')];
      await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
      // The cache follows the feed: its token is now one of these changes'.
      await cache.check(owner, cam, {});
      await ledger.client.grant(cam, { userId: viewer, actor: owner });
      await eventually(
        async () => (await cache.check(owner, cam)).cached,
        (cached) => cached,
      );

      networkDown = true;
      current!.abort();
      for (let n = 0; n < 3; n++)
        await ledger.client.registerDevice({ deviceId: id(`later${n}`), ownerId: owner, actor: 'svc:p' });
      networkDown = false;

      await eventually(
        async () => statuses.slice(),
        (seen) => seen.length >= 3,
      );
      expect(statuses.slice(0, 3)).toEqual([200, 410, 200]);
      const revoke = await ledger.client.revoke(cam, { userId: viewer, actor: owner });
      await cache.check(viewer, cam, { atLeast: revoke.token });
      const cachedAgain = await eventually(
        async () => (await cache.check(viewer, cam)).cached,
        (cached) => cached,
      );
      expect(cachedAgain).toBe(true);
    } finally {
      cache.stop();
      await ledger.close();
    }
  });
});
