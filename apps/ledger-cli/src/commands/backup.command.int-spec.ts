import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { openEventStore, START } from '@ledger/event-store';
import { tempDataDir } from '../../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '../../../..');

describe('ledger backup', () => {
  it('copies the embedded log into a file that opens as a store with the same events', async () => {
    const dataDir = tempDataDir('ledger-backup-');
    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    const events = Array.from({ length: 50 }, (_unused, i) => ({
      eventId: randomUUID(),
      type: 'MediaViewed',
      data: { n: i },
    }));
    await store.append({ stream: 'views-0', expectedRevision: 'any', events });
    const target = path.join(tempDataDir('ledger-backup-target-'), 'copy', 'events.sqlite3');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // The store stays open while the backup runs, as the service would.
    const output = execFileSync(
      process.execPath,
      ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts', 'backup', target],
      {
        cwd: root,
        env: { ...process.env, LEDGER_DATA_DIR: dataDir, CI: 'true' },
        encoding: 'utf8',
      },
    );
    expect(output).toMatch(/backed up \d+ bytes/);
    await store.close();
    const copy = await openEventStore({ dataDir: path.dirname(target), eventStoreConnectionString: null });
    try {
      const page = await copy.readAll({ from: START, direction: 'forwards', maxCount: 100 });
      expect(page.events.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    } finally {
      await copy.close();
    }
  });

  it('refuses to overwrite an existing file (exit 2)', () => {
    const dataDir = tempDataDir('ledger-backup-');
    fs.writeFileSync(path.join(dataDir, 'events.sqlite3'), '');
    const target = path.join(dataDir, 'exists');
    fs.writeFileSync(target, 'x');
    let status = 0;
    try {
      execFileSync(
        process.execPath,
        ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts', 'backup', target],
        {
          cwd: root,
          env: { ...process.env, LEDGER_DATA_DIR: dataDir, CI: 'true' },
          stdio: 'pipe',
        },
      );
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(2);
    expect(fs.readFileSync(target, 'utf8')).toBe('x');
  });
});
