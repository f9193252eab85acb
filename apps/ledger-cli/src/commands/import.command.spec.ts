import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryEventStore } from '../../../../libs/replay/src/testing/in-memory-event-store';
import { ExitCode, UsageError } from '../cli-context';
import { runCommand } from './cli-test-harness';
import { registerImportCommand } from './import.command';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-import-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = [
  { op: 'register', deviceId: 'cam-1', ownerId: 'alice', actor: 'svc:p', occurredAt: '2024-02-16T09:00:00Z' },
  { op: 'grant', deviceId: 'cam-1', userId: 'bob', actor: 'alice', occurredAt: '2024-02-16T09:01:00Z' },
  {
    op: 'view',
    viewerId: 'bob',
    deviceId: 'cam-1',
    mediaId: 'm1',
    mediaType: 'thumbnail',
    action: 'opened',
    occurredAt: '2024-02-16T09:02:00Z',
  },
];

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('ledger import', () => {
  it('imports a clean file, prints a summary and exits 0; a rerun adds nothing', async () => {
    const path = file('clean.ndjson', lines.map((l) => JSON.stringify(l)).join('\n'));
    const store = new InMemoryEventStore();
    const first = await runCommand(registerImportCommand, store, ['import', path]);
    expect(first.exitCode).toBe(ExitCode.ok);
    expect(first.stdout).toMatch(/3 lines, 3 accepted, 0 already imported, 0 rejected/);
    expect(store.log).toHaveLength(3);
    const again = await runCommand(registerImportCommand, store, ['import', path]);
    expect(again.stdout).toMatch(/3 lines, 0 accepted, 3 already imported, 0 rejected/);
    expect(again.exitCode).toBe(ExitCode.ok);
    expect(store.log).toHaveLength(3);
  });

  it('reports every rejected line by number on stderr and exits 1', async () => {
    const path = file(
      'bad.ndjson',
      [
        JSON.stringify(lines[0]),
        '{"op":"grant"',
        JSON.stringify({
          op: 'revoke',
          deviceId: 'cam-1',
          userId: 'zed',
          actor: 'alice',
          occurredAt: '2024-02-16T09:03:00Z',
        }),
        JSON.stringify({ ...lines[2], action: 'liked' }),
      ].join('\n'),
    );
    const run = await runCommand(registerImportCommand, new InMemoryEventStore(), [
      'import',
      path,
      '--import-id',
      'test-1',
    ]);
    expect(run.exitCode).toBe(ExitCode.findings);
    expect(run.stderr.trim().split('\n').sort()).toEqual([
      expect.stringMatching(/^line 2: JSON is malformed/),
      'line 3: user zed has no active access to device cam-1 to revoke',
      'line 4: action must be one of delivered, opened, played',
    ]);
    expect(run.stdout).toMatch(/4 lines, 1 accepted, 0 already imported, 3 rejected \(import id test-1\)/);
  });

  it('treats an unreadable file as a usage error (exit 2)', async () => {
    await expect(
      runCommand(registerImportCommand, new InMemoryEventStore(), ['import', join(dir, 'nope.ndjson')]),
    ).rejects.toBeInstanceOf(UsageError);
  });
});
