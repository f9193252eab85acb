import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiKeyConfig } from '@ledger/config';
import { spawnLedger, type LedgerChild } from '../../../test/support/ledger-child';
import { startLedger, tempDataDir, uniqueIds } from '../../../test/support/ledger-test-app';
import { ApiKeyGuard } from './auth/api-key.guard';

/**
 * API keys are secrets: compared by digest, never logged, never echoed, kept on disk only with mode 0600; and
 * the guard answers exactly as contract §3 says (no or unknown key → 401, key without the scope → 403).
 */

const ADMIN = 'sk-admin-7f3a9c1e5b2d4f60a8c7e9b1d3f5a7c9';
const READER = 'sk-reader-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e';
const WRITER = 'sk-writer-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b';
const AUDITOR = 'sk-auditor-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d';
const KEYS: ApiKeyConfig[] = [
  { name: 'admin', key: ADMIN, scopes: ['ledger:write', 'ledger:read', 'audit:replay', 'audit:export'] },
  { name: 'reader', key: READER, scopes: ['ledger:read'] },
  { name: 'writer', key: WRITER, scopes: ['ledger:write'] },
  { name: 'auditor', key: AUDITOR, scopes: ['audit:replay', 'audit:export'] },
];
/** Near misses of real keys are secrets too: they give most of a key away. */
const WRONG = [`${ADMIN}x`, ADMIN.slice(0, -1), ADMIN.toUpperCase(), `${READER.slice(0, -1)}0`];

type Scope = 'ledger:write' | 'ledger:read' | 'audit:replay' | 'audit:export';
const ROUTES: ReadonlyArray<{ method: string; path: string; scope: Scope }> = [
  { method: 'POST', path: '/v1/devices', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/devices/cam-1/grants', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/devices/cam-1/revocations', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/devices/cam-1/transfers', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/devices/cam-1/decommission', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/views', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/views/batch', scope: 'ledger:write' },
  { method: 'POST', path: '/v1/media/authorize', scope: 'ledger:write' },
  { method: 'GET', path: '/v1/devices/cam-1/access', scope: 'ledger:read' },
  { method: 'GET', path: '/v1/users/alice/devices', scope: 'ledger:read' },
  { method: 'POST', path: '/v1/check', scope: 'ledger:read' },
  { method: 'POST', path: '/v1/check/bulk', scope: 'ledger:read' },
  { method: 'GET', path: '/v1/projection', scope: 'ledger:read' },
  { method: 'GET', path: '/v1/watch', scope: 'ledger:read' },
  { method: 'POST', path: '/v1/audit/replay', scope: 'audit:replay' },
  { method: 'GET', path: '/v1/audit/trail', scope: 'audit:export' },
];

