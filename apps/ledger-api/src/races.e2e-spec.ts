import { accessAt, foldDeviceEvents, formatTime, Streams, type DeviceEvent } from '@ledger/domain';
import {
  comparePositions,
  ConcurrencyError,
  tokenToPosition,
  type AppendRequest,
  type RecordedEvent,
} from '@ledger/event-store';
import { rebuildFromLog } from '@ledger/projections';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../test/support/ledger-test-app';
import { seededRandom } from '../../../test/support/seeded-random';

/**
 * Many clients change ONE device at once. Whatever interleaving the server sees, every request is either
 * applied (201, and its event is in the log at its token) or refused (409), never lost and never a 5xx; and
 * the state served afterwards is exactly the one the log describes.
 */

type Change =
  | { kind: 'grant'; userId: string; expiresAt?: string }
  | { kind: 'revoke'; userId: string }
  | { kind: 'transfer'; newOwnerId: string; keepViewers: boolean };

interface Sent {
  readonly change: Change;
  readonly status: number;
  readonly body: { token?: string; statusCode?: number; error?: string; message?: string };
}

const PATHS = { grant: 'grants', revoke: 'revocations', transfer: 'transfers' } as const;

function bodyOf(change: Change, actor: string): Record<string, unknown> {
  switch (change.kind) {
    case 'grant':
      return { userId: change.userId, actor, ...(change.expiresAt ? { expiresAt: change.expiresAt } : {}) };
    case 'revoke':
      return { userId: change.userId, actor };
    case 'transfer':
      return { newOwnerId: change.newOwnerId, actor, keepViewers: change.keepViewers };
  }
}

function matches(change: Change, event: RecordedEvent): boolean {
  switch (change.kind) {
    case 'grant':
      return event.type === 'AccessGranted' && event.data.userId === change.userId;
    case 'revoke':
      return event.type === 'AccessRevoked' && event.data.userId === change.userId;
    case 'transfer':
      return (
        event.type === 'OwnershipTransferred' &&
        event.data.newOwnerId === change.newOwnerId &&
        event.data.keepViewers === change.keepViewers
      );
  }
}

