import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { openEventStore, type EventStore } from '@ledger/event-store';
import {
  deriveSnapshotKey,
  IdempotencyIndex,
  loadSnapshot,
  RelationshipTable,
} from '@ledger/projections';
import { runCommand } from './cli-test-harness';
import { registerRebuildCommand } from './rebuild.command';

const EXPORT_KEY = 'b'.repeat(64);

describe('ledger rebuild', () => {
  let dataDir: string;
  let store: EventStore;

  afterEach(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function rebuildIn(env: Record<string, string>) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-rebuild-'));
    store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    await store.append({
      stream: 'device-cam-1',
      expectedRevision: 'no_stream',
      events: [
        {
          eventId: '0b0b0b0b-0000-4000-8000-000000000001',
          type: 'DeviceRegistered',
          data: {
            deviceId: 'cam-1',
            ownerId: 'alice',
            actor: 'svc:test',
            occurredAt: '2024-02-16T09:00:00.000Z',
            recordedAt: '2024-02-16T09:00:00.000Z',
          },
        },
      ],
    });
    const run = await runCommand(registerRebuildCommand, store, ['rebuild', '--json'], { dataDir, env });
    expect(run.exitCode).toBe(0);
    return loadSnapshot(
      path.join(dataDir, 'snapshots'),
      store.name,
      new RelationshipTable(),
      new IdempotencyIndex(),
      deriveSnapshotKey(EXPORT_KEY),
    );
  }

  it('authenticates the snapshot it writes with the key derived from LEDGER_EXPORT_KEY', async () => {
    const loaded = await rebuildIn({ LEDGER_EXPORT_KEY: EXPORT_KEY });
    expect(loaded).toMatchObject({ kind: 'loaded', authenticated: true });
  });

  it('writes a checksum-only snapshot without LEDGER_EXPORT_KEY (the service then checks it against the log)', async () => {
    const loaded = await rebuildIn({});
    expect(loaded).toMatchObject({ kind: 'loaded', authenticated: false });
  });
});