async function call(
  baseUrl: string,
  method: string,
  urlPath: string,
  authorization?: string,
  body?: unknown,
): Promise<{
  status: number;
  text: string;
  json: { statusCode?: number; error?: string; message?: string };
}> {
  const response = await fetch(`${baseUrl}${urlPath}`, {
    method,
    headers: {
      ...(authorization === undefined ? {} : { authorization }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, text, json };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('API key guard', () => {
  it('keeps only digests of the keys and finds the client by the digest of the key presented', () => {
    const guard = new ApiKeyGuard(new Reflector(), KEYS);
    const held = inspect(guard, { depth: 10, showHidden: true, maxArrayLength: null, maxStringLength: null });
    for (const { key } of KEYS) expect({ key, held: held.includes(key) }).toEqual({ key, held: false });

    const needsRead = new ApiKeyGuard(
      { getAllAndOverride: () => 'ledger:read' } as unknown as Reflector,
      KEYS,
    );
    const call = (authorization?: string) =>
      needsRead.canActivate({
        getHandler: () => undefined,
        getClass: () => undefined,
        switchToHttp: () => ({ getRequest: () => ({ headers: { authorization } }) }),
      } as unknown as ExecutionContext);
    expect(call(`Bearer ${READER}`)).toBe(true);
    expect(() => call(`Bearer ${WRITER}`)).toThrow(ForbiddenException);
    expect(() => call(`Bearer ${READER}x`)).toThrow(UnauthorizedException);
    expect(() => call(undefined)).toThrow(UnauthorizedException);
  });
});

describe('secrets handling (service as a child process)', () => {
  describe('with LEDGER_API_KEYS', () => {
    let child: LedgerChild;
    const bodies: string[] = [];

    beforeAll(async () => {
      // The most verbose logging there is: every request is logged, so a key in a log line would show.
      child = await spawnLedger(tempDataDir('ledger-secrets-'), {
        LEDGER_API_KEYS: JSON.stringify(KEYS),
        LOG_LEVEL: 'trace',
      });
    });
    afterAll(async () => {
      await child?.kill('SIGKILL');
    });

    it('answers 401 for no or unknown key, 403 for a key without the scope, on every /v1 route; /health needs none', async () => {
      const holders: Record<Scope, string[]> = {
        'ledger:write': [ADMIN, WRITER],
        'ledger:read': [ADMIN, READER],
        'audit:replay': [ADMIN, AUDITOR],
        'audit:export': [ADMIN, AUDITOR],
      };
      const all = [ADMIN, READER, WRITER, AUDITOR];
      const table: string[] = [];
      const record = (route: (typeof ROUTES)[number], who: string, status: number, expected: string) => {
        table.push(`${route.method} ${route.path} ${who}: ${status} (want ${expected})`);
      };
      for (const route of ROUTES) {
        // A body that is refused once past the guard: with the right scope the answer is 400/404, never a write.
        const body = route.method === 'POST' ? { unknownField: true } : undefined;
        for (const [who, authorization] of [
          ['no header', undefined],
          ['empty', ''],
          ['Bearer without key', 'Bearer '],
          ['Basic', `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}`],
          ...WRONG.map((key, i): [string, string] => [`wrong key ${i}`, `Bearer ${key}`]),
        ] as Array<[string, string | undefined]>) {
          const response = await call(child.baseUrl, route.method, route.path, authorization, body);
          if (response.status !== 401) record(route, who, response.status, '401');
          else bodies.push(response.text);
          expect(response.json).toEqual({
            statusCode: 401,
            error: 'Unauthorized',
            message: expect.any(String),
          });
        }
        for (const key of all.filter((k) => !holders[route.scope].includes(k))) {
          const response = await call(child.baseUrl, route.method, route.path, `Bearer ${key}`, body);
          if (response.status !== 403)
            record(route, KEYS.find((k) => k.key === key)!.name, response.status, '403');
          else bodies.push(response.text);
          expect(response.json.message).toContain(route.scope);
        }
        if (route.path === '/v1/watch') continue; // with the scope it streams forever
        for (const key of holders[route.scope]) {
          const response = await call(child.baseUrl, route.method, route.path, `Bearer ${key}`, body);
          if (response.status === 401 || response.status === 403) {
            record(route, KEYS.find((k) => k.key === key)!.name, response.status, 'past the guard');
          }
          bodies.push(response.text);
        }
      }
      expect(table).toEqual([]);
      for (const authorization of [undefined, 'Bearer nonsense', `Bearer ${READER}`]) {
        expect((await call(child.baseUrl, 'GET', '/health', authorization)).status).toBe(200);
      }
    });

    it('works with the right keys and never writes any key, right or wrong, to its output or into a response', async () => {
      const cam = uniqueIds('secrets')('cam');
      const registered = await call(child.baseUrl, 'POST', '/v1/devices', `Bearer ${WRITER}`, {
        deviceId: cam,
        ownerId: 'alice',
        actor: 'svc:provisioning',
      });
      expect(registered.status).toBe(201);
      bodies.push(registered.text);
      const read = await call(child.baseUrl, 'GET', `/v1/devices/${cam}/access`, `bearer ${READER}`);
      expect(read.status).toBe(200);
      bodies.push(read.text);
      // Keys where a careless server might echo them: idempotency key, request id, a body field.
      const echoed = await fetch(`${child.baseUrl}/v1/devices/${cam}/grants`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${WRONG[0]}`,
          'idempotency-key': WRONG[1],
          'content-type': 'application/json',
        },
        body: JSON.stringify({ userId: 'bob', actor: 'alice' }),
      });
      expect(echoed.status).toBe(401);
      bodies.push(await echoed.text());

      await child.kill('SIGTERM');
      const output = child.output();
      // The output is not empty: requests were logged, so the absence of keys below means something.
      expect(output).toContain(`/v1/devices/${cam}/access`);
      expect(output).toMatch(/"statusCode":401/);
      for (const secret of [ADMIN, READER, WRITER, AUDITOR, ...WRONG]) {
        expect({ secret, inOutput: output.includes(secret) }).toEqual({ secret, inOutput: false });
        expect({ secret, inResponses: bodies.some((b) => b.includes(secret)) }).toEqual({
          secret,
          inResponses: false,
        });
      }
    });
  });

  describe('with a generated admin key', () => {
    it('prints the key once in the start banner and nowhere else, and keeps key files and snapshots at mode 0600', async () => {
      const dataDir = tempDataDir('ledger-secrets-generated-');
      const child = await spawnLedger(dataDir, { LEDGER_API_KEYS: '', LOG_LEVEL: 'trace' });
      let key: string;
      try {
        await waitFor(() => /local admin API key/.test(child.output()), 'the start banner');
        const keyFile = path.join(dataDir, 'admin-api-key.json');
        key = (JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { key: string }).key;
        expect(mode(keyFile)).toBe(0o600);
        const exportKey = path.join(dataDir, 'export-key.pem');
        expect(fs.existsSync(exportKey)).toBe(true);
        expect(mode(exportKey)).toBe(0o600);

        const registered = await call(child.baseUrl, 'POST', '/v1/devices', `Bearer ${key}`, {
          deviceId: uniqueIds('secrets')('cam'),
          ownerId: 'alice',
          actor: 'svc:provisioning',
        });
        expect(registered.status).toBe(201);
        expect((await call(child.baseUrl, 'GET', '/v1/projection', `Bearer ${key}x`)).status).toBe(401);
        expect(registered.text).not.toContain(key);
      } finally {
        await child.kill('SIGTERM');
      }
      const output = child.output();
      const banner = output.split('\n').filter((line) => line.includes(key));
      expect(banner).toEqual([
        `  ${key}`,
        `  curl -H 'Authorization: Bearer ${key}' http://localhost:${new URL(child.baseUrl).port}/v1/projection`,
      ]);
      // The snapshot written on shutdown holds every idempotency answer: not for other users' eyes either.
      const snapshot = path.join(dataDir, 'snapshots', 'relationships.snapshot');
      expect(fs.existsSync(snapshot)).toBe(true);
      expect(mode(snapshot)).toBe(0o600);
      expect(fs.readFileSync(snapshot, 'utf8')).not.toContain(key);
    });

    it('tightens a key file that was left readable by others back to 0600 on start', async () => {
      const dataDir = tempDataDir('ledger-secrets-perms-');
      const first = await startLedger({ dataDir, env: { LEDGER_API_KEYS: '' } });
      await first.close();
      const keyFile = path.join(dataDir, 'admin-api-key.json');
      fs.chmodSync(keyFile, 0o644);
      fs.chmodSync(path.join(dataDir, 'export-key.pem'), 0o644);
      const second = await startLedger({ dataDir, env: { LEDGER_API_KEYS: '' } });
      try {
        expect(mode(keyFile)).toBe(0o600);
        expect(mode(path.join(dataDir, 'export-key.pem'))).toBe(0o600);
        expect((await second.http('GET', '/v1/projection')).status).toBe(200);
      } finally {
        await second.close();
      }
    });
  });
});