describe('concurrent ownership changes on one device (end to end)', () => {
  let ledger: LedgerTestApp;
  let id: (name: string) => string;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });
  beforeEach(() => {
    id = uniqueIds('race');
  });

  async function deviceStream(deviceId: string): Promise<readonly RecordedEvent[]> {
    return ledger.store.readStream(Streams.device(deviceId));
  }

  it('ends in the state the log describes: every request 201 or 409, every 201 in the log at its token', async () => {
    const random = seededRandom();
    const cam = id('cam');
    const users = Array.from({ length: 8 }, (_unused, i) => id(`u${i}`));
    await ledger.client.registerDevice({ deviceId: cam, ownerId: users[0], actor: 'svc:provisioning' });
    const farFuture = formatTime(Date.now() + 24 * 3_600_000);

    const clients = 24;
    const perClient = 6;
    const plans: Change[][] = Array.from({ length: clients }, () =>
      Array.from({ length: perClient }, (): Change => {
        const roll = random.next();
        if (roll < 0.5) {
          return {
            kind: 'grant',
            userId: random.pick(users),
            ...(random.chance(0.3) ? { expiresAt: farFuture } : {}),
          };
        }
        if (roll < 0.8) return { kind: 'revoke', userId: random.pick(users) };
        return { kind: 'transfer', newOwnerId: random.pick(users), keepViewers: random.chance(0.5) };
      }),
    );
    const sent: Sent[] = [];
    await Promise.all(
      plans.map(async (plan, client) => {
        for (const change of plan) {
          const response = await ledger.http(
            'POST',
            `/v1/devices/${cam}/${PATHS[change.kind]}`,
            bodyOf(change, `svc:client-${client}`),
          );
          sent.push({ change, status: response.status, body: response.body });
        }
      }),
    );

    const context = `seed ${random.seed}`;
    expect({
      context,
      statuses: [...new Set(sent.map((s) => s.status))].filter((s) => s !== 201 && s !== 409),
    }).toEqual({
      context,
      statuses: [],
    });
    for (const refused of sent.filter((s) => s.status === 409)) {
      expect(refused.body).toEqual({ statusCode: 409, error: 'Conflict', message: expect.any(String) });
    }
    const applied = sent.filter((s) => s.status === 201);
    expect(applied.length).toBeGreaterThan(clients);

    // Never lost, never doubled: the stream holds exactly the acknowledged changes, each at its token.
    const stream = await deviceStream(cam);
    const changes = stream.slice(1);
    expect(changes).toHaveLength(applied.length);
    const byPosition = new Map(changes.map((e) => [`${e.position.commit}/${e.position.prepare}`, e]));
    for (const ack of applied) {
      const position = tokenToPosition(ack.body.token!);
      const event = byPosition.get(`${position.commit}/${position.prepare}`);
      expect({ change: ack.change, found: event !== undefined && matches(ack.change, event) }).toEqual({
        change: ack.change,
        found: true,
      });
      byPosition.delete(`${position.commit}/${position.prepare}`);
    }
    expect(byPosition.size).toBe(0);

    // Served state = the log: the access listing equals folding the device stream; digest equals a rebuild.
    const lastToken = applied
      .map((s) => s.body.token!)
      .sort((a, b) => comparePositions(tokenToPosition(a), tokenToPosition(b)))
      .pop()!;
    const listing = await ledger.http('GET', `/v1/devices/${cam}/access?atLeast=${lastToken}`);
    expect(listing.status).toBe(200);
    const folded = foldDeviceEvents(
      stream.map((e) => ({ type: e.type, data: e.data }) as unknown as DeviceEvent),
    )!;
    const expected = accessAt(folded, Date.now());
    expect(listing.body).toEqual({
      deviceId: cam,
      owner: expect.objectContaining({ userId: expected.find((a) => a.role === 'owner')!.userId }),
      viewers: expected
        .filter((a) => a.role === 'viewer')
        .map((a) => ({
          userId: a.userId,
          role: 'viewer',
          since: formatTime(a.since),
          expiresAt: a.expiresAt === null ? null : formatTime(a.expiresAt),
        })),
      token: expect.any(String),
    });
    expect(listing.body.owner.since).toBe(formatTime(expected[0].since));

    await ledger.projection.catchUpToHead(5000);
    const served = await ledger.http('GET', '/v1/projection');
    const rebuilt = await rebuildFromLog(ledger.store, { upTo: tokenToPosition(served.body.token) });
    expect(served.body.digest).toBe(rebuilt.digest);
  });

  it('never refuses a change the caller did not date as "dated before the previous change"', async () => {
    // Concurrent grants to distinct new viewers break no rule; without occurredAt the ledger dates them itself,
    // so the only refusal that may remain is contention after the bounded retries.
    const cam = id('cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('owner'), actor: 'svc:provisioning' });
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_unused, i) =>
        ledger.http('POST', `/v1/devices/${cam}/grants`, { userId: id(`viewer${i}`), actor: 'svc:share' }),
      ),
    );
    const outOfOrder = responses.filter(
      (r) => r.status === 409 && /before the device's previous/.test(r.body.message),
    );
    expect(outOfOrder.map((r) => r.body.message)).toEqual([]);
    expect(responses.filter((r) => r.status !== 201 && r.status !== 409)).toEqual([]);
    const stream = await deviceStream(cam);
    expect(stream.length - 1).toBe(responses.filter((r) => r.status === 201).length);
  });

  describe('optimistic-concurrency retries', () => {
    let restore: (() => void) | null = null;
    afterEach(() => {
      restore?.();
      restore = null;
    });

    /** Wraps the running service's store: `before` runs ahead of every append to the device's stream. */
    function interceptDeviceAppends(
      deviceId: string,
      before: (attempt: number, request: AppendRequest) => Promise<void>,
    ) {
      const store = ledger.store as { append: (request: AppendRequest) => Promise<unknown> };
      const original = store.append;
      let attempts = 0;
      store.append = async (request: AppendRequest) => {
        if (request.stream === Streams.device(deviceId)) await before(++attempts, request);
        return original.call(ledger.store, request);
      };
      restore = () => {
        store.append = original;
      };
      return { attempts: () => attempts };
    }

    it('retries a conflicting append a bounded number of times, then answers 409 and appends nothing', async () => {
      const cam = id('cam');
      await ledger.client.registerDevice({ deviceId: cam, ownerId: id('owner'), actor: 'svc:provisioning' });
      const probe = interceptDeviceAppends(cam, async () => {
        throw new ConcurrencyError(Streams.device(cam), '0', '1');
      });
      const before = await ledger.head();
      const response = await ledger.http('POST', `/v1/devices/${cam}/grants`, {
        userId: id('bob'),
        actor: 'a',
      });
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: expect.stringMatching(/concurrently/),
      });
      const attempts = probe.attempts();
      expect(attempts).toBeGreaterThan(1);
      expect(attempts).toBeLessThanOrEqual(32);
      expect(comparePositions(await ledger.head(), before)).toBe(0);

      // Bounded means the same bound every time, not "until it happens to work".
      const again = await ledger.http('POST', `/v1/devices/${cam}/grants`, { userId: id('bob'), actor: 'a' });
      expect(again.status).toBe(409);
      expect(probe.attempts()).toBe(2 * attempts);
    });

    it('a retry decides again on the new history: a concurrent revoke turns a second revoke into a 409', async () => {
      const cam = id('cam');
      const [owner, bob] = [id('owner'), id('bob')];
      await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:provisioning' });
      await ledger.client.grant(cam, { userId: bob, actor: owner });
      const probe = interceptDeviceAppends(cam, async (attempt, request) => {
        if (attempt !== 1) return;
        // Another client's revoke lands between this handler's read and its append.
        const competing: AppendRequest = {
          stream: request.stream,
          expectedRevision: 'any',
          events: [
            {
              eventId: '00000000-0000-4000-8000-000000000001',
              type: 'AccessRevoked',
              data: { ...request.events[0].data, actor: 'svc:other' },
            },
          ],
        };
        restore?.();
        await ledger.store.append(competing);
      });
      const response = await ledger.http('POST', `/v1/devices/${cam}/revocations`, {
        userId: bob,
        actor: owner,
      });
      expect(probe.attempts()).toBe(1);
      expect(response.status).toBe(409);
      expect(response.body.message).toMatch(/no active access/);
      const stream = await deviceStream(cam);
      expect(stream.map((e) => [e.type, e.data.actor])).toEqual([
        ['DeviceRegistered', 'svc:provisioning'],
        ['AccessGranted', owner],
        ['AccessRevoked', 'svc:other'],
      ]);
    });

    it('a change that loses a few races is still applied once, after retrying', async () => {
      const cam = id('cam');
      const [owner, bob] = [id('owner'), id('bob')];
      await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:provisioning' });
      const probe = interceptDeviceAppends(cam, async (attempt) => {
        if (attempt <= 3) throw new ConcurrencyError(Streams.device(cam), '0', '1');
      });
      const response = await ledger.http('POST', `/v1/devices/${cam}/grants`, { userId: bob, actor: owner });
      expect(response.status).toBe(201);
      expect(probe.attempts()).toBe(4);
      const stream = await deviceStream(cam);
      expect(stream.map((e) => e.type)).toEqual(['DeviceRegistered', 'AccessGranted']);
      expect(comparePositions(stream[1].position, tokenToPosition(response.body.token))).toBe(0);
    });
  });
});
