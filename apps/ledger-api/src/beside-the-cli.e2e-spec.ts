import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnLedger, TEST_API_KEY, type LedgerChild } from '../../../test/support/ledger-child';
import { tempDataDir } from '../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '..', '..', '..');
/** The defect is the embedded store's: this suite runs on it in the EventStoreDB run too. */
const EMBEDDED = { EVENTSTORE_CONNECTION_STRING: '' };

/** The real CLI, on the sources, against the same data dir as the running service. */
function ledgerCli(
  dataDir: string,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts', ...args],
      { cwd: root, env: { ...process.env, ...EMBEDDED, LEDGER_DATA_DIR: dataDir, CI: 'true' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Issue #12 finding 1, as an operator meets it: the CLI's import, export and replay append to the log the
 * live service writes (docs/operations.md allows them beside it). Every later write of the service to the
 * streams they touched — the device's, its views shard, the audit stream — must still succeed.
 */
describe('the CLI writing beside a live service on the same data dir', () => {
  let dataDir: string;
  let service: LedgerChild;
  const minute = (m: number) => new Date(Date.UTC(2024, 1, 16, 9, m)).toISOString();

  const call = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${service.baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text.length > 0 && text[0] === '{' ? JSON.parse(text) : text };
  };
  const view = (viewerId: string, m: number) => ({
    viewerId,
    deviceId: 'cam-1',
    mediaId: `m-${viewerId}-${m}`,
    mediaType: 'thumbnail',
    action: 'delivered',
    occurredAt: minute(m),
  });

  beforeAll(async () => {
    dataDir = tempDataDir('ledger-beside-cli-');
    service = await spawnLedger(dataDir, EMBEDDED);
  });

  afterAll(async () => {
    await service?.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps answering grants, revokes, views, replays and exports after a CLI import, export and replay', async () => {
    // The service touches the device stream, its views shard and the audit stream first.
    expect(
      (
        await call('POST', '/v1/devices', {
          deviceId: 'cam-1',
          ownerId: 'alice',
          actor: 'svc:p',
          occurredAt: minute(0),
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await call('POST', '/v1/devices/cam-1/grants', {
          userId: 'bob',
          actor: 'alice',
          occurredAt: minute(1),
        })
      ).status,
    ).toBe(201);
    expect((await call('POST', '/v1/views', view('bob', 2))).status).toBe(201);
    expect((await call('POST', '/v1/audit/replay', {})).status).toBe(200);

    const importFile = path.join(dataDir, 'import.ndjson');
    fs.writeFileSync(
      importFile,
      [
        { op: 'grant', deviceId: 'cam-1', userId: 'carol', actor: 'alice', occurredAt: minute(3) },
        { op: 'view', ...view('carol', 4) },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n') + '\n',
    );
    const imported = await ledgerCli(dataDir, 'import', importFile);
    expect(imported).toMatchObject({ status: 0 });
    const exported = await ledgerCli(
      dataDir,
      'export',
      '--device',
      'cam-1',
      '--out',
      path.join(dataDir, 'cam-1.ndjson'),
    );
    expect(exported).toMatchObject({ status: 0 });
    const replayed = await ledgerCli(dataDir, 'replay', '--out', path.join(dataDir, 'report.json'));
    expect(replayed).toMatchObject({ status: 0 });

    // Every stream the CLI wrote to is now ahead of what the service last wrote there.
    const grant = await call('POST', '/v1/devices/cam-1/grants', {
      userId: 'dave',
      actor: 'alice',
      occurredAt: minute(5),
    });
    expect(grant).toMatchObject({ status: 201 });
    const revoke = await call('POST', '/v1/devices/cam-1/revocations', {
      userId: 'carol',
      actor: 'alice',
      occurredAt: minute(6),
    });
    expect(revoke).toMatchObject({ status: 201 });
    const [one, batch] = await Promise.all([
      call('POST', '/v1/views', view('dave', 7)),
      call('POST', '/v1/views/batch', { views: [view('bob', 8), view('dave', 9)] }),
    ]);
    expect(one.status).toBe(201);
    expect(batch.status).toBe(201);
    const report = await call('POST', '/v1/audit/replay', {});
    expect(report.status).toBe(200);
    const trail = await fetch(`${service.baseUrl}/v1/audit/trail?deviceId=cam-1`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(trail.status).toBe(200);
    await trail.text();

    // And the service's answers include what the CLI imported.
    const access = await call(
      'GET',
      `/v1/devices/cam-1/access?atLeast=${encodeURIComponent(batch.body.token)}`,
    );
    expect(access.status).toBe(200);
    expect(access.body.viewers.map((v: { userId: string }) => v.userId).sort()).toEqual(['bob', 'dave']);
  }, 180_000);
});
