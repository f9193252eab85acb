import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startLedger, tempDataDir, type LedgerTestApp } from '../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '..', '..', '..');

/** Issue #16 item 1: Idempotency-Keys are remembered for LEDGER_IDEMPOTENCY_RETENTION, then forgotten. */
describe('Idempotency-Key retention (end to end)', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger({ env: { LEDGER_IDEMPOTENCY_RETENTION: '2s' } });
  });
  afterAll(async () => {
    await ledger?.close();
  });

  it('answers a repeated key as before inside the window; after it, the key is a new request', async () => {
    const key = { 'idempotency-key': `retention-${Date.now()}` };
    const first = await ledger.http(
      'POST',
      '/v1/devices',
      { deviceId: 'ret-cam-1', ownerId: 'alice', actor: 'svc:p' },
      key,
    );
    expect(first.status).toBe(201);
    const repeated = await ledger.http(
      'POST',
      '/v1/devices',
      { deviceId: 'ret-cam-1', ownerId: 'alice', actor: 'svc:p' },
      key,
    );
    expect(repeated).toMatchObject({ status: 201, body: first.body });
    const otherBody = await ledger.http(
      'POST',
      '/v1/devices',
      { deviceId: 'ret-cam-2', ownerId: 'bob', actor: 'svc:p' },
      key,
    );
    expect(otherBody.status).toBe(409);

    await new Promise((resolve) => setTimeout(resolve, 2500));
    const reused = await ledger.http(
      'POST',
      '/v1/devices',
      { deviceId: 'ret-cam-2', ownerId: 'bob', actor: 'svc:p' },
      key,
    );
    expect(reused.status).toBe(201);
    expect((reused.body as { token: string }).token).not.toBe((first.body as { token: string }).token);
    // And the reuse is now the key's remembered answer.
    const again = await ledger.http(
      'POST',
      '/v1/devices',
      { deviceId: 'ret-cam-2', ownerId: 'bob', actor: 'svc:p' },
      key,
    );
    expect(again).toMatchObject({ status: 201, body: reused.body });
  });

  it('refuses a retention that is not a duration at start-up, naming the variable (exit 2)', () => {
    const result = spawnSync(
      process.execPath,
      ['-r', './test/support/register-ts.js', 'apps/ledger-api/src/main.ts'],
      {
        cwd: root,
        env: { ...process.env, LEDGER_DATA_DIR: tempDataDir(), LEDGER_IDEMPOTENCY_RETENTION: 'a day' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      'configuration error: LEDGER_IDEMPOTENCY_RETENTION: must be a duration such as 24h, 30m or 90s, got "a day"',
    );
  });
});
