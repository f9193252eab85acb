/**
 * Several ledger-api instances on one EventStoreDB (here: three processes on one test server), as
 * docs/operations.md deploys them behind a load balancer. A client may reach any instance with any request, so:
 * a token from one instance is honoured by every other (after a bounded wait, else 503 with Retry-After); a
 * revoke acknowledged by one instance is seen by a check on another given its token (no new enemy); the same
 * Idempotency-Key sent to two instances at the same instant writes once and both get the same answer; and a
 * store restart mid-traffic loses no acknowledged write while every instance resumes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { positionToToken } from '@ledger/event-store';
import { startEsdbTestServer, type EsdbTestServer } from '@ledger/esdb-test-server';
import { spawnLedger, TEST_API_KEY, type LedgerChild } from '../../../test/support/ledger-child';
import { tempDataDir } from '../../../test/support/ledger-test-app';

const CONSISTENCY_WAIT_MS = 1500;

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

describe('three ledger-api instances on one EventStoreDB', () => {
  let server: EsdbTestServer;
  let instances: LedgerChild[] = [];

  beforeAll(async () => {
    server = await startEsdbTestServer();
    instances = await Promise.all(
      [0, 1, 2].map(() =>
        spawnLedger(tempDataDir('ledger-multi-'), {
          EVENTSTORE_CONNECTION_STRING: server.connectionString,
          LEDGER_CONSISTENCY_WAIT_MS: String(CONSISTENCY_WAIT_MS),
        }),
      ),
    );
  }, 240_000);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.kill('SIGTERM')));
    await server?.stop();
  });

  async function call(
    instance: LedgerChild,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const response = await fetch(`${instance.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  async function written(instance: LedgerChild, path: string, body: unknown): Promise<string> {
    const answer = await call(instance, 'POST', path, body);
    expect({ path, status: answer.status }).toEqual({ path, status: 201 });
    return answer.body.token as string;
  }

  const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const view = (deviceId: string, n: number) => ({
    viewerId: unique('viewer'),
    deviceId,
    mediaId: `media-${n}`,
    mediaType: 'thumbnail',
    action: 'delivered',
    occurredAt: new Date(Date.now() - 1000).toISOString(),
  });

  it('a token from any instance is honoured by every other; one past the log waits, then 503 with Retry-After', async () => {
    for (const [writer, index] of instances.map((instance, i) => [instance, i] as const)) {
      const deviceId = unique(`cam${index}`);
      const owner = unique('owner');
      const viewer = unique('viewer');
      await written(writer, '/v1/devices', { deviceId, ownerId: owner, actor: 'svc:test' });
      const token = await written(writer, `/v1/devices/${deviceId}/grants`, { userId: viewer, actor: owner });
      for (const reader of instances) {
        const access = await call(reader, 'GET', `/v1/devices/${deviceId}/access?atLeast=${token}`);
        expect(access.status).toBe(200);
        expect(access.body.owner.userId).toBe(owner);
        expect(access.body.viewers.map((v: { userId: string }) => v.userId)).toEqual([viewer]);
        const check = await call(reader, 'POST', '/v1/check', { userId: viewer, deviceId, atLeast: token });
        expect(check.body).toMatchObject({ allowed: true, role: 'viewer' });
      }
    }
    const farAhead = positionToToken({ commit: 10n ** 15n, prepare: 10n ** 15n });
    for (const reader of instances) {
      const answer = await call(reader, 'POST', '/v1/check', {
        userId: unique('u'),
        deviceId: unique('d'),
        atLeast: farAhead,
      });
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    }
  }, 120_000);

  it('no new enemy across instances: grant on one, revoke on another, check on the third with the token', async () => {
    const rounds = 24;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: rounds }, async (_, round) => {
        const [granter, revoker, checker] = [0, 1, 2].map((k) => instances[(round + k) % 3]);
        const deviceId = unique(`newenemy${round}`);
        const owner = unique('owner');
        const user = unique('user');
        await written(granter, '/v1/devices', { deviceId, ownerId: owner, actor: 'svc:test' });
        for (let repeat = 0; repeat < 3; repeat++) {
          const granted = await written(granter, `/v1/devices/${deviceId}/grants`, {
            userId: user,
            actor: owner,
          });
          const seen = await call(checker, 'POST', '/v1/check', { userId: user, deviceId, atLeast: granted });
          if (seen.body.allowed !== true) failures.push(`round ${round}.${repeat}: grant not seen`);
          const revoked = await written(revoker, `/v1/devices/${deviceId}/revocations`, {
            userId: user,
            actor: owner,
          });
          // The revoke was acknowledged by one instance; any instance given its token must deny.
          for (const instance of [checker, granter]) {
            const check = await call(instance, 'POST', '/v1/check', {
              userId: user,
              deviceId,
              atLeast: revoked,
            });
            if (check.status !== 200 || check.body.allowed !== false)
              failures.push(`round ${round}.${repeat}: revoked user allowed (${check.status})`);
          }
        }
      }),
    );
    expect(failures).toEqual([]);
  }, 180_000);

  it('the same Idempotency-Key sent to two instances at the same instant writes once; both answers are the same', async () => {
    const deviceId = unique('idem');
    const owner = unique('owner');
    await written(instances[0], '/v1/devices', { deviceId, ownerId: owner, actor: 'svc:test' });
    const requests: Array<[string, unknown]> = [
      ['/v1/views/batch', { views: [view(deviceId, 1), view(deviceId, 2), view(deviceId, 3)] }],
      ['/v1/views', view(deviceId, 4)],
      [`/v1/devices/${deviceId}/grants`, { userId: unique('user'), actor: owner }],
      ['/v1/media/authorize', { ...view(deviceId, 5), viewerId: owner, occurredAt: undefined }],
    ];
    for (const [path, body] of requests) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const key = randomUUID();
        const before = server.log.all.length;
        const [first, second] = await Promise.all(
          [instances[1], instances[2]].map((instance) =>
            call(instance, 'POST', path, body, { 'idempotency-key': key }),
          ),
        );
        expect(first.status).toBeLessThan(500);
        expect({ status: second.status, body: second.body }).toEqual({
          status: first.status,
          body: first.body,
        });
        const written = server.log.all.slice(before).filter((event) => !event.stream.name.startsWith('$'));
        const expected = path === '/v1/views/batch' ? 3 : 1;
        expect({ path, written: written.length }).toEqual({ path, written: expected });
        // A third copy, to the remaining instance later on, gets the same answer and writes nothing.
        const again = await call(instances[0], 'POST', path, body, { 'idempotency-key': key });
        expect({ status: again.status, body: again.body }).toEqual({
          status: first.status,
          body: first.body,
        });
        expect(server.log.all.length).toBe(before + expected);
      }
    }
  }, 180_000);

  it('a store restart mid-traffic loses no acknowledged write and every instance resumes', async () => {
    const deviceId = unique('restart');
    const owner = unique('owner');
    await written(instances[0], '/v1/devices', { deviceId, ownerId: owner, actor: 'svc:test' });
    const acknowledgedViews: string[] = [];
    const acknowledgedGrants: Array<{ user: string; token: string }> = [];
    let stop = false;
    const traffic = instances.map(async (instance, lane) => {
      for (let n = 0; !stop; n++) {
        try {
          if (n % 2 === 0) {
            const answer = await call(instance, 'POST', '/v1/views', view(deviceId, n));
            if (answer.status === 201) acknowledgedViews.push(answer.body.eventId as string);
            else expect(answer.status).toBe(503);
          } else {
            const user = unique(`user${lane}`);
            const answer = await call(instance, 'POST', `/v1/devices/${deviceId}/grants`, {
              userId: user,
              actor: owner,
            });
            if (answer.status === 201) acknowledgedGrants.push({ user, token: answer.body.token as string });
            else expect([409, 503]).toContain(answer.status);
          }
        } catch (error) {
          // The instance itself must stay up: only the store goes away.
          throw new Error(`instance ${lane} failed: ${(error as Error).message}\n${instance.output()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const beforeRestart = acknowledgedViews.length + acknowledgedGrants.length;
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await server.restart();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    stop = true;
    await Promise.all(traffic);
    expect(beforeRestart).toBeGreaterThan(0);

    // Every instance writes and reads again once the store is back.
    let lastToken = '';
    for (const instance of instances) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const answer = await call(instance, 'POST', '/v1/views', view(deviceId, -1));
        if (answer.status === 201) {
          acknowledgedViews.push(answer.body.eventId as string);
          lastToken = answer.body.token as string;
          break;
        }
        if (Date.now() > deadline) throw new Error(`instance did not resume: ${answer.status}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    const stored = new Set(server.log.all.map((event) => event.id));
    expect(acknowledgedViews.filter((id) => !stored.has(id))).toEqual([]);
    for (const instance of instances) {
      const deadline = Date.now() + 60_000;
      let access: Answer;
      for (;;) {
        access = await call(instance, 'GET', `/v1/devices/${deviceId}/access?atLeast=${lastToken}`);
        if (access.status === 200 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(access.status).toBe(200);
      const viewers = new Set(access.body.viewers.map((v: { userId: string }) => v.userId));
      expect(acknowledgedGrants.filter((grant) => !viewers.has(grant.user))).toEqual([]);
    }
  }, 240_000);
});
