import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openEventStore } from '@ledger/event-store';
import { tempDataDir } from '../../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '../../../..');
const cli = ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts'];

describe('ledger export under kill -9', () => {
  it('leaves no file under the requested name and no export on the record; a rerun is intact', async () => {
    const dataDir = tempDataDir('ledger-export-crash-');
    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    const t0 = Date.UTC(2024, 1, 16, 9, 0, 0);
    await store.append({
      stream: 'device-cam-1',
      expectedRevision: 'no_stream',
      events: [
        {
          eventId: randomUUID(),
          type: 'DeviceRegistered',
          data: {
            deviceId: 'cam-1',
            ownerId: 'alice',
            actor: 'svc:p',
            occurredAt: new Date(t0).toISOString(),
            recordedAt: new Date(t0).toISOString(),
          },
        },
      ],
    });
    const views = 80_000;
    for (let start = 0; start < views; start += 1000) {
      await store.append({
        stream: 'views-0',
        expectedRevision: 'any',
        events: Array.from({ length: 1000 }, (_unused, i) => {
          const at = new Date(t0 + 1000 + start + i).toISOString();
          return {
            eventId: randomUUID(),
            type: 'MediaViewed',
            data: {
              viewerId: 'alice',
              deviceId: 'cam-1',
              mediaId: `m-${start + i}`,
              mediaType: 'thumbnail',
              action: 'delivered',
              occurredAt: at,
              recordedAt: at,
            },
          };
        }),
      });
    }
    await store.close();

    const target = path.join(dataDir, 'cam-1.ndjson');
    const env = { ...process.env, LEDGER_DATA_DIR: dataDir, CI: 'true' };
    const child = spawn(process.execPath, [...cli, 'export', '--device', 'cam-1', '--out', target], {
      cwd: root,
      env,
      stdio: 'ignore',
    });
    const partialWritten = () =>
      fs
        .readdirSync(dataDir)
        .some((f) => f.endsWith('.partial') && fs.statSync(path.join(dataDir, f)).size > 100_000);
    // Wait as long as the child needs to get going (bounded by the test's timeout): the machine may be busy.
    while (!partialWritten() && child.exitCode === null)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    expect(fs.existsSync(target)).toBe(false);
    const check = await openEventStore({ dataDir, eventStoreConnectionString: null });
    try {
      expect(await check.readStream('ledger-audit')).toEqual([]);
    } finally {
      await check.close();
    }

    const rerun = spawnSync(process.execPath, [...cli, 'export', '--device', 'cam-1', '--out', target], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    expect(rerun.status).toBe(0);
    const verified = spawnSync(process.execPath, [...cli, 'verify', target], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    expect(verified.status).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`${views + 1} records`));
  }, 240_000);
});
