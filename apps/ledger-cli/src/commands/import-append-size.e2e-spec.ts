/**
 * `ledger import` on EventStoreDB sizes its appends by bytes: views of one shard that a line count would put in
 * one append are split under `EVENTSTORE_MAX_APPEND_BYTES`, so a server with a small `--max-append-size` stores
 * them all. Runs on a private test server in both suites.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { startEsdbTestServer, type EsdbTestServer } from '@ledger/esdb-test-server';
import { ExitCode } from '../cli-context';
import { runCommand } from './cli-test-harness';
import { registerImportCommand } from './import.command';

const SERVER_LIMIT = 4096;

let dir: string;
let server: EsdbTestServer;
const stores: EventStore[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-import-size-'));
  server = await startEsdbTestServer({ maxAppendSize: SERVER_LIMIT });
});

afterAll(async () => {
  for (const store of stores) await store.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function store(maxAppendBytes = SERVER_LIMIT): Promise<EventStore> {
  const opened = await openEventStore({
    dataDir: dir,
    eventStoreConnectionString: server.connectionString,
    eventStoreMaxAppendBytes: maxAppendBytes,
  });
  stores.push(opened);
  return opened;
}

/** A device and `count` views of it: one views shard, far more bytes than one append may hold. */
function importFile(name: string, deviceId: string, count: number): string {
  const lines = [
    { op: 'register', deviceId, ownerId: 'alice', actor: 'svc:p', occurredAt: '2024-02-16T09:00:00Z' },
    ...Array.from({ length: count }, (_, n) => ({
      op: 'view',
      viewerId: 'alice',
      deviceId,
      mediaId: `media-${n}-${'x'.repeat(40)}`,
      mediaType: 'thumbnail',
      action: 'delivered',
      occurredAt: '2024-02-16T09:01:00Z',
    })),
  ];
  const path = join(dir, name);
  writeFileSync(path, lines.map((line) => JSON.stringify(line)).join('\n'));
  return path;
}

const viewsOf = (deviceId: string) =>
  server.log.all.filter(
    (event) =>
      event.type === 'MediaViewed' && Buffer.from(event.data).toString('utf8').includes(`"${deviceId}"`),
  );

describe('ledger import against the maximum append size', () => {
  it('splits one shard’s views into appends under EVENTSTORE_MAX_APPEND_BYTES; the server stores them all', async () => {
    const path = importFile('sized.ndjson', 'cam-sized', 300);
    const appendsBefore = server.calls.batchAppendRequests + server.calls.append;
    const run = await runCommand(registerImportCommand, await store(), ['import', path], {
      dataDir: dir,
      env: { EVENTSTORE_MAX_APPEND_BYTES: String(SERVER_LIMIT) },
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/301 lines, 301 accepted, 0 already imported, 0 rejected/);
    expect(run.exitCode).toBe(ExitCode.ok);
    expect(viewsOf('cam-sized')).toHaveLength(300);
    // Sized by bytes: about 200 bytes a view, so a dozen or so appends of 4 KiB, none refused (a refused append
    // is retried one event per append: hundreds, as the next test shows).
    const appends = server.calls.batchAppendRequests + server.calls.append - appendsBefore;
    expect(appends).toBeGreaterThan(10);
    expect(appends).toBeLessThan(40);
  });

  it('configured above the server’s limit, the refused appends are retried one event each: all stored, none twice', async () => {
    const path = importFile('unsized.ndjson', 'cam-unsized', 300);
    const appendsBefore = server.calls.batchAppendRequests + server.calls.append;
    const run = await runCommand(registerImportCommand, await store(1024 * 1024), ['import', path], {
      dataDir: dir,
    });
    expect(run.stdout).toMatch(/301 lines, 301 accepted, 0 already imported, 0 rejected/);
    expect(run.exitCode).toBe(ExitCode.ok);
    expect(viewsOf('cam-unsized')).toHaveLength(300);
    expect(server.calls.batchAppendRequests + server.calls.append - appendsBefore).toBeGreaterThanOrEqual(
      300,
    );
  });
});
