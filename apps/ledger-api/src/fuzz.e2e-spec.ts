import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { comparePositions } from '@ledger/event-store';
import { hostileRequest, type FuzzKeys, type HostileRequest } from '../../../test/support/hostile-requests';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../test/support/ledger-test-app';
import { sendRaw, type RawOutcome } from '../../../test/support/raw-http';
import { seededRandom } from '../../../test/support/seeded-random';

/**
 * Thousands of hostile requests per run (seeded: a failure names its seed; LEDGER_TEST_SEED=<n> replays it).
 * Every request is refused by construction, so: never a 5xx, every error is the contract's JSON, the log does
 * not move, the process stays up, and its heap does not grow with the traffic.
 */

const KEYS: FuzzKeys = {
  admin: 'fuzz-admin-key-0123456789abcdef',
  reader: 'fuzz-reader-key-0123456789abcdef',
};
const WARM_UP = 300;
const REQUESTS = 1700;
const CONCURRENCY = 8;

function collectGarbage(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

interface Finding {
  readonly defect: string;
  readonly request: string;
  readonly problem: string;
}

describe('API fuzzing (end to end)', () => {
  let ledger: LedgerTestApp;
  let port: number;

  beforeAll(async () => {
    ledger = await startLedger({
      env: {
        // The HTTP layer is under test, and "nothing appended" needs a log no other suite writes to: the
        // embedded store, even in the EventStoreDB suite.
        EVENTSTORE_CONNECTION_STRING: '',
        LEDGER_API_KEYS: JSON.stringify([
          {
            name: 'admin',
            key: KEYS.admin,
            scopes: ['ledger:write', 'ledger:read', 'audit:replay', 'audit:export'],
          },
          { name: 'reader', key: KEYS.reader, scopes: ['ledger:read'] },
        ]),
      },
    });
    port = Number(new URL(ledger.baseUrl).port);
  });
  afterAll(async () => {
    await ledger.close();
  });

  function judge(request: HostileRequest, outcome: RawOutcome): string | null {
    if (outcome.kind === 'closed') {
      // Only requests that are not HTTP at all may be dropped without an answer.
      return request.method === 'CONNECT' ? null : `connection ${outcome.detail} without a response`;
    }
    const { status, body } = outcome.response;
    if (status >= 500) return `status ${status}: ${body.toString('utf8').slice(0, 300)}`;
    if (request.method === 'POST' && status < 300)
      return `accepted (${status}) a request that must be refused`;
    if (/^\/v1\/media\/authorize/.test(request.path) && /"allowed"/.test(body.toString('utf8'))) {
      return `decided (${status}) a request that must be refused`;
    }
    if (status >= 400 && request.method !== 'HEAD') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return `status ${status} with a body that is not JSON: ${body.toString('latin1').slice(0, 120)}`;
      }
      const error = parsed as { statusCode?: unknown; error?: unknown; message?: unknown };
      if (
        error.statusCode !== status ||
        typeof error.error !== 'string' ||
        typeof error.message !== 'string'
      ) {
        return `status ${status} with a body that is not {statusCode, error, message}: ${body.toString('utf8').slice(0, 200)}`;
      }
    }
    return null;
  }

  async function storm(
    count: number,
    seed: number,
  ): Promise<{ findings: Finding[]; statuses: Map<number, number> }> {
    const random = seededRandom(seed);
    const head = await ledger.head();
    const findings: Finding[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        const request = hostileRequest(KEYS, random, () => head.commit);
        const outcome = await sendRaw(port, request);
        const status = outcome.kind === 'response' ? outcome.response.status : 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const problem = judge(request, outcome);
        if (problem) {
          findings.push({
            defect: request.defect,
            request: `${request.method} ${request.path.slice(0, 120)}`,
            problem,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return { findings, statuses };
  }

  it('answers thousands of hostile requests with JSON errors, never a 5xx, appends nothing, stays up, keeps its heap', async () => {
    const id = uniqueIds('fuzz');
    const [cam, alice, bob] = [id('cam'), id('alice'), id('bob')];
    await ledger.client.registerDevice({ deviceId: cam, ownerId: alice, actor: 'svc:fuzz' });
    await ledger.client.grant(cam, { userId: bob, actor: alice });
    await ledger.projection.catchUpToHead(5000);
    const headBefore = await ledger.head();
    const projectionBefore = await ledger.client.projection();
    const seed = seededRandom().seed;
    const gc = collectGarbage();

    const warmUp = await storm(WARM_UP, seed);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const run = await storm(REQUESTS, seed + 1);
    gc();
    const heapAfter = process.memoryUsage().heapUsed;

    const context = `seed ${seed} (LEDGER_TEST_SEED=${seed} replays it)`;
    expect({
      context,
      findings: [...warmUp.findings, ...run.findings]
        .map((f) => `${f.problem.slice(0, 40)} | ${f.defect.slice(0, 40)} | ${f.request.slice(0, 40)}`)
        .filter((v, i, a) => a.indexOf(v) === i)
        .slice(0, 60),
    }).toEqual({ context, findings: [] });
    // The storm exercised the refusals it was meant to, not one error path over and over.
    for (const status of [400, 401, 403, 404, 413, 415]) {
      expect({ context, status, seen: (run.statuses.get(status) ?? 0) > 0 }).toEqual({
        context,
        status,
        seen: true,
      });
    }

    expect(comparePositions(await ledger.head(), headBefore)).toBe(0);
    expect(await ledger.client.projection()).toEqual(projectionBefore);
    const health = await fetch(`${ledger.baseUrl}/health`);
    expect(health.status).toBe(200);
    const check = await ledger.client.check({ userId: bob, deviceId: cam });
    expect(check).toMatchObject({ allowed: true, role: 'viewer' });

    // Generous (a run leaves about 1 MiB): thousands of requests, some of them megabytes, must not pile up.
    const growthMiB = Math.round((heapAfter - heapBefore) / 2 ** 20);
    expect({ context, growthMiB, under24MiB: growthMiB < 24 }).toEqual({
      context,
      growthMiB,
      under24MiB: true,
    });
  });
});
