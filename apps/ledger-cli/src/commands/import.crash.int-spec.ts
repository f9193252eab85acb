import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openEventStore, readAllPages } from '@ledger/event-store';
import { tempDataDir } from '../../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '../../../..');
const cli = ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts'];

describe('ledger import under kill -9', () => {
  it('rerun after a kill neither loses nor duplicates a line', async () => {
    const dataDir = tempDataDir('ledger-import-crash-');
    const file = path.join(dataDir, 'fleet.ndjson');
    const lines: string[] = [];
    const t0 = Date.UTC(2024, 1, 16, 9, 0, 0);
    const devices = 200;
    for (let d = 0; d < devices; d++) {
      lines.push(
        JSON.stringify({
          op: 'register',
          deviceId: `cam-${d}`,
          ownerId: `owner-${d}`,
          actor: 'svc:import',
          occurredAt: new Date(t0).toISOString(),
        }),
      );
      lines.push(
        JSON.stringify({
          op: 'grant',
          deviceId: `cam-${d}`,
          userId: `friend-${d}`,
          actor: `owner-${d}`,
          occurredAt: new Date(t0 + 1000).toISOString(),
        }),
      );
    }
    const views = 60_000;
    for (let v = 0; v < views; v++) {
      lines.push(
        JSON.stringify({
          op: 'view',
          deviceId: `cam-${v % devices}`,
          viewerId: `friend-${v % devices}`,
          mediaId: `m-${v}`,
          mediaType: 'thumbnail',
          action: 'delivered',
          occurredAt: new Date(t0 + 2000 + v).toISOString(),
        }),
      );
    }
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const env = { ...process.env, LEDGER_DATA_DIR: dataDir, CI: 'true' };

    const child = spawn(process.execPath, [...cli, 'import', file], { cwd: root, env, stdio: 'ignore' });
    const dbFile = path.join(dataDir, 'events.sqlite3');
    // Kill once the import has visibly started writing and committed a first batch, well before it can
    // finish. (A file that grows only says a transaction is being written: batches sized by bytes make
    // transactions large.) Under load the child may take a while to start, so wait as long as it needs
    // (bounded by the test's timeout), not a fixed time.
    const written = () => fs.existsSync(dbFile) && fs.statSync(dbFile).size + walSize(dbFile) > 400_000;
    while (!written() && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 25));
    const watcher = await openEventStore({ dataDir, eventStoreConnectionString: null });
    try {
      while ((await watcher.headPosition()).commit < 0n && child.exitCode === null)
        await new Promise((resolve) => setTimeout(resolve, 5));
    } finally {
      await watcher.close();
    }
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const partial = await countEvents(dataDir);
    expect(partial.registered + partial.views).toBeGreaterThan(0);
    expect(partial.views).toBeLessThan(views);

    const rerun = spawnSync(process.execPath, [...cli, 'import', file], { cwd: root, env, encoding: 'utf8' });
    expect(rerun.status).toBe(0);
    const after = await countEvents(dataDir);
    expect(after).toEqual({ views, distinctMedia: views, registered: devices, granted: devices });
  }, 240_000);
});

function walSize(dbFile: string): number {
  try {
    return fs.statSync(`${dbFile}-wal`).size;
  } catch {
    return 0;
  }
}

async function countEvents(dataDir: string) {
  const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
  const media = new Set<string>();
  let views = 0;
  let registered = 0;
  let granted = 0;
  try {
    for await (const page of readAllPages(store)) {
      for (const event of page) {
        if (event.type === 'MediaViewed') {
          views++;
          media.add(String(event.data.mediaId));
        } else if (event.type === 'DeviceRegistered') registered++;
        else if (event.type === 'AccessGranted') granted++;
      }
    }
  } finally {
    await store.close();
  }
  return { views, distinctMedia: media.size, registered, granted };
}
