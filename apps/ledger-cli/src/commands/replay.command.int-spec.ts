import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..', '..', '..');

/** The real program on the TypeScript sources, on a fresh data dir: exit codes as a shell sees them. */
function ledger(
  dataDir: string,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts', ...args],
    {
      cwd: root,
      env: { ...process.env, LEDGER_DATA_DIR: dataDir, CI: 'true' },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('ledger import and replay, end to end on the embedded store', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ledger-cli-e2e-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('imports, replays to every format, and exits 0 / 1 / 2 as §7 says', () => {
    const data = join(dir, 'data');
    const lines = [
      {
        op: 'register',
        deviceId: 'cam-1',
        ownerId: 'alice',
        actor: 'svc:p',
        occurredAt: '2024-02-16T09:00:00Z',
      },
      {
        op: 'register',
        deviceId: 'cam-2',
        ownerId: 'bob',
        actor: 'svc:p',
        occurredAt: '2024-02-16T09:00:00Z',
      },
      { op: 'grant', deviceId: 'cam-1', userId: 'carol', actor: 'alice', occurredAt: '2024-02-16T09:01:00Z' },
      {
        op: 'view',
        viewerId: 'carol',
        deviceId: 'cam-1',
        mediaId: 'm1',
        mediaType: 'thumbnail',
        action: 'opened',
        occurredAt: '2024-02-16T09:41:00Z',
      },
      {
        op: 'view',
        viewerId: 'mallory',
        deviceId: 'cam-2',
        mediaId: 'm2',
        mediaType: 'event_video',
        action: 'played',
        occurredAt: '2024-02-16T09:42:00Z',
      },
    ];
    const clean = join(dir, 'clean.ndjson');
    writeFileSync(clean, lines.map((l) => JSON.stringify(l)).join('\n'));

    const imported = ledger(data, 'import', clean);
    expect(imported.stderr).toBe('');
    expect(imported.status).toBe(0);
    expect(imported.stdout).toContain('5 lines, 5 accepted, 0 already imported, 0 rejected');
    expect(ledger(data, 'import', clean).stdout).toContain('0 accepted, 5 already imported');

    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, `${JSON.stringify(lines[0])}\n{"op":"view"}\n`);
    const rejected = ledger(data, 'import', bad);
    expect(rejected.status).toBe(1);
    expect(rejected.stderr).toContain('line 1: device cam-1 is already registered');
    expect(rejected.stderr).toContain('line 2: viewerId is required');

    expect(ledger(data, 'import', join(dir, 'missing.ndjson')).status).toBe(2);

    const html = join(dir, 'report.html');
    const replayed = ledger(
      data,
      'replay',
      '--from',
      '2024-02-16T09:30:00Z',
      '--to',
      '2024-02-16T10:00:00Z',
      '--out',
      html,
    );
    expect(replayed.status).toBe(1);
    expect(readFileSync(html, 'utf8')).toContain(
      '1 user received media from a camera that was not theirs; 1 of them opened it; 1 played video; 1 owner affected.',
    );

    const json = ledger(data, 'replay', '--viewer', 'carol');
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout).summary).toMatchObject({ viewsExamined: 1, exposures: 0 });

    expect(ledger(data, 'replay', '--format', 'csv').stdout.split('\n')[1]).toMatch(
      /,mallory,cam-2,bob,m2,event_video,played,never_granted$/,
    );
    const usage = ledger(data, 'replay', '--from', 'yesterday');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('from must be an RFC 3339 time');
    expect(ledger(data, 'replay', '--format', 'pdf').status).toBe(2);
  });
});
